"""The query engine: per-namespace and per-pod aggregates of a catalogue metric over a window.

Every statement is built from whitelisted identifiers (``kubemon.timeseries.schema``); every
value (namespaces, time bounds, limits) travels as a bound parameter.

``aggregate()`` runs in steps, each its own function:

1. **plan** (``metrics.planner``, no I/O, after one look at the rollup's newest hour): the
   window's whole settled hours go to the ``hourly`` rollup, the ragged edges to raw data;
2. **the day cache** (``metrics.daycache``): whole finished days of the rollup part it already
   holds are taken from Redis;
3. **chunking** (``metrics.planner``): the other days are read in chunks grouped by day, raw
   spans cut into pieces InfluxDB reads in parallel; a daily tier's piece (whole final days) is
   read in one statement and kept whole in the day cache, keyed by its days' generations;
   ``aggregate_many`` asks about several metrics at once: one plan per measurement, and the
   metrics' reads of the same piece in one statement (``metrics.batch``);
4. **re-bucketing**: each result row is added to its group's ``Partial`` (and, for days read by
   day, to the day's entry that goes back into the cache); a raw span whose samples lack kubemon's
   resource-time (another writer's, such as Telegraf's) is read again per series, and their
   resource-time derived from the samples' spacing is added (``add_foreign``);
   the window's edges (``metrics.edges``) are read from raw data, but for the end edge of a
   window whose end the running sums show nothing after (``metrics.openedge.nothing_after``);
5. **finishing**: the metric's kind (``metrics.kinds``) turns each group's sums into an
   ``Aggregate`` in the metric's unit.

The rollup stores, per series and hour, the sums, integrals, maxima and sample counts that the
raw aggregation computes, so the answer is the same either way (up to float rounding).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from kubemon.redis import get_redis
from kubemon.timeseries import get_store
from kubemon.timeseries.heads import heads_since
from kubemon.timeseries.hours import HOUR
from kubemon.timeseries.schema import (
    CONTAINER,
    DAILY_POLICIES,
    HOURLY_POLICY,
    NAMESPACE_POLICY,
    RAW_POLICY,
    ROLLUP_POLICIES,
    SPACING_CAP_SECONDS,
    field_identifier,
    rollup_marker,
    source_identifier,
)
from kubemon.timeseries.tiers import NAMESPACE_MEASUREMENTS, namespace_tier_since, pod_tier_span
from metrics import batch, daycache, edges, openedge, planner
from metrics.catalogue import LEGACY_TAGS
from metrics.kinds import foreign_statements
from metrics.raw import from_ns, raw_rows
from metrics.results import Aggregate, Partial
from metrics.selection import Selection
from metrics.window import Window, format_time, to_ns

log = logging.getLogger(__name__)

MODES = ("pod-by-namespace", "all-namespace", "all-pod")
GROUP_TAGS = {
    "pod-by-namespace": ("namespace", "pod_name"),
    "all-namespace": ("namespace",),
    "all-pod": ("namespace", "pod_name"),
}

__all__ = ["GROUP_TAGS", "MODES", "Aggregate", "Selection", "aggregate", "aggregate_many", "aggregate_rows", "plan",
           "raw_rows", "usage_by_namespace", "usage_by_pod"]


# --- 1. planning ---


def settled_until(now):
    """Hours that ended before this have been rolled up at least once (the rollup runs every 5 min)."""
    return now - timedelta(seconds=settings.API_ROLLUP_SETTLE_SECONDS)


def rollup_watermark(store, metric, whole, selection=None):
    """The end of the newest hour the rollup holds inside ``whole``, or None.

    ``selection``: a list of namespaces (a tenant's) looks at their series only, which costs a
    few series' cursors instead of every one's; their newest hour is no later than everyone's, so
    at worst more of the window is read raw (where they have no newer samples either)."""
    m = metric.measurement
    params = {}
    where = "time >= $b AND time < $e"
    if selection is not None and selection.namespaces is not None:
        where = f"{selection.where(m, params)} AND {where}"
    statement = (
        f"SELECT last({field_identifier(m, rollup_marker(m))}) FROM {source_identifier(m, HOURLY_POLICY)} "  # noqa: S608
        f"WHERE {where}"
    )
    # The last day of the span usually holds the answer and costs a thirtieth of a month's scan.
    for begin in dict.fromkeys((max(whole.begin, whole.end - timedelta(days=1)), whole.begin)):
        series = store.query(statement, params={**params, "b": to_ns(begin), "e": to_ns(whole.end)}, epoch="ns")
        if series:
            newest = series[0]["values"][0][0]
            return datetime.fromtimestamp(newest // 1_000_000_000, UTC) + HOUR
    if m in NAMESPACE_MEASUREMENTS:
        # Past the pod detail (INFLUXDB_HOURLY_RETENTION) the namespace tier still holds the hours
        # (written in the same run as the hourly rollup, never ahead of it): per-namespace questions
        # read them from it, per-pod ones find what remains.
        tier = statement.replace(source_identifier(m, HOURLY_POLICY), source_identifier(m, NAMESPACE_POLICY))
        series = store.query(tier, params={**params, "b": to_ns(whole.begin), "e": to_ns(whole.end)}, epoch="ns")
        if series:
            return datetime.fromtimestamp(series[0]["values"][0][0] // 1_000_000_000, UTC) + HOUR
    return None


def late_hours(store):
    """Hours the rollup has yet to sum again (``kubemon/timeseries/backlog.py``)."""
    if store.backlog is None:
        return []
    try:
        return store.backlog.pending()
    except Exception as exc:  # noqa: BLE001  (Redis down: the rollup task cannot re-roll either)
        log.warning("rollup backlog unavailable, reading the rollup as it is: %s", exc)
        return []


def plan(metric, window, store, use_rollup=True, now=None, group_tags=()):
    """``[(policy, window), ...]`` covering ``window`` exactly once (three look-ups, then pure)."""
    return plan_with_heads(metric, window, store, use_rollup, now, group_tags)[0]


def plan_with_heads(metric, window, store, use_rollup=True, now=None, group_tags=(), selection=None):
    """``(pieces, heads)``: ``plan``'s pieces, and the window's edges that the heads of their
    hour's rollup point answer (``{sign: policy}``, ``planner.head_edges``)."""
    settled = settled_until(now or datetime.now(UTC))
    whole = planner.rollup_candidate(metric, window, settled, use_rollup)
    if whole is None:
        return [(RAW_POLICY, window)], {}
    # An hour more: an end edge on a whole hour is answered by the next hour's rollup point.
    watermark = rollup_watermark(store, metric, Window(whole.begin, whole.end + HOUR), selection)
    late = late_hours(store) if watermark else ()
    pieces = planner.pieces(window, settled, watermark, late)
    final = daycache.final_before(now or datetime.now(UTC))
    redis = get_redis()
    namespace_since = None
    if metric.measurement in NAMESPACE_MEASUREMENTS and tuple(group_tags) == ("namespace",):
        namespace_since = namespace_tier_since(redis)
        pieces = planner.namespace_tier(pieces, namespace_since, final)
    elif metric.measurement in NAMESPACE_MEASUREMENTS and tuple(group_tags) == ("namespace", "pod_name"):
        pieces = planner.pod_days(pieces, pod_tier_span(redis), final)
    heads = planner.head_edges(window, pieces, heads_since(redis) if watermark else None, settled, watermark, late,
                               namespace_since)
    return pieces, heads


# --- 2. and 3. the day cache, then chunking ---


@dataclass
class Cached:
    """What the day cache holds of a metric's reads, and what goes back into it after them."""

    partials: dict  # {group key: Partial} of the cached days and spans
    days: list  # days read by day, whose results go back into the cache
    generations: dict  # the rollup generations of the days the cache was asked for
    spans: dict  # {read index: entry key}: reads of final spans whose answer goes back whole


def reads_and_cached(metric, pieces, group_tags, selection, now):
    """``(reads, Cached)``: the statements to run, and what the day cache already holds."""
    reads, cached = [], Cached({}, [], {}, {})
    partials = cached.partials
    final = daycache.final_before(now)

    def from_span_cache(policy, span):
        """Whether the final span's answer came from the cache; if not, its read is noted for it."""
        key = daycache.span_key(metric, group_tags, selection, policy, span, planner.days_of(span))
        found = daycache.get_span(key) if key else None
        if found is not None:
            for group, values in found.items():
                partials.setdefault(group, Partial()).add_values(values)
            return True
        if key:
            cached.spans[len(reads)] = key
        return False

    for policy, part in pieces:
        spans = [part]
        if policy in DAILY_POLICIES and daycache.enabled():
            # A daily tier's piece is whole final days: cached as one entry.
            if from_span_cache(policy, part):
                continue
        elif policy in ROLLUP_POLICIES and daycache.enabled():
            days, spans = planner.whole_days(part, final)
            lookup = daycache.get(metric, group_tags, selection, days)
            cached.generations.update(lookup.generations)
            for groups in lookup.found.values():
                for key, values in groups.items():
                    partials.setdefault(key, Partial()).add_values(values)
            missing = [day for day in days if day not in lookup.found]
            cached.days += missing
            reads += [planner.Read(policy, span, by_day=True) for span in planner.day_chunks(missing)]
            # The ragged hours of a final day (a window's first or last day) are kept whole too.
            for span in spans:
                if not (span.end <= final and from_span_cache(policy, span)):
                    reads.append(planner.Read(policy, span))
            continue
        if policy in ROLLUP_POLICIES:
            reads += [planner.Read(policy, span) for span in spans]
        elif policy == RAW_POLICY:
            reads += planner.raw_reads(metric, spans, settings.API_QUERY_PARALLELISM)
    return reads, cached


def put_spans(cached, results, group_tags):
    """Store the answers of the final spans' reads the cache lacked, one entry per span."""
    for index, key in cached.spans.items():
        groups = {}
        for series in results[index]:
            tags = series.get("tags") or {}
            part = groups.setdefault(tuple(tags.get(t, "") for t in group_tags), Partial())
            part.add(dict(zip(series["columns"], series["values"][0], strict=True)))
        daycache.put_span(key, {group: part.values() for group, part in groups.items()})


def run_reads(store, jobs, group_tags, selection, window, now, skip_end=False, heads=None):
    """``(results, edge results)``: per job (``[(metric, reads)]``), one list of series per read,
    and ``[(measurement, sign, series list)]`` of the window's edges (``metrics.edges``), all sent
    side by side (``API_QUERY_PARALLELISM``) so the edges cost no extra round trip. The jobs'
    reads of one piece share a statement where their kinds allow it (``metrics.batch``); an edge
    whose samples are final is kept in the day cache (``now`` None: not)."""
    params = {}
    statements, members = batch.plan_statements(jobs, group_tags, selection, params)
    edge = edges.statements([metric for metric, _ in jobs], window, group_tags, selection, params, skip_end, heads)
    found, keys = _cached_edges(edge, params, window, now)
    missing = [n for n in range(len(edge)) if n not in found]
    results = store.query_many(statements + [edge[n][2] for n in missing], params=params, epoch="ns",
                               parallel=settings.API_QUERY_PARALLELISM)
    for n, series_list in zip(missing, results[len(statements):], strict=True):
        found[n] = series_list
        if n in keys:
            daycache.put_entry(keys[n], series_list)
    edge_results = [(m, sign, found[n]) for n, (m, sign, _) in enumerate(edge)]
    return batch.split(jobs, members, results[: len(statements)]), edge_results


def _cached_edges(edge, params, window, now):
    """``(found, keys)``: the edge results the day cache holds, and the entry keys of the other
    edges whose samples are final (their raw data can only change by late data, which changes
    their days' generations)."""
    found, keys = {}, {}
    if now is None or not daycache.enabled():
        return found, keys
    final, span, oldest = daycache.final_before(now), edges.reach(), daycache.oldest_raw_kept(now)
    for n, (_, sign, statement) in enumerate(edge):
        at = window.begin if sign < 0 else window.end
        if at + span > final or (oldest is not None and at < oldest):
            continue
        key = daycache.edge_key(statement, params, planner.days_of(Window(at, at + span)))
        value = daycache.get_entry(key) if key else None
        if value is not None:
            found[n] = value
        elif key:
            keys[n] = key
    return found, keys


# --- 4. re-bucketing ---


def rebucket(reads, results, group_tags, partials, cache_days):
    """Add every result row to its group's ``Partial``; returns ``{day: {group: values}}`` of the
    ``cache_days`` for the day cache."""
    missing = set(cache_days)
    per_day = {day: {} for day in cache_days}
    for read, series_list in zip(reads, results, strict=True):
        for series in series_list:
            tags = series.get("tags") or {}
            key = tuple(tags.get(t, "") for t in group_tags)
            for values in series["values"] if read.by_day else series["values"][:1]:
                row = dict(zip(series["columns"], values, strict=True))
                if read.by_day:
                    day = from_ns(row["time"])
                    if day not in missing:
                        continue  # inside the span but already taken from the cache
                    day_part = Partial()
                    day_part.add(row)
                    per_day[day][key] = day_part.values()
                partials.setdefault(key, Partial()).add(row)
    return per_day


def _lacks_resource_time(series_list):
    """Whether a raw read's rows count samples without kubemon's resource-time (``k`` < ``n``)."""
    for series in series_list:
        row = dict(zip(series["columns"], series["values"][0], strict=True))
        if "k" in row and (row["k"] or 0) < (row.get("n") or 0):
            return True
    return False


def foreign_reads(metric, reads, results, selection, params):
    """``[(read, [(label, statement), ...]), ...]``: the statements of the raw reads that need them."""
    m, planned = metric.measurement, []
    for key, (read, series_list) in enumerate(zip(reads, results, strict=True)):
        if read.policy != RAW_POLICY or not _lacks_resource_time(series_list):
            continue
        begin, end = to_ns(read.window.begin), to_ns(read.window.end)
        params.update({f"b{key}": begin, f"e{key}": end, f"l{key}": begin - SPACING_CAP_SECONDS * 10**9})
        tags = selection.where(m, params)
        span, lead = f"time >= $b{key} AND time < $e{key}", f"time >= $l{key} AND time < $e{key}"
        planned.append((read, foreign_statements(metric, source_identifier(m, RAW_POLICY), tags, span, lead,
                                                 begin, end)))
    return planned


def add_foreign(store, metric, reads, results, group_tags, selection, partials):
    """Add to ``partials`` the resource-time of raw samples that lack kubemon's, from their spacing.

    Only raw reads whose rows count fewer such samples than samples are read again, per series:
    a series without any of kubemon's adds its spacing (or counter) resource-time, a series that
    mixes both kinds adds its unknown samples to ``u`` (its group's integral becomes None).
    """
    params = {}
    planned = foreign_reads(metric, reads, results, selection, params)
    if not planned:
        return
    statements = [statement for _, labelled in planned for _, statement in labelled]
    answers = iter(store.query_many(statements, params=params, epoch="ns", parallel=settings.API_QUERY_PARALLELISM))
    terms = metric.strategy.terms(metric)
    for read, labelled in planned:
        found = {label: {_series_key(s): s for s in next(answers)} for label, _ in labelled}
        begin = to_ns(read.window.begin)
        for key, series in found["counts"].items():
            row = dict(zip(series["columns"], series["values"][0], strict=True))
            n, k = row["n"] or 0, row["k"] or 0
            if k >= n:
                continue
            part = partials.setdefault(tuple(dict(key).get(t, "") for t in group_tags), Partial())
            if k:
                part.u += n - k
                continue
            for j, term in enumerate(terms):
                kind = "counter" if term.counter and row.get(f"c{j}") else "gauge"
                spent = _bucket_value(found[(kind, j)].get(key), begin)
                setattr(part, term.column, getattr(part, term.column) + spent * term.factor)


def _series_key(series):
    return tuple(sorted((series.get("tags") or {}).items()))


def _bucket_value(series, begin):
    """``t`` of the bucket starting at ``begin`` (ns); 0 when the series has none there."""
    for values in (series or {}).get("values", ()):
        row = dict(zip(series["columns"], values, strict=True))
        if row["time"] == begin:
            return row["t"] or 0.0
    return 0.0


# --- the entry points ---


def aggregate(metric, window, group_tags, selection, store=None, use_rollup=True, now=None):
    """``{group key tuple: Aggregate}`` for ``metric`` over ``window``, grouped by ``group_tags``."""
    return aggregate_many([metric], window, group_tags, selection, store, use_rollup, now)[0]


def aggregate_many(metrics, window, group_tags, selection, store=None, use_rollup=True, now=None):
    """``[{group key tuple: Aggregate}]``: ``aggregate`` of each of ``metrics``, with the same
    answers, planned once per measurement and read with shared statements (``metrics.batch``)."""
    if selection.empty:
        return [{} for _ in metrics]
    store = store or get_store()
    now = now or datetime.now(UTC)
    planned, jobs, states, heads = {}, [], [], {}
    for metric in metrics:
        # The plan and the open hours depend on the metric only through these.
        shape = (metric.measurement, bool(metric.rollup), openedge.usable(metric, group_tags))
        if shape not in planned:
            pieces, found = plan_with_heads(metric, window, store, use_rollup, now, group_tags, selection)
            if metric.rollup:  # (a kind read raw, such as a counter, has no edges to share out)
                heads[metric.measurement] = found
            planned[shape] = openedge.open_pieces(metric, pieces, group_tags) if use_rollup else (pieces, {})
        pieces, open_docs = planned[shape]
        reads, cached = reads_and_cached(metric, pieces, group_tags, selection, now)
        openedge.add_partials(metric, open_docs, group_tags, selection, cached.partials)
        jobs.append((metric, reads))
        states.append(cached)
    # Docs of the container measurement's open hours, whichever shape read them.
    docs = {hour: doc for (m, _, _), (_, found) in planned.items() if m == CONTAINER for hour, doc in found.items()}
    skip_end = openedge.nothing_after(window.end, docs, edges.reach())
    # Raw data alone (``use_rollup`` False) is the reference answer: no cache serves it.
    results, edge_results = run_reads(store, jobs, group_tags, selection, window, now if use_rollup else None,
                                      skip_end, heads)
    answers = []
    for (metric, reads), found, cached in zip(jobs, results, states, strict=True):
        partials = cached.partials
        put_spans(cached, found, group_tags)
        per_day = rebucket(reads, found, group_tags, partials, cached.days)
        add_foreign(store, metric, reads, found, group_tags, selection, partials)
        daycache.put(metric, group_tags, selection, per_day, cached.generations)
        for key, columns in edges.deltas(metric, window, group_tags, edge_results).items():
            part = partials.get(key)
            if part is not None:
                for column, value in columns.items():
                    setattr(part, column, getattr(part, column) + value)
        kind = metric.strategy
        answers.append({key: kind.finish(metric, part, window) for key, part in partials.items() if not part.empty})
    return answers


def usage_by_namespace(metric, window, scope, exclude=(), store=None, use_rollup=True):
    """``{namespace: Aggregate}`` of every namespace ``scope`` sees (the billing and dashboard entry point)."""
    selection = Selection.for_scope(scope, exclude)
    result = aggregate(metric, window, ("namespace",), selection, store=store, use_rollup=use_rollup)
    return {key[0]: value for key, value in result.items()}


def usage_by_pod(metric, window, scope, namespace=None, exclude=(), store=None, use_rollup=True):
    """``{(namespace, pod): Aggregate}``; one namespace when given (the caller checks the scope)."""
    selection = Selection.one(namespace) if namespace else Selection.for_scope(scope, exclude)
    return aggregate(metric, window, ("namespace", "pod_name"), selection, store=store, use_rollup=use_rollup)


def aggregate_rows(metric, window, mode, selection, store=None, use_rollup=True):
    """The legacy flat rows of an ``agg`` mode, with our extra keys, sorted by namespace and pod."""
    group_tags = GROUP_TAGS[mode]
    result = aggregate(metric, window, group_tags, selection, store=store, use_rollup=use_rollup)
    begin = format_time(window.begin)
    rows = []
    for key in sorted(result):
        a = result[key]
        row = {"time": begin, "sum": a.sum}
        row.update({LEGACY_TAGS[t]: v for t, v in zip(group_tags, key, strict=True)})
        row.update(integral=a.integral, mean=a.mean, max=a.max, samples=a.samples, unit=metric.unit)
        if a.note:
            row["integral_note"] = a.note
        rows.append(row)
    return rows
