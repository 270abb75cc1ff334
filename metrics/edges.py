"""A window's edges: only the part of a sample's interval inside the window is charged.

A sample at ``t`` stands for ``(t - interval_seconds, t]`` (DESIGN §12). Reads take the samples
whose time lies in ``[begin, end)``, wholly; so at ``begin`` a sample whose interval starts before
it counts too much, and past ``end`` a sample whose interval starts before it is missing. Inside a
window the shares cancel (what one hour loses, the next one gains), so only the outer edges need
a correction: the samples within the longest interval after each edge are read from raw data, and
each one's resource-time field is shared out by the part of its interval inside the window.
With it, windows that tile a month add up to the month, and an hour ``[h, h+1h)`` is the hour's
own usage, not shifted by a sample.

What cannot be shared: samples without ``interval_seconds`` (other writers', whose resource-time
comes from their spacing) and edges older than the raw retention (the rollup keeps whole hours).
"""

from datetime import timedelta

from django.conf import settings

from kubemon.timeseries.heads import HEAD_FIELDS, HEAD_SUFFIX, reach_seconds
from kubemon.timeseries.hours import HOUR
from kubemon.timeseries.schema import (
    CONTAINER,
    RAW_POLICY,
    field_identifier,
    quote_identifier,
    source_identifier,
    tag_identifier,
)
from metrics.window import to_ns


def reach():
    """How far past an edge samples are shared: twice the slowest schedule, the usual sample's reach.

    A sample after a gap may stand for up to the gap limit (COLLECT_GAP_LIMIT_SECONDS); reading
    that far at every edge would cost ten times more rows for the rare gap, so a gap straddling
    an edge goes to the window that holds the sample after it (docs/api.md, "Coverage")."""
    return timedelta(seconds=reach_seconds(settings.COLLECT_SCHEDULE))


def _statement(measurement, fields, group_tags, selection, params, key):
    m = measurement
    q = quote_identifier
    # Each value under its field's name: the metrics sharing the statement find theirs by name.
    columns = ", ".join(f"{field_identifier(m, f)} AS {q(f)}" for f in fields)
    where = f"{selection.where(m, params)} AND time >= $edge_b{key} AND time < $edge_e{key}"
    group = ", ".join(tag_identifier(m, t) for t in group_tags)
    return (f"SELECT {field_identifier(m, 'interval_seconds')} AS {q('interval')}, {columns} "  # noqa: S608  (whitelisted identifiers; values are $params)
            f"FROM {source_identifier(m, RAW_POLICY)} WHERE {where} GROUP BY {group}")


def _heads_statement(measurement, fields, policy, group_tags, selection, params, key):
    """The heads of the hour starting at the edge, summed per group, under the fields' own names."""
    m = measurement
    q = quote_identifier
    for f in fields:
        field_identifier(m, f)  # whitelisted: the head column is this field's name and a fixed suffix
    columns = ", ".join(f"sum({q(f + HEAD_SUFFIX)}) AS {q(f)}" for f in fields)
    where = f"{selection.where(m, params)} AND time >= $edge_b{key} AND time < $edge_e{key}"
    group = ", ".join(tag_identifier(m, t) for t in group_tags)
    return (f"SELECT {columns} FROM {source_identifier(m, policy)} "  # noqa: S608  (whitelisted identifiers; values are $params)
            f"WHERE {where} GROUP BY {group}")


def statements(metrics, window, group_tags, selection, params, skip_end=False, heads=None):
    """``[(measurement, sign, statement)]``: per measurement of ``metrics``, one statement per edge
    (begin: -1, end: +1) reading every field their kinds share out, whose results ``deltas``
    reads; none for kinds without per-sample resource-time. ``skip_end``: no sample of the
    container measurement can lie past the end (``metrics.openedge.nothing_after``), so its end
    statement is left out. ``heads`` (``{measurement: {sign: policy}}``): edges on a whole hour
    whose rollup point in that policy holds the samples' heads (``kubemon.timeseries.heads``) are
    read from it instead of raw data, if every field they share out has heads. Bounds go into
    ``params`` as ``$edge_b<n>``/``$edge_e<n>``."""
    fields = {}
    for metric in metrics:
        for name, _ in metric.strategy.edge_fields(metric):
            fields.setdefault(metric.measurement, {})[name] = None
    span = reach()
    result = []
    for measurement, names in fields.items():
        by_heads = (heads or {}).get(measurement, {}) if set(names) <= set(HEAD_FIELDS.get(measurement, ())) else {}
        for sign, edge in ((-1, window.begin), (1, window.end)):
            if sign > 0 and skip_end and measurement == CONTAINER:
                continue
            key = len(result)
            if sign in by_heads:
                params[f"edge_b{key}"], params[f"edge_e{key}"] = to_ns(edge), to_ns(edge + HOUR)
                statement = _heads_statement(measurement, list(names), by_heads[sign], group_tags, selection, params,
                                             key)
            else:
                params[f"edge_b{key}"], params[f"edge_e{key}"] = to_ns(edge), to_ns(edge + span)
                statement = _statement(measurement, list(names), group_tags, selection, params, key)
            result.append((measurement, sign, statement))
    return result


def deltas(metric, window, group_tags, edges):
    """``{group key: {Partial column: resource-time to add}}`` from ``[(measurement, sign, series
    list)]``, the results of ``statements``."""
    fields = metric.strategy.edge_fields(metric)
    if not fields:
        return {}
    deltas = {}
    for measurement, sign, series_list in edges:
        if measurement != metric.measurement:
            continue
        edge_ns = to_ns(window.begin if sign < 0 else window.end)
        for series in series_list:
            tags = series.get("tags") or {}
            group = deltas.setdefault(tuple(tags.get(t, "") for t in group_tags), {})
            at = {column: n for n, column in enumerate(series["columns"])}
            picks = [(at[name], column) for name, column in fields]
            if "interval" not in at:
                # Heads (``_heads_statement``): the part before the edge, taken away at a begin, added at an end.
                for row in series["values"]:
                    for n, column in picks:
                        if row[n] is not None:
                            group[column] = group.get(column, 0.0) + sign * row[n]
                continue
            for row in series["values"]:
                t, interval = row[0], row[at["interval"]]
                if not interval:
                    continue
                start = t - interval * 1e9
                if start >= edge_ns:
                    continue  # wholly on one side of the edge: already right
                # begin: the part before the edge is taken away; end: the part before it is added.
                share = (edge_ns - start) / (interval * 1e9)
                for n, column in picks:
                    value = row[n]
                    if value is not None:
                        group[column] = group.get(column, 0.0) + sign * value * share
    return deltas
