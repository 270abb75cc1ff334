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

from kubemon.timeseries.schema import RAW_POLICY, field_identifier, quote_identifier, source_identifier, tag_identifier
from metrics.window import to_ns


def reach():
    """How far past an edge samples are shared: twice the slowest schedule, the usual sample's reach.

    A sample after a gap may stand for up to the gap limit (COLLECT_GAP_LIMIT_SECONDS); reading
    that far at every edge would cost ten times more rows for the rare gap, so a gap straddling
    an edge goes to the window that holds the sample after it (docs/api.md, "Coverage")."""
    schedule = settings.COLLECT_SCHEDULE
    return timedelta(seconds=2 * max(schedule.get("usage") or 15, schedule.get("gpu") or 15))


def _statement(metric, fields, group_tags, selection, params, key):
    m = metric.measurement
    q = quote_identifier
    columns = ", ".join(f"{field_identifier(m, f)} AS {q('v' + str(n))}" for n, (f, _) in enumerate(fields))
    where = f"{selection.where(m, params)} AND time >= $edge_b{key} AND time < $edge_e{key}"
    group = ", ".join(tag_identifier(m, t) for t in group_tags)
    return (f"SELECT {field_identifier(m, 'interval_seconds')} AS {q('interval')}, {columns} "  # noqa: S608  (whitelisted identifiers; values are $params)
            f"FROM {source_identifier(m, RAW_POLICY)} WHERE {where} GROUP BY {group}")


def statements(metric, window, group_tags, selection, params):
    """The two statements (begin and end edge) whose results ``deltas`` reads; none for a kind
    without per-sample resource-time. Their bounds go into ``params`` as ``$edge_b<n>``/``$edge_e<n>``."""
    fields = metric.strategy.edge_fields(metric)
    if not fields:
        return []
    span = reach()
    result = []
    for key, edge in enumerate((window.begin, window.end)):
        params[f"edge_b{key}"], params[f"edge_e{key}"] = to_ns(edge), to_ns(edge + span)
        result.append(_statement(metric, fields, group_tags, selection, params, key))
    return result


def deltas(metric, window, group_tags, results):
    """``{group key: {Partial column: resource-time to add}}`` from the results of ``statements``."""
    fields = metric.strategy.edge_fields(metric)
    if not fields or not results:
        return {}
    deltas = {}
    for edge, sign, series_list in ((window.begin, -1, results[0]), (window.end, 1, results[1])):
        edge_ns = to_ns(edge)
        for series in series_list:
            tags = series.get("tags") or {}
            group = deltas.setdefault(tuple(tags.get(t, "") for t in group_tags), {})
            for row in series["values"]:
                t, interval, values = row[0], row[1], row[2:]
                if not interval:
                    continue
                start = t - interval * 1e9
                if start >= edge_ns:
                    continue  # wholly on one side of the edge: already right
                # begin: the part before the edge is taken away; end: the part before it is added.
                share = (edge_ns - start) / (interval * 1e9)
                for (_, column), value in zip(fields, values, strict=True):
                    if value is not None:
                        group[column] = group.get(column, 0.0) + sign * value * share
    return deltas
