"""Raw rows: a metric's samples, newest first, with their tags under the legacy names."""

from datetime import UTC, datetime

from kubemon.timeseries import get_store
from kubemon.timeseries.schema import RAW_POLICY, field_identifier, quote_identifier, source_identifier, tag_identifier
from metrics.catalogue import LEGACY_TAGS, LEVEL_TYPES
from metrics.window import format_time, to_ns


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
    where = "time >= $b AND time < $e"
    if selection is not None:
        if selection.empty:
            return []
        where = f"{selection.where(m, params)} AND {where}"
    source = source_identifier(m, RAW_POLICY)
    expr = metric.strategy.raw_value(metric)
    if expr is None:
        return _raw_rate_rows(metric, store, source, where, params, limit)
    q = quote_identifier
    tags = ", ".join(tag_identifier(m, t) for t in metric.tags)
    statement = f"SELECT {expr} AS {q('value')}, {tags} FROM {source} WHERE {where} ORDER BY time DESC LIMIT $limit"  # noqa: S608,E501  (whitelisted identifiers; values are $params)
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
