"""Allocation per controller (``aggregate=controller``), past the pod detail too.

A pod's controller is in the raw ``kubernetes_pod`` points only (``metrics.owners``), kept for the
raw retention; the hourly rollup and the pod tier (pod detail) are kept ``INFLUXDB_HOURLY_RETENTION``
(90 days by default). The controller tier (``controller_hourly`` and ``controller_daily``, kept
``INFLUXDB_CONTROLLER_RETENTION``, years) holds the hourly rollup summed per namespace and controller,
each pod's controller taken from its raw owner fields when its hour was rolled
(``collectors.rollup.roll_controllers``). So ``allocate_controllers`` answers a window from:

- the controller tier for its whole hours from ``CONTROLLER_TIER_SINCE`` (the tier is whole from
  there) up to the hours the rollup no longer rewrites (``ROLLUP_HORIZON``) and the tier
  has reached, but for hours waiting to be re-rolled with late data (the rollup backlog);
  whole UTC days of it from the daily tier. The samples straddling those spans' edges are shared
  out from raw data per pod (``metrics.edges``), as the engine does at a window's edges;
- the pod detail for the rest: ``metrics.allocation.allocate`` per pod, each pod put under the
  controller ``metrics.owners.pod_index`` finds for it in the window.

Where both exist the two give the same numbers (tests/metrics/test_controller_tier.py). GPUs: the
tier keeps the GPU model of the exporters' samples, so a controller's GPU-seconds are shared by
its own models' sample counts (from pod detail: each pod's by its own models, so the two differ
only for a controller whose pods ran on different models); a controller whose pods no exporter
named goes to ``UNKNOWN_MODEL`` (pod detail would try the pod's node's models first).
"""

from datetime import UTC, datetime, timedelta

from kubemon.redis import get_redis
from kubemon.timeseries import get_store
from kubemon.timeseries.hours import DAY, HOUR, ROLLUP_HORIZON, ceil_hour, floor_day, floor_hour
from kubemon.timeseries.schema import (
    CONTAINER,
    CONTROLLER_DAILY_POLICY,
    CONTROLLER_POLICY,
    CONTROLLER_TAGS,
    controller_tag_identifier,
    field_identifier,
    source_identifier,
)
from kubemon.timeseries.tiers import controller_tier_since, node_tier_since, pod_detail_seconds
from metrics import batch, edges, engine, planner
from metrics.owners import pod_index
from metrics.results import Partial
from metrics.window import Window, to_ns

GROUP_TAGS = CONTROLLER_TAGS
# As the rollup looks a pod's owner up (collectors.rollup.OWNER_LOOKBACK/OWNER_LOOKAHEAD).
OWNER_LOOKBACK = DAY
OWNER_LOOKAHEAD = HOUR


def tier_spans(window, since, until, late=()):
    """The hour-aligned spans of ``window`` read from the controller tier: whole hours from
    ``since`` (None: none) to ``until``, without the ``late`` hours (read from pod detail)."""
    if since is None or until is None:
        return []
    begin, end = max(ceil_hour(window.begin), since), min(floor_hour(window.end), until)
    spans, cursor = [], begin
    for hour in sorted(h for h in set(late) if begin <= h < end):
        if cursor < hour:
            spans.append(Window(cursor, hour))
        cursor = max(cursor, hour + HOUR)
    if cursor < end:
        spans.append(Window(cursor, end))
    return spans


def pod_pieces(window, spans):
    """The parts of ``window`` outside ``spans`` (sorted, disjoint): read from pod detail."""
    pieces, cursor = [], window.begin
    for span in spans:
        if cursor < span.begin:
            pieces.append(Window(cursor, span.begin))
        cursor = span.end
    if cursor < window.end:
        pieces.append(Window(cursor, window.end))
    return pieces


def plan(window, store, now):
    """``(tier spans, pod-detail pieces)`` of ``window``."""
    since = controller_tier_since(get_redis())
    until = floor_hour(now - ROLLUP_HORIZON)
    first = tier_spans(window, since, until)
    if first:
        watermark = _watermark(store, Window(first[0].begin, first[-1].end))
        until = min(until, watermark) if watermark is not None else None
    spans = tier_spans(window, since, until, engine.late_hours(store) if first else ())
    return spans, pod_pieces(window, spans)


def detail_since(now):
    """From when the pod detail (the hourly rollup, ``INFLUXDB_HOURLY_RETENTION``) is surely whole,
    or None (kept for ever). InfluxDB drops a week's shard at a time, so older hours may be gone."""
    seconds = pod_detail_seconds()
    return ceil_hour(now - timedelta(seconds=seconds)) if seconds else None


def node_tier_days(window, now):
    """The whole UTC days of ``window`` older than the pod detail that the node tier
    (``node_daily``) holds, as a Window, or None: idle capacity past the hourly rollup."""
    boundary, since = detail_since(now), node_tier_since(get_redis())
    if boundary is None or since is None:
        return None
    first = floor_day(window.begin)
    begin = max(first if first == window.begin else first + DAY, floor_day(since))
    end = min(floor_day(window.end), floor_day(boundary))
    return Window(begin, end) if begin < end else None


def past_detail(window, store, now):
    """``(tier spans, pod-detail pieces)`` for a question that needs pods: the controller tier's
    whole spans of the part of ``window`` older than the pod detail, and the rest of ``window``."""
    boundary = detail_since(now)
    if boundary is None or window.begin >= boundary:
        return [], [window]
    old = Window(window.begin, min(window.end, boundary))
    spans = tier_spans(old, controller_tier_since(get_redis()), old.end)
    if spans:
        watermark = _watermark(store, Window(spans[0].begin, spans[-1].end))
        spans = tier_spans(old, spans[0].begin, min(old.end, watermark)) if watermark is not None else []
    return spans, pod_pieces(window, spans)


def _watermark(store, whole):
    """The end of the newest hour the controller tier holds inside ``whole``, or None (the twin of
    ``metrics.engine.rollup_watermark``, on the tier: it outlives the hourly rollup)."""
    statement = (f"SELECT last({field_identifier(CONTAINER, 'interval_seconds')}) "  # noqa: S608  (whitelisted)
                 f"FROM {source_identifier(CONTAINER, CONTROLLER_POLICY)} WHERE time >= $b AND time < $e")
    series = store.query(statement, params={"b": to_ns(whole.begin), "e": to_ns(whole.end)}, epoch="ns")
    if not series:
        return None
    return datetime.fromtimestamp(series[0]["values"][0][0] // 1_000_000_000, UTC) + HOUR


def _reads(span):
    days, rest = planner.whole_days(span, span.end)
    reads = [planner.Read(CONTROLLER_DAILY_POLICY, Window(days[0], days[-1] + DAY))] if days else []
    return reads + [planner.Read(CONTROLLER_POLICY, part) for part in rest]


def _owner_key(owners, key, extra):
    """A pod's group key ``(namespace, pod, *extra)`` as its controller's ``(namespace, kind, name, *extra)``."""
    owner = owners.get(key[:2]) or {}
    return (key[0], owner.get("controllerKind", ""), owner.get("controller", ""), *key[2:2 + extra])


def tier_aggregates(metrics, window, spans, selection, store=None, extra=()):
    """Per metric, ``{(namespace, kind, controller, *extra): [integral, sum, samples]}`` over the
    tier ``spans`` of ``window``, with the samples straddling the spans' edges shared out."""
    store = store or get_store()
    tags, pod_tags = (*GROUP_TAGS, *extra), ("namespace", "pod_name", *extra)
    out = [{} for _ in metrics]
    for span in spans:
        params, statements, reads = {}, [], _reads(span)
        for metric in metrics:
            group = ", ".join(controller_tag_identifier(metric.measurement, t) for t in tags)
            for read in reads:
                where, _ = batch.where_and_group(metric, read, ("namespace",), selection, params, len(statements))
                source = source_identifier(metric.measurement, read.policy)
                statements.append(metric.strategy.statement(metric, read.policy, source, where, group))
        edge = edges.statements(metrics, span, pod_tags, selection, params)
        results = store.query_many(statements + [s for _, _, s in edge], params=params, epoch="ns")
        edge_results = [(m, sign, found) for (m, sign, _), found in zip(edge, results[len(statements):], strict=True)]
        owners = None
        for n, metric in enumerate(metrics):
            partials = {}
            engine.rebucket(reads, results[n * len(reads):(n + 1) * len(reads)], tags, partials, [])
            for sign in (-1, 1):
                inner = span.begin > window.begin if sign < 0 else span.end < window.end
                found = [e for e in edge_results if e[1] == sign]
                for key, columns in edges.deltas(metric, span, pod_tags, found).items():
                    if owners is None:
                        owners = pod_index(Window(span.begin - OWNER_LOOKBACK, span.end + OWNER_LOOKAHEAD),
                                           selection, store=store)
                    group = _owner_key(owners, key, len(extra))
                    # At the window's own edges, as the engine: only groups with samples in it.
                    part = partials.setdefault(group, Partial()) if inner else partials.get(group)
                    for column, value in (columns.items() if part is not None else ()):
                        setattr(part, column, getattr(part, column) + value)
            for group, part in partials.items():
                aggregate = metric.strategy.finish(metric, part, span)
                total = out[n].setdefault(group, [0.0, 0.0, 0])
                total[0] += aggregate.integral or 0.0
                total[1] += aggregate.sum or 0.0
                total[2] += aggregate.samples or 0
    return out
