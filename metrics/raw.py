"""Raw rows: a metric's samples, newest first, with their tags under the legacy names."""

from bisect import bisect_right
from datetime import UTC, datetime

from kubemon.timeseries import get_store
from kubemon.timeseries.schema import RAW_POLICY, field_identifier, quote_identifier, source_identifier, tag_identifier
from metrics.catalogue import LEGACY_TAGS, LEVEL_TYPES
from metrics.window import format_time, to_ns

WINDOW = "time >= $b AND time < $e"


def from_ns(ns):
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


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
    where = WINDOW
    if selection is not None:
        if selection.empty:
            return []
        where = f"{selection.where(m, params)} AND {where}"
    source = source_identifier(m, RAW_POLICY)
    read = _READERS[metric.strategy.raw_reader]
    return read(metric, store, source, where, params, limit)


def _newest_samples(metric, store, source, where, params, expr, epoch=None):
    """The ``$limit`` newest samples, newest first, as ``{"time", "value", <tag>...}`` records."""
    m = metric.measurement
    tags = ", ".join(tag_identifier(m, t) for t in metric.tags)
    statement = f"SELECT {expr} AS {quote_identifier('value')}, {tags} FROM {source} WHERE {where} ORDER BY time DESC LIMIT $limit"  # noqa: S608,E501  (whitelisted identifiers; values are $params)
    series = store.query(statement, params=params, epoch=epoch)
    if not series:
        return []
    columns = series[0]["columns"]
    return [dict(zip(columns, values, strict=True)) for values in series[0]["values"]]


def _select_rows(metric, store, source, where, params, limit):
    samples = _newest_samples(metric, store, source, where, params, metric.strategy.raw_value(metric))
    return [_raw_row(metric, record["time"], record["value"], record) for record in samples]


def _raw_rate_rows(metric, store, source, where, params, limit):
    # InfluxQL's derivative runs backwards under ORDER BY time DESC (a reset then looks like a
    # jump), so the newest limit+1 points of each series are read and differentiated here.
    params["limit"] = limit + 1
    field = field_identifier(metric.measurement, metric.field)
    statement = f"SELECT {field} FROM {source} WHERE {where} GROUP BY * ORDER BY time DESC LIMIT $limit"  # noqa: S608
    rates = []
    for series in store.query(statement, params=params, epoch="ns"):
        tags = series.get("tags") or {}
        points = [(t, v) for t, v in series["values"] if v is not None]
        for (t_new, v_new), (t_old, v_old) in zip(points, points[1:], strict=False):
            if t_new > t_old and v_new >= v_old:
                rates.append((t_new, (v_new - v_old) * 1e9 / (t_new - t_old), tags))
    rates.sort(key=lambda item: (-item[0], sorted(item[2].items())))
    return [_raw_row(metric, format_time(from_ns(t)), value, tags) for t, value, tags in rates[:limit]]


def _as_of_rows(metric, store, source, where, params, limit):
    """``field / other`` where the two are written in different points, at different times.

    The ``limit`` newest samples of ``field`` are read first. Each is divided by the latest
    ``other`` of its series (a node) at or before the sample's time, which may be before the
    window. A sample with no such ``other``, or a zero one, has the value None.
    """
    m = metric.measurement
    tags = ", ".join(tag_identifier(m, t) for t in metric.tags)
    field, other = field_identifier(m, metric.field), field_identifier(m, metric.other)
    samples = _newest_samples(metric, store, source, where, params, field, epoch="ns")
    if not samples:
        return []
    divisors = _divisors_as_of(store, source, other, tags, metric.tags, samples[-1]["time"], samples[0]["time"])
    rows = []
    for sample in samples:
        times, values = divisors.get(tuple(sample.get(t) for t in metric.tags), ((), ()))
        index = bisect_right(times, sample["time"]) - 1
        divisor = values[index] if index >= 0 else None
        value = sample["value"] / divisor if sample["value"] is not None and divisor else None
        rows.append(_raw_row(metric, format_time(from_ns(sample["time"])), value, sample))
    return rows


def _divisors_as_of(store, source, other, tags, tag_names, oldest, newest):
    """``{series tag values: (times, values)}``, ascending: ``other`` from ``oldest`` to ``newest``
    (nanoseconds, both included) and the last value of each series before ``oldest``."""
    statements = [
        f"SELECT {other} FROM {source} WHERE time < $lo GROUP BY {tags} ORDER BY time DESC LIMIT 1",  # noqa: S608
        f"SELECT {other} FROM {source} WHERE time >= $lo AND time <= $hi GROUP BY {tags}",  # noqa: S608
    ]
    found = {}
    for result in store.query_many(statements, params={"lo": oldest, "hi": newest}, epoch="ns"):
        for series in result:
            key = tuple((series.get("tags") or {}).get(t) for t in tag_names)
            found.setdefault(key, []).extend((t, v) for t, v in series["values"] if v is not None)
    return {key: tuple(zip(*sorted(points), strict=True)) or ((), ()) for key, points in found.items()}


_READERS = {"select": _select_rows, "rate": _raw_rate_rows, "as_of": _as_of_rows}
