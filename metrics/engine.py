"""The query engine: per-namespace and per-pod aggregates and raw rows of a catalogue metric.

Every statement is built from whitelisted identifiers (``kubemon.timeseries.schema``); every
value (namespaces, time bounds, limits) travels as a bound parameter.

Long windows: the whole hours of a window are read from the ``hourly`` rollup and only the
ragged edges from raw data. The rollup stores, per series and hour, the sums, integrals,
maxima and sample counts that the raw aggregation computes, so the answer is the same either
way (up to float rounding). An hour is read from the rollup only once it has ended at least
``API_ROLLUP_SETTLE_SECONDS`` ago (the rollup task recomputes recent hours every few minutes)
and no later than the newest hour the rollup has written (so a stopped rollup task costs speed,
not correctness).
"""

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from kubemon.timeseries import get_store
from kubemon.timeseries.hours import DAY
from kubemon.timeseries.schema import (
    HOURLY_POLICY,
    RAW_POLICY,
    field_identifier,
    quote_identifier,
    source_identifier,
    tag_identifier,
)
from metrics import daycache
from metrics.catalogue import LEGACY_TAGS, LEVEL_TYPES
from metrics.window import HOUR, Window, format_time, to_ns

MODES = ("pod-by-namespace", "all-namespace", "all-pod")
GROUP_TAGS = {
    "pod-by-namespace": ("namespace", "pod_name"),
    "all-namespace": ("namespace",),
    "all-pod": ("namespace", "pod_name"),
}


class EngineError(Exception):
    """A request the engine cannot answer (the view turns it into a 4xx)."""

    def __init__(self, status, message, field=None):
        super().__init__(message)
        self.status = status
        self.field = field


# --- which namespaces a statement reads ---


@dataclass(frozen=True)
class Selection:
    """The namespace filter of a statement: a list of namespaces, or all but some (``None``)."""

    namespaces: tuple | None = None
    exclude: tuple = ()

    @classmethod
    def one(cls, namespace):
        return cls(namespaces=(namespace,))

    @classmethod
    def for_scope(cls, scope, exclude=()):
        """Every namespace the scope sees, less ``exclude``; an empty tuple means nothing to read."""
        exclude = tuple(sorted(set(exclude)))
        if scope.everything:
            return cls(namespaces=None, exclude=exclude)
        return cls(namespaces=tuple(sorted(scope.namespaces - set(exclude))))

    @property
    def empty(self):
        return self.namespaces is not None and not self.namespaces

    def where(self, measurement, params):
        """The InfluxQL condition; adds its values to ``params``."""
        tag = tag_identifier(measurement, "namespace")
        if self.namespaces is not None:
            terms = []
            for i, name in enumerate(self.namespaces):
                params[f"ns{i}"] = name
                terms.append(f"{tag} = $ns{i}")
            return "(" + " OR ".join(terms) + ")"
        # Series without a namespace (an unattributed GPU) belong to no tenant.
        terms = [f"{tag} != ''"]
        for i, name in enumerate(self.exclude):
            params[f"ex{i}"] = name
            terms.append(f"{tag} != $ex{i}")
        return " AND ".join(terms)


# --- aggregates ---


@dataclass
class Aggregate:
    """One group's numbers over a window, already in the metric's unit."""

    sum: float
    integral: float | None
    max: float | None
    samples: int
    mean: float | None = None


@dataclass
class _Partial:
    s: float = 0.0
    i: float = 0.0
    mx: float | None = None
    n: int = 0
    sb: float = 0.0  # second field of a difference
    ib: float = 0.0

    def values(self):
        return [self.s, self.i, self.mx, self.n, self.sb, self.ib]

    def add_values(self, values):
        s, i, mx, n, sb, ib = values
        self.add({"s": s, "i": i, "mx": mx, "n": n, "sb": sb, "ib": ib})

    def add(self, row):
        self.s += row.get("s") or 0.0
        self.i += row.get("i") or 0.0
        self.sb += row.get("sb") or 0.0
        self.ib += row.get("ib") or 0.0
        self.n += int(row.get("n") or 0)
        if row.get("mx") is not None:
            self.mx = row["mx"] if self.mx is None else max(self.mx, row["mx"])


def _f(measurement, name):
    return field_identifier(measurement, name)


def _aggregate_columns(metric, policy):
    """``(alias, expression)`` pairs of one aggregation statement for ``metric`` on ``policy``."""
    m, f, hourly = metric.measurement, metric.field, policy == HOURLY_POLICY
    kind = metric.kind
    if kind == "gauge":
        cols = [
            ("s", f"sum({_f(m, f + '_sum')})" if hourly else f"sum({_f(m, f)})"),
            ("mx", f"max({_f(m, f + '_max')})" if hourly else f"max({_f(m, f)})"),
            ("n", f"sum({_f(m, f + '_samples')})" if hourly else f"count({_f(m, f)})"),
        ]
        if metric.integral_from is not None:
            cols.append(("i", f"sum({_f(m, metric.integral_from[0])})"))
        elif metric.has_integral:
            cols.append(("i", f"sum({_f(m, f + '_integral')})"))
        return cols
    if kind == "increment":
        # Samples are counted on the CPU rate, which every container sample carries and the rollup counts.
        return [
            ("s", f"sum({_f(m, f)})"),
            ("n", f"sum({_f(m, 'cpu_usage_nanocores_samples')})" if hourly
             else f"count({_f(m, 'cpu_usage_nanocores')})"),
        ]
    if kind == "difference":
        o = metric.other
        return [
            ("s", f"sum({_f(m, f + '_sum')})" if hourly else f"sum({_f(m, f)})"),
            ("sb", f"sum({_f(m, o + '_sum')})" if hourly else f"sum({_f(m, o)})"),
            ("i", f"sum({_f(m, f + '_integral')})"),
            ("ib", f"sum({_f(m, o + '_integral')})"),
            ("n", f"sum({_f(m, f + '_samples')})" if hourly else f"count({_f(m, f)})"),
        ]
    raise ValueError(f"no direct aggregation for kind {kind}")


def _aggregate_statement(metric, window, policy, group_tags, selection, params, key, by_day=False):
    m = metric.measurement
    source = source_identifier(m, policy)
    params[f"b{key}"] = to_ns(window.begin)
    params[f"e{key}"] = to_ns(window.end)
    where = f"{selection.where(m, params)} AND time >= $b{key} AND time < $e{key}"
    group = ", ".join(tag_identifier(m, t) for t in group_tags)
    if by_day:
        # One row per UTC day and group, for the day cache; empty days are left out.
        group = f"time(1d), {group} fill(none)"
    q = quote_identifier
    if metric.kind in ("counter", "rate"):
        # Differences need each series in time order, so they are taken per series in a subquery.
        field = _f(m, metric.field)
        inner = [f"non_negative_difference({field}) AS {q('d')}"]
        outer = [f"sum({q('d')}) AS {q('s' if metric.kind == 'counter' else 'i')}"]
        if metric.kind == "rate":
            inner.append(f"non_negative_derivative({field}, 1s) AS {q('r')}")
            outer += [f"sum({q('r')}) AS {q('s')}", f"max({q('r')}) AS {q('mx')}", f"count({q('r')}) AS {q('n')}"]
        else:
            outer.append(f"count({q('d')}) AS {q('n')}")
        return (
            f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {source} WHERE {where} GROUP BY *) "  # noqa: S608  (whitelisted identifiers; values are $params)
            f"GROUP BY {group}"
        )
    columns = ", ".join(f"{expr} AS {q(alias)}" for alias, expr in _aggregate_columns(metric, policy))
    return f"SELECT {columns} FROM {source} WHERE {where} GROUP BY {group}"  # noqa: S608  (as above)


def _rollup_watermark(store, metric, whole):
    """The end of the newest hour the rollup holds inside ``whole``, or None."""
    m = metric.measurement
    statement = (
        f"SELECT last({_f(m, 'interval_seconds')}) FROM {source_identifier(m, HOURLY_POLICY)} "  # noqa: S608
        "WHERE time >= $b AND time < $e"
    )
    # The last day of the span usually holds the answer and costs a thirtieth of a month's scan.
    for begin in dict.fromkeys((max(whole.begin, whole.end - timedelta(days=1)), whole.begin)):
        series = store.query(statement, params={"b": to_ns(begin), "e": to_ns(whole.end)}, epoch="ns")
        if series:
            newest = series[0]["values"][0][0]
            return datetime.fromtimestamp(newest // 1_000_000_000, UTC) + HOUR
    return None


def plan(metric, window, store, use_rollup=True, now=None):
    """``[(policy, window), ...]`` covering ``window`` exactly once."""
    if not (use_rollup and metric.rollup):
        return [(RAW_POLICY, window)]
    now = now or datetime.now(UTC)
    settle = timedelta(seconds=settings.API_ROLLUP_SETTLE_SECONDS)
    whole, _ = window.split(now - settle)
    if whole is None:
        return [(RAW_POLICY, window)]
    watermark = _rollup_watermark(store, metric, whole)
    if watermark is None:
        return [(RAW_POLICY, window)]
    whole, edges = window.split(min(now - settle, watermark))
    if whole is None:
        return [(RAW_POLICY, window)]
    return [(HOURLY_POLICY, whole)] + [(RAW_POLICY, edge) for edge in edges]


def aggregate(metric, window, group_tags, selection, store=None, use_rollup=True, now=None):
    """``{group key tuple: Aggregate}`` for ``metric`` over ``window``, grouped by ``group_tags``."""
    if selection.empty:
        return {}
    store = store or get_store()
    now = now or datetime.now(UTC)
    params = {}
    statements = []  # (statement, by_day)
    partials = {}
    cache_days = []
    for policy, part in plan(metric, window, store, use_rollup, now):
        spans = [(part.begin, part.end)]
        if policy == HOURLY_POLICY and daycache.enabled():
            days, spans = daycache.whole_days(part, daycache.final_before(now))
            cached = daycache.get(metric, group_tags, selection, days)
            for groups in cached.values():
                for key, values in groups.items():
                    partials.setdefault(key, _Partial()).add_values(values)
            cache_days = [day for day in days if day not in cached]
            # Days to read, in chunks that InfluxDB can work on in parallel.
            for start in range(0, len(cache_days), DAYS_PER_STATEMENT):
                chunk = cache_days[start : start + DAYS_PER_STATEMENT]
                span = Window(chunk[0], chunk[-1] + DAY)
                statements.append((_aggregate_statement(metric, span, policy, group_tags, selection, params,
                                                        len(statements), by_day=True), True))
        if policy == RAW_POLICY and metric.kind not in ("counter", "rate"):
            # Raw spans are the costly part: cut them so that InfluxDB's cores share the work.
            # (Counters cannot be cut: a difference across the cut would be lost.)
            most = max(1, settings.API_QUERY_PARALLELISM)
            spans = [piece for begin, end in spans for piece in _pieces(begin, end, RAW_PIECE, most)]
        for begin, end in spans:
            statements.append((_aggregate_statement(metric, Window(begin, end), policy, group_tags, selection,
                                                    params, len(statements)), False))
    results = _run_parallel(store, [statement for statement, _ in statements], params)
    missing = set(cache_days)
    per_day = {day: {} for day in cache_days}
    for (_, by_day), series_list in zip(statements, results, strict=True):
        for series in series_list:
            tags = series.get("tags") or {}
            key = tuple(tags.get(t, "") for t in group_tags)
            for values in series["values"] if by_day else series["values"][:1]:
                row = dict(zip(series["columns"], values, strict=True))
                if by_day:
                    day = _from_ns(row["time"])
                    if day not in missing:
                        continue  # inside the span but already taken from the cache
                    day_part = _Partial()
                    day_part.add(row)
                    per_day[day][key] = day_part.values()
                partials.setdefault(key, _Partial()).add(row)
    daycache.put(metric, group_tags, selection, per_day)
    return {key: _finish(metric, part, window) for key, part in partials.items() if part.n or part.s}


DAYS_PER_STATEMENT = 8
RAW_PIECE = timedelta(minutes=30)


def _pieces(begin, end, size, most):
    """``[begin, end)`` cut into at most ``most`` equal pieces of at least ``size``."""
    count = max(1, min(most, int((end - begin) / size)))
    step = (end - begin) / count
    edges = [begin + step * i for i in range(count)] + [end]
    return list(zip(edges, edges[1:], strict=False))


@functools.cache
def _pool(workers):
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="influxql")


def _run_parallel(store, statements, params):
    """Each statement in its own request: InfluxDB runs one query per core, one request's statements in turn."""
    workers = settings.API_QUERY_PARALLELISM
    if not statements:  # every day came from the cache
        return []
    if len(statements) == 1 or workers <= 1:
        return store.client.query_all("; ".join(statements), params=params, epoch="ns")
    pool = _pool(workers)
    futures = [pool.submit(store.client.query_all, statement, params, None, "ns") for statement in statements]
    return [future.result()[0] for future in futures]


def _finish(metric, part, window):
    k = metric.scale
    integral = None
    if metric.kind == "difference":
        total, integral = (part.s - part.sb) * k, (part.i - part.ib) * k
    elif metric.kind == "gauge" and metric.integral_from is not None:
        total, integral = part.s * k, part.i * metric.integral_from[1]
    else:
        total = part.s * k
        if metric.has_integral:
            integral = part.i * k
    peak = part.mx * k if part.mx is not None and metric.kind in ("gauge", "rate") else None
    mean = integral / window.seconds if integral is not None else None
    return Aggregate(sum=total, integral=integral, max=peak, samples=part.n, mean=mean)


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
        rows.append(row)
    return rows


# --- raw rows ---


def _raw_row(metric, time_text, value, tags):
    row = {"time": time_text, "value": value * metric.scale if value is not None else None}
    for tag in metric.tags:
        row[LEGACY_TAGS[tag]] = tags.get(tag)
    if metric.measurement in LEVEL_TYPES:
        row["type"] = LEVEL_TYPES[metric.measurement]
    row["unit"] = metric.unit
    return row


def raw_rows(metric, window, selection, limit, store=None):
    """Up to ``limit`` samples, newest first, with their tags under the legacy names.

    ``selection`` is None for node-level metrics, which belong to no namespace.
    """
    store = store or get_store()
    m = metric.measurement
    params = {"b": to_ns(window.begin), "e": to_ns(window.end), "limit": limit}
    where = "time >= $b AND time < $e"
    if selection is not None:
        if selection.empty:
            return []
        where = f"{selection.where(m, params)} AND {where}"
    source = source_identifier(m, RAW_POLICY)
    if metric.kind == "rate":
        return _raw_rate_rows(metric, store, source, where, params, limit)
    q = quote_identifier
    expr = _f(m, metric.field)
    if metric.kind == "difference":
        expr = f"{expr} - {_f(m, metric.other)}"
    elif metric.kind == "ratio":
        expr = f"{expr} / {_f(m, metric.other)}"
    tags = ", ".join(tag_identifier(m, t) for t in metric.tags)
    statement = f"SELECT {expr} AS {q('value')}, {tags} FROM {source} WHERE {where} ORDER BY time DESC LIMIT $limit"  # noqa: S608,E501
    series = store.query(statement, params=params)
    if not series:
        return []
    columns = series[0]["columns"]
    rows = []
    for values in series[0]["values"]:
        record = dict(zip(columns, values, strict=True))
        rows.append(_raw_row(metric, record["time"], record["value"], record))
    return rows


def _raw_rate_rows(metric, store, source, where, params, limit):
    # InfluxQL's derivative runs backwards under ORDER BY time DESC (a reset then looks like a
    # jump), so the newest limit+1 points of each series are read and differentiated here.
    params["limit"] = limit + 1
    field = _f(metric.measurement, metric.field)
    statement = f"SELECT {field} FROM {source} WHERE {where} GROUP BY * ORDER BY time DESC LIMIT $limit"  # noqa: S608
    rates = []
    for series in store.query(statement, params=params, epoch="ns"):
        tags = series.get("tags") or {}
        points = [(t, v) for t, v in series["values"] if v is not None]
        for (t_new, v_new), (t_old, v_old) in zip(points, points[1:], strict=False):
            if t_new > t_old and v_new >= v_old:
                rates.append((t_new, (v_new - v_old) * 1e9 / (t_new - t_old), tags))
    rates.sort(key=lambda item: (-item[0], sorted(item[2].items())))
    return [_raw_row(metric, format_time(_from_ns(t)), value, tags) for t, value, tags in rates[:limit]]


def _from_ns(ns):
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)
