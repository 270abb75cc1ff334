"""Several metrics' reads of the same span in one InfluxDB statement, and their results apart again.

The allocation asks about eight container gauges over the same window, grouped the same way:
each asked alone costs a statement per piece of the plan, and InfluxDB's cost is per statement
and series (opening each series' cursors), hardly per field. Metrics whose kind reads plain
columns (``Kind.merges``) of the same measurement and piece therefore share one ``SELECT``:
each one's columns are renamed ``<alias>_<n>`` (``n``: the metric's place in the question),
and ``split`` turns the shared result back into the series each metric's own statement would
have returned, so everything after it (re-bucketing, the day cache, other writers' samples) is
the single-metric code and the answers are the same.

Identifiers come from the schema whitelist; every value is a bound parameter.
"""

from kubemon.timeseries.schema import quote_identifier, source_identifier, tag_identifier
from metrics.window import to_ns


def where_and_group(metric, read, group_tags, selection, params, key):
    """The condition and grouping of one read; its time bounds go into ``params`` as ``$b<key>``/``$e<key>``."""
    m = metric.measurement
    params[f"b{key}"] = to_ns(read.window.begin)
    params[f"e{key}"] = to_ns(read.window.end)
    where = f"{selection.where(m, params)} AND time >= $b{key} AND time < $e{key}"
    group = ", ".join(tag_identifier(m, t) for t in group_tags)
    if read.by_day:
        # One row per UTC day and group, for the day cache; empty days are left out.
        group = f"time(1d), {group} fill(none)"
    return where, group


def plan_statements(jobs, group_tags, selection, params):
    """``(statements, members)``: the statements that answer every job's reads (``jobs``: ``[(metric,
    reads)]``) and, per statement, the ``(job, read)`` pairs it answers."""
    shared, members = {}, []
    for j, (metric, reads) in enumerate(jobs):
        for r, read in enumerate(reads):
            if metric.strategy.merges:
                key = (metric.measurement, read)
                if key in shared:
                    members[shared[key]].append((j, r))
                    continue
                shared[key] = len(members)
            members.append([(j, r)])
    statements = []
    for key, pairs in enumerate(members):
        j, r = pairs[0]
        metric, read = jobs[j][0], jobs[j][1][r]
        where, group = where_and_group(metric, read, group_tags, selection, params, key)
        source = source_identifier(metric.measurement, read.policy)
        if not metric.strategy.merges:
            statements.append(metric.strategy.statement(metric, read.policy, source, where, group))
            continue
        columns = ", ".join(f"{expr} AS {quote_identifier(f'{alias}_{n}')}" for n, _ in pairs
                            for alias, expr in jobs[n][0].strategy.pairs(jobs[n][0], read.policy))
        statements.append(f"SELECT {columns} FROM {source} WHERE {where} GROUP BY {group}")  # noqa: S608  (whitelisted identifiers; values are $params)
    return statements, members


def split(jobs, members, results):
    """Per job, one list of series per read: what its own statement would have returned."""
    out = [[None] * len(reads) for _, reads in jobs]
    for pairs, series_list in zip(members, results, strict=True):
        for j, r in pairs:
            metric = jobs[j][0]
            out[j][r] = _own_columns(series_list, f"_{j}") if metric.strategy.merges else series_list
    return out


def _own_columns(series_list, suffix):
    """The series of a shared result with only the columns ending in ``suffix`` (renamed back),
    and only the rows where one of them has a value: a group or a day with none of a metric's
    samples is not in its own statement's result."""
    out = []
    for series in series_list:
        columns = series["columns"]
        picks = [n for n, name in enumerate(columns) if name.endswith(suffix)]
        names = ["time"] + [columns[n][: -len(suffix)] for n in picks]
        rows = [[values[0]] + [values[n] for n in picks] for values in series["values"]]
        rows = [row for row in rows if any(value not in (None, 0) for value in row[1:])]
        if rows:
            out.append({**series, "columns": names, "values": rows})
    return out
