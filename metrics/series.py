"""Time series for charts: a node's CPU, memory, temperature and GPUs, and any catalogue metric.

A chart never needs more points than it has pixels, so a series is read ``GROUP BY time(step)``
with a step chosen from ``STEPS`` such that the window holds at most ``MAX_POINTS`` buckets
(the "pixels-fit resolution"). Steps that are whole hours are read, where the hours are
settled, from the hourly rollup (and, for totals of namespaces, from the namespace tiers), the
rest from raw data: every bucket is the same set of sums whichever tier it came from, so a
month costs 720 rollup points a series instead of 170,000 raw samples.

Each line of a chart is one ``Reading``: how its buckets are computed (``mode``), from which
field, and which tag splits it into several lines (one per GPU, one per sensor). Only modes
whose columns add up (sums and counts) may mix tiers inside a bucket; the others read raw data.

- ``sample_mean``: the mean of the samples in the bucket, ``sum / count`` (the rollup keeps
  ``<field>_sum`` and ``<field>_samples``): node CPU and memory, GPU utilisation, node
  temperatures per sensor (``SAMPLED_FIELDS``: a 90-day chart reads the hours past the raw
  retention from the rollup).
- ``time_mean``: resource-time in the bucket over its length (``<field>_integral`` or
  ``cpu_core_seconds``): a namespace's average millicores or bytes over the bucket.
- ``sum_of_means``: the per-series means of the bucket, added up (gauges without resource-time,
  such as filesystem capacity): raw data only.
- ``increment``: the sum of per-sample increments (``cpu/usage``, coverage seconds).
- ``increase`` and ``rate``: the increase of cumulative counters in the bucket, and that over
  the bucket's length (network bytes/s): raw data only (a difference needs the samples).
- ``ratio``: ``sum(mean(field)) / sum(mean(other))`` over the nodes (node utilisation).

Statements use whitelisted identifiers only (``kubemon.timeseries.schema``); the step is an
integer this module chose; every value (node, namespaces, times) is a bound parameter.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from kubemon.redis import get_redis
from kubemon.timeseries import get_store
from kubemon.timeseries.schema import (
    CONTAINER,
    GPU,
    INTEGRAL_FIELDS,
    NODE,
    RAW_POLICY,
    SAMPLED_FIELDS,
    SUMMED_FIELDS,
    TEMPERATURE,
    field_identifier,
    quote_identifier,
    source_identifier,
    tag_identifier,
)
from kubemon.timeseries.tiers import NAMESPACE_MEASUREMENTS, namespace_tier_since
from metrics import daycache, engine, planner
from metrics.window import Window, to_ns

MAX_POINTS = 1000
# The usage cycle samples every 15 s: a finer step would only show the gaps between samples.
MIN_STEP = 15
STEPS = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
HOUR_SECONDS = 3600
DAY_SECONDS = 86400
# Units whose values do not add up across series (a namespace's GPUs at 50 % and 70 % are at 60 %).
INTENSIVE_UNITS = frozenset({"percent", "celsius", "fraction"})
LINEAR_MODES = frozenset({"sample_mean", "time_mean", "increment"})


class SeriesError(ValueError):
    """A question this module cannot answer (unknown chart kind)."""


def bucket_span(window, step):
    """``(first bucket start, bucket count)`` of the epoch-aligned ``step``-second buckets touching ``window``."""
    begin = to_ns(window.begin) // 1_000_000_000
    last_ns = to_ns(window.end) - 1
    first = begin // step * step
    last = last_ns // 1_000_000_000 // step * step
    return first, (last - first) // step + 1


def choose_step(window, max_points=MAX_POINTS, min_step=MIN_STEP):
    """The smallest step of ``STEPS`` (at least ``min_step``) that keeps ``window`` within ``max_points`` buckets."""
    for step in STEPS:
        if step >= min_step and bucket_span(window, step)[1] <= max_points:
            return step
    step = STEPS[-1]
    while bucket_span(window, step)[1] > max_points:
        step *= 2
    return step


@dataclass(frozen=True)
class Reading:
    """How one chart's lines are read: ``mode`` (see the module docstring) over ``field``."""

    measurement: str
    mode: str
    field: str
    unit: str
    scale: float = 1.0
    other: str | None = None  # subtracted (time_mean of a difference) or the divisor (ratio)
    split: str | None = None  # a tag whose values are separate lines
    default_line: str = "value"

    @property
    def rollup(self):
        """Whether the hourly rollup keeps the columns this reading sums."""
        if self.mode not in LINEAR_MODES:
            return False
        integrals = INTEGRAL_FIELDS.get(self.measurement, ())
        summed = SUMMED_FIELDS.get(self.measurement, ())
        if self.mode == "sample_mean":
            return self.field in integrals or self.field in SAMPLED_FIELDS.get(self.measurement, ())
        fields = [self.field] + ([self.other] if self.other else [])
        return all(f in summed or (f.endswith("_integral") and f[: -len("_integral")] in integrals) for f in fields)


@dataclass
class Series:
    """Buckets of one chart: ``times`` (epoch seconds of bucket starts, every bucket of the window,
    ``step`` apart) and per line a list of values (None where the bucket has no sample)."""

    step: int
    unit: str
    times: list
    lines: dict = field(default_factory=dict)
    tiers: tuple = ()

    def as_json(self):
        return {"step": self.step, "unit": self.unit, "times": self.times,
                "series": [{"name": name, "values": values} for name, values in sorted(self.lines.items())],
                "tiers": list(self.tiers)}


# --- what each chart reads ---

# A node shown to a tenant: only what the tenant's own pods used on it (a shared node's load and
# temperature would reveal the other tenants' use, ``billing.access.AccessScope.sees_cluster``).
NODE_CHARTS_OF_PODS = {
    "cpu": Reading(CONTAINER, "time_mean", "cpu_core_seconds", "cores", default_line="your pods"),
    "memory": Reading(CONTAINER, "time_mean", "memory_working_set_bytes_integral", "bytes", default_line="your pods"),
    "gpu_utilization": Reading(GPU, "sample_mean", "utilization_percent", "percent", split="gpu"),
    "gpu_memory": Reading(GPU, "sample_mean", "memory_used_bytes", "bytes", split="gpu"),
    "gpu_power": Reading(GPU, "sample_mean", "power_watts", "watts", split="gpu"),
}
NODE_CHARTS = {
    "cpu": Reading(NODE, "sample_mean", "cpu_usage_nanocores", "cores", scale=1e-9, default_line="usage"),
    "memory": Reading(NODE, "sample_mean", "memory_working_set_bytes", "bytes", default_line="working set"),
    "temperature": Reading(TEMPERATURE, "sample_mean", "celsius", "celsius", split="sensor"),
    "gpu_utilization": Reading(GPU, "sample_mean", "utilization_percent", "percent", split="gpu"),
    "gpu_memory": Reading(GPU, "sample_mean", "memory_used_bytes", "bytes", split="gpu"),
    "gpu_power": Reading(GPU, "sample_mean", "power_watts", "watts", split="gpu"),
}


def metric_reading(metric):
    """The ``Reading`` of a catalogue metric's chart: the total of the selected namespaces (or of
    the nodes), or their mean for units that do not add up."""
    m, f, unit, scale = metric.measurement, metric.field, metric.unit, metric.scale
    kind = metric.kind
    if kind == "gauge":
        if unit in INTENSIVE_UNITS:
            return Reading(m, "sample_mean", f, unit, scale)
        if metric.integral_from is not None:
            name, per_unit = metric.integral_from
            return Reading(m, "time_mean", name, unit, per_unit)
        if metric.has_integral:
            return Reading(m, "time_mean", f + "_integral", unit, scale)
        return Reading(m, "sum_of_means", f, unit, scale)
    if kind == "increment":
        return Reading(m, "increment", f, unit, scale)
    if kind == "difference":
        return Reading(m, "time_mean", f + "_integral", unit, scale, other=metric.other + "_integral")
    if kind == "counter":
        return Reading(m, "increase", f, unit, scale)
    if kind == "rate":
        return Reading(m, "rate", f, unit, scale)
    if kind == "ratio":
        return Reading(m, "ratio", f, unit, scale, other=metric.other)
    raise SeriesError(f"no chart for kind {kind!r}")


# --- statements ---


def _columns(reading, policy):
    """``[(alias, expression)]`` one bucket sums; rollup policies name their columns differently."""
    m, f = reading.measurement, reading.field
    hourly = policy != RAW_POLICY
    if reading.mode == "sample_mean":
        if hourly:
            return [("s", f"sum({field_identifier(m, f + '_sum')})"),
                    ("n", f"sum({field_identifier(m, f + '_samples')})")]
        return [("s", f"sum({field_identifier(m, f)})"), ("n", f"count({field_identifier(m, f)})")]
    if reading.mode in ("time_mean", "increment"):
        cols = [("s", f"sum({field_identifier(m, f)})")]
        if reading.other:
            cols.append(("o", f"sum({field_identifier(m, reading.other)})"))
        return cols
    if reading.mode == "sum_of_means":
        return [("s", f"mean({field_identifier(m, f)})")]
    if reading.mode == "ratio":
        return [("s", f"mean({field_identifier(m, f)})"), ("o", f"mean({field_identifier(m, reading.other)})")]
    raise SeriesError(f"no columns for mode {reading.mode!r}")  # pragma: no cover (increase/rate: _statement)


def _statement(reading, policy, tags, step, key):
    """One piece's statement; ``tags``: its tag condition or None; its time bounds are ``$b<key>``/``$e<key>``."""
    m, q = reading.measurement, quote_identifier
    source = source_identifier(m, policy)
    span = f"time >= $b{key} AND time < $e{key}"
    where = f"{tags} AND {span}" if tags else span
    bucket = f"time({int(step)}s)"
    if reading.mode in ("increase", "rate"):
        inner = (f"SELECT non_negative_difference({field_identifier(m, reading.field)}) AS {q('d')} "  # noqa: S608
                 f"FROM {source} WHERE {where} GROUP BY *")
        split = f", {tag_identifier(m, reading.split)}" if reading.split else ""
        return f"SELECT sum({q('d')}) AS {q('s')} FROM ({inner}) WHERE {span} GROUP BY {bucket}{split} fill(none)"  # noqa: S608,E501
    pairs = _columns(reading, policy)
    if reading.mode in ("sum_of_means", "ratio") or _per_series(reading, step):
        group = f"{bucket}, *"
        if _per_series(reading, step):
            pairs.append(("n", f"sum({field_identifier(m, 'interval_seconds')})"))
    elif reading.split:
        group = f"{bucket}, {tag_identifier(m, reading.split)}"
    else:
        group = bucket
    columns = ", ".join(f"{expr} AS {q(alias)}" for alias, expr in pairs)
    return f"SELECT {columns} FROM {source} WHERE {where} GROUP BY {group} fill(none)"  # noqa: S608


def _per_series(reading, step):
    """Whether a ``time_mean`` bucket is the sum of each series' own mean (resource-time over the
    time its samples stand for) rather than the bucket's resource-time over its length.

    Below an hour a bucket holds a handful of samples per series, and a sample that lands on
    either side of a boundary (the kubelet's times drift) would make one bucket twice as high and
    the next empty: dividing by each series' own ``interval_seconds`` is immune to that. Such
    steps are read raw anyway; whole-hour steps hold hundreds of samples per series and keep the
    bucket's length, which the rollup and namespace tiers can answer.
    """
    return reading.mode == "time_mean" and step % HOUR_SECONDS != 0


# --- planning: which tier each part of the window comes from ---


def plan_pieces(reading, window, step, store, namespaces=False, use_rollup=True, now=None):
    """``[(policy, window)]`` covering ``window`` once: whole settled hours from the rollup when the
    step is whole hours, the rest raw. ``namespaces``: the lines are totals of namespaces, which
    the namespace tier holds (its daily tier only for whole-day steps)."""
    now = now or datetime.now(UTC)
    if not (use_rollup and reading.rollup and step % HOUR_SECONDS == 0):
        return [(RAW_POLICY, window)]
    settled = engine.settled_until(now)
    whole, _ = window.split(settled)
    if whole is None:
        return [(RAW_POLICY, window)]
    watermark = engine.rollup_watermark(store, reading, whole)
    pieces = planner.pieces(window, settled, watermark, engine.late_hours(store) if watermark else ())
    if namespaces and reading.measurement in NAMESPACE_MEASUREMENTS and reading.split is None:
        final = daycache.final_before(now) if step % DAY_SECONDS == 0 else None
        pieces = planner.namespace_tier(pieces, namespace_tier_since(get_redis()), final)
    return pieces


# --- reading and finishing ---


def _finish(reading, sums, seconds):
    """A bucket's value from its summed columns; ``seconds``: the bucket's length inside the window."""
    s = sums.get("s")
    if s is None:
        return None
    mode = reading.mode
    if mode == "sample_mean":
        n = sums.get("n") or 0
        return s / n * reading.scale if n else None
    if mode == "time_mean":
        if "r" in sums:  # per series (``_per_series``): the sum of their means
            return sums["r"] * reading.scale
        return (s - sums.get("o", 0.0)) * reading.scale / seconds
    if mode == "rate":
        return s * reading.scale / seconds
    if mode == "ratio":
        o = sums.get("o")
        return s / o * reading.scale if o else None
    return s * reading.scale  # increment, increase, sum_of_means


def _add_series_mean(acc, row):
    """Add one series' mean of a bucket (``_per_series``) to the bucket's ``r``."""
    if row.get("s") is None or not row.get("n"):
        return
    acc["s"] = acc.get("s", 0.0) + row["s"]
    acc["r"] = acc.get("r", 0.0) + (row["s"] - (row.get("o") or 0.0)) / row["n"]


def _covered(start, step, window):
    """The seconds a bucket's samples stand for, the divisor of its resource-time.

    A whole bucket: its step. The window's first and last buckets hold only the samples inside the
    window, each standing for the ``MIN_STEP`` or so before it, so their part inside the window is
    rounded up to whole sample periods: a bucket that ends 3 s after the window began holds a
    sample that stands for 15 s, not 3 (which would show five times the usage).
    """
    begin, end = to_ns(window.begin) / 1e9, to_ns(window.end) / 1e9
    inside = min(start + step, end) - max(start, begin)
    return min(step, math.ceil(inside / MIN_STEP - 1e-9) * MIN_STEP) if inside < step else step


def _line_name(reading, tags):
    if reading.split:
        return tags.get(reading.split) or reading.default_line
    return reading.default_line


def read_series(readings, window, where_for, step=None, store=None, namespaces=False, use_rollup=True, now=None):
    """``{key: Series}`` for ``readings`` (``{key: Reading}``) over ``window``, on one bucket grid.

    ``where_for(reading, params)`` gives each reading's tag condition (None: every series) and
    adds its values to ``params``. Every statement goes to InfluxDB in one batch.
    """
    store = store or get_store()
    step = step or choose_step(window)
    first, count = bucket_span(window, step)
    times = [first + i * step for i in range(count)]
    params, statements, owners = {}, [], []
    for name, reading in readings.items():
        where = where_for(reading, params)
        for policy, part in plan_pieces(reading, window, step, store, namespaces, use_rollup, now):
            key = len(statements)
            params[f"b{key}"], params[f"e{key}"] = to_ns(part.begin), to_ns(part.end)
            statements.append(_statement(reading, policy, where, step, key))
            owners.append((name, policy))
    results = store.query_many(statements, params=params, epoch="s", parallel=settings.API_QUERY_PARALLELISM)
    sums = {name: {} for name in readings}
    tiers = {name: [] for name in readings}
    for (name, policy), series_list in zip(owners, results, strict=True):
        if policy not in tiers[name]:
            tiers[name].append(policy)
        reading = readings[name]
        per_series = _per_series(reading, step)
        for series in series_list:
            line = _line_name(reading, series.get("tags") or {})
            buckets = sums[name].setdefault(line, {})
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                acc = buckets.setdefault(row["time"], {})
                if per_series:
                    _add_series_mean(acc, row)
                    continue
                for column, value in row.items():
                    if column != "time" and value is not None:
                        acc[column] = acc.get(column, 0.0) + value
    spans = [_covered(t, step, window) for t in times]
    out = {}
    for name, reading in readings.items():
        lines = {}
        for line, buckets in sums[name].items():
            lines[line] = [_finish(reading, buckets[t], span) if t in buckets else None
                           for t, span in zip(times, spans, strict=True)]
        out[name] = Series(step, reading.unit, times, lines, tuple(tiers[name]))
    return out


# --- the entry points ---


def _node_where(node, selection):
    def where(reading, params):
        params["node"] = node
        condition = f"{tag_identifier(reading.measurement, 'node_name')} = $node"
        if selection is not None:
            condition += f" AND {selection.where(reading.measurement, params)}"
        return condition
    return where


def node_charts(node, window, kinds=None, selection=None, store=None, use_rollup=True, now=None, step=None):
    """``{kind: Series}`` of one node's charts over ``window``, one grid for all.

    ``selection`` None: the whole node (``NODE_CHARTS``). A ``Selection``: only what the pods of
    its namespaces used on the node (``NODE_CHARTS_OF_PODS``, no temperature): a tenant's view.
    """
    table = NODE_CHARTS if selection is None else NODE_CHARTS_OF_PODS
    kinds = tuple(table) if kinds is None else kinds
    unknown = [kind for kind in kinds if kind not in table]
    if unknown:
        raise SeriesError(f"unknown chart {unknown[0]!r}; one of {', '.join(table)}")
    if selection is not None and selection.empty:
        step = step or choose_step(window)
        first, count = bucket_span(window, step)
        times = [first + i * step for i in range(count)]
        return {kind: Series(step, table[kind].unit, times) for kind in kinds}
    readings = {kind: table[kind] for kind in kinds}
    return read_series(readings, window, _node_where(node, selection), step=step, store=store,
                       use_rollup=use_rollup, now=now)


def node_series(node, kind, start, end, selection=None, store=None, use_rollup=True, now=None):
    """One chart of a node (``cpu``, ``memory``, ``temperature``, ``gpu_utilization``, ``gpu_memory``,
    ``gpu_power``) over ``[start, end)``."""
    return node_charts(node, Window(start, end), (kind,), selection, store=store, use_rollup=use_rollup,
                       now=now)[kind]


def metric_series(metric, window, selection=None, store=None, use_rollup=True, now=None, step=None):
    """A catalogue metric's chart over ``window``: one line, the total (or mean) of the namespaces of
    ``selection`` (a ``metrics.selection.Selection``), or of every node for node-level metrics
    (``selection`` None). Empty selection: no line."""
    reading = metric_reading(metric)
    if selection is not None and selection.empty:
        step = step or choose_step(window)
        first, count = bucket_span(window, step)
        return Series(step, reading.unit, [first + i * step for i in range(count)])

    def where(reading, params):
        return None if selection is None else selection.where(reading.measurement, params)

    result = read_series({"metric": reading}, window, where, step=step, store=store,
                         namespaces=selection is not None, use_rollup=use_rollup, now=now)
    return result["metric"]


def node_allocatable(node, before, store=None):
    """``{"cpu_cores", "memory_bytes", "gpus"}``: the node's latest allocatable at or before ``before``
    (None: unknown)."""
    store = store or get_store()
    q = quote_identifier
    cols = ", ".join(f"last({field_identifier(NODE, f)}) AS {q(alias)}" for alias, f in (
        ("cpu", "allocatable_millicpu_cores"), ("memory", "allocatable_memory_bytes"), ("gpu", "allocatable_gpu")))
    statement = (f"SELECT {cols} FROM {source_identifier(NODE, RAW_POLICY)} "  # noqa: S608
                 f"WHERE {tag_identifier(NODE, 'node_name')} = $node AND time <= $e")
    series = store.query(statement, params={"node": node, "e": to_ns(before)})
    if not series:
        return {"cpu_cores": None, "memory_bytes": None, "gpus": None}
    row = dict(zip(series[0]["columns"], series[0]["values"][0], strict=True))
    return {"cpu_cores": row["cpu"] / 1000.0 if row.get("cpu") is not None else None,
            "memory_bytes": row.get("memory"), "gpus": row.get("gpu")}


__all__ = ["MAX_POINTS", "NODE_CHARTS", "NODE_CHARTS_OF_PODS", "STEPS", "Reading", "Series", "SeriesError",
           "bucket_span", "choose_step", "metric_reading", "metric_series", "node_allocatable", "node_charts",
           "node_series", "read_series"]
