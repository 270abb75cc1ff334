"""Hourly rollup of raw samples, done by InfluxDB itself (``SELECT ... INTO``).

The layout is described in ``kubemon/timeseries/schema.py``. Resource-time stays exact because
the rollup sums the per-sample integrals (value x interval) instead of averaging averages.
Re-running it over the same hours rewrites the same points (same measurement, tags and hour),
so the task is idempotent and can always recompute the last hours, including the current one.

Samples of other writers (Telegraf's ``kubernetes`` input) carry none of kubemon's per-sample
resource-time (``<field>_integral``, ``cpu_core_seconds``). For the series and hours that have
only such samples, ``fill_foreign`` writes those hourly fields from the samples' spacing, by the
rule the read side uses on raw data (``kubemon.timeseries.schema.SPACING_CAP_SECONDS``): a sample stands for
the time since the previous sample of its series, if at most the cap; CPU is the increase of the
kubelet's counter ``cpu_usage_core_nanoseconds``. A series-hour that mixes both kinds gets
``<kubemon field>_unknown``, its samples without resource-time, and readers answer null.

Hours older than that are summed again when data lands in them late (``reroll_late_hours``):
the spool's replay records the hours it wrote, and ``audit_rollup`` compares raw and rollup
counts per hour to catch every other writer (``kubemon/timeseries/backlog.py``).
"""

import logging
import time
from datetime import UTC, datetime, timedelta

from kubemon import keys
from kubemon.owners import controller_of
from kubemon.redis import get_redis
from kubemon.timeseries import Point, get_store
from kubemon.timeseries.heads import ensure_heads_since, head_columns
from kubemon.timeseries.hours import DAY, HOUR, ROLLUP_HORIZON, ROLLUP_RECOMPUTED_HOURS, floor_day, floor_hour
from kubemon.timeseries.schema import (
    CONTAINER,
    CONTROLLER_DAILY_POLICY,
    CONTROLLER_POLICY,
    CONTROLLER_TAGS,
    GPU,
    HOURLY_POLICY,
    INTEGRAL_FIELDS,
    MAX_FIELDS,
    MEASUREMENTS,
    NAMESPACE_DAILY_POLICY,
    NAMESPACE_POLICY,
    NODE,
    NODE_DAILY_POLICY,
    POD,
    POD_DAILY_POLICY,
    RAW_POLICY,
    SAMPLED_FIELDS,
    SPACING_CAP_SECONDS,
    SUMMED_FIELDS,
    UNKNOWN_SUFFIX,
    controller_tag_identifier,
    field_identifier,
    quote_identifier,
    source_identifier,
    tag_identifier,
)
from kubemon.timeseries.tiers import NAMESPACE_MEASUREMENTS

log = logging.getLogger(__name__)



def rollup_select(measurement):
    """The aggregate list for one measurement (identifiers from the schema whitelist only)."""
    q = quote_identifier
    parts = []
    # Sums and maxima are cast to float: raw fields shared with Telegraf are integers
    # (schema.INTEGER_FIELDS) while older shards may hold floats, and the rollup's own fields
    # must keep one type in every shard whatever the raw type was.
    for name in INTEGRAL_FIELDS.get(measurement, ()):
        parts += [
            f"sum({q(name + '_integral')}::float) AS {q(name + '_integral')}",
            f"sum({q(name)}::float) AS {q(name + '_sum')}",
            f"max({q(name)}::float) AS {q(name + '_max')}",
            f"count({q(name)}) AS {q(name + '_samples')}",
        ]
    for name in SUMMED_FIELDS.get(measurement, ()):
        parts.append(f"sum({q(name)}::float) AS {q(name)}")
    for name in MAX_FIELDS.get(measurement, ()):
        # Cumulative counters: integers in raw data (Telegraf's type too) and in the rollup.
        parts.append(f"max({q(name)}) AS {q(name + '_max')}")
    parts += sampled_select(measurement)
    # The samples' heads (kubemon/timeseries/heads.py): what a window edge on the hour subtracts.
    parts += [f"sum({q(name)}::float) AS {q(name)}" for name in head_columns(measurement)]
    if "interval_seconds" in MEASUREMENTS[measurement].fields:
        parts.append(f"sum({q('interval_seconds')}::float) AS {q('interval_seconds')}")
    return ", ".join(parts)


def sampled_select(measurement):
    """The hourly mean's and maximum's columns of gauges without resource-time (``SAMPLED_FIELDS``:
    node temperatures, per sensor)."""
    q = quote_identifier
    parts = []
    for name in SAMPLED_FIELDS.get(measurement, ()):
        parts += [f"sum({q(name)}::float) AS {q(name + '_sum')}", f"max({q(name)}::float) AS {q(name + '_max')}",
                  f"count({q(name)}) AS {q(name + '_samples')}"]
    return parts


ROLLUP_MEASUREMENTS = tuple(dict.fromkeys((*INTEGRAL_FIELDS, *SUMMED_FIELDS, *MAX_FIELDS, *SAMPLED_FIELDS)))


def rollup_window(start, end, store=None, now=None):
    """Roll up every whole or partial hour touching [start, end); returns points written per measurement."""
    store = store or get_store()
    start = floor_hour(start)
    end = floor_hour(end - timedelta(microseconds=1)) + HOUR
    written = {}
    for measurement in ROLLUP_MEASUREMENTS:
        statement = (
            f"SELECT {rollup_select(measurement)} "  # noqa: S608  (whitelisted identifiers; values are bound)
            f"INTO {source_identifier(measurement, HOURLY_POLICY)} "
            f"FROM {source_identifier(measurement, RAW_POLICY)} "
            "WHERE time >= $start AND time < $end GROUP BY time(1h), *"
        )
        series = store.query(
            statement,
            params={"start": start.isoformat().replace("+00:00", "Z"), "end": end.isoformat().replace("+00:00", "Z")},
        )
        written[measurement] = series[0]["values"][0][1] if series else 0
        fill_foreign(store, measurement, start, end)
    roll_namespaces(start, end, store)
    roll_controllers(start, end, store)
    roll_node_days(start, end, store)
    reroll_ended_days(start, end, now or datetime.now(UTC), store)
    return written


def tier_columns(measurement):
    """``[(column, "sum" or "max")]``: the hourly rollup's columns and how a tier combines them
    over series (maxima of maxima), ``_unknown`` counts included."""
    columns = []
    for name in INTEGRAL_FIELDS.get(measurement, ()):
        columns += [(name + suffix, "sum") for suffix in ("_integral", "_sum", "_samples")]
        columns.append((name + "_max", "max"))
    columns += [(name, "sum") for name in SUMMED_FIELDS.get(measurement, ())]
    columns += [(term[0] + UNKNOWN_SUFFIX, "sum") for term in foreign_terms(measurement)]
    # Heads add up over series; a daily tier's are its hours' sum, which no reader reads.
    columns += [(name, "sum") for name in head_columns(measurement)]
    columns.append(("interval_seconds", "sum"))
    return columns


def namespace_select(measurement):
    """The namespace tier's aggregate list: the hourly rollup's columns summed over the series
    of a namespace (maxima of maxima), ``_unknown`` counts included."""
    q = quote_identifier
    return ", ".join(f"{how}({q(name)}) AS {q(name)}" for name, how in tier_columns(measurement))


def _roll_tier(store, source, target, start, end, bucket, tags=("namespace",)):
    params = {"start": start.isoformat().replace("+00:00", "Z"), "end": end.isoformat().replace("+00:00", "Z")}
    written = 0
    for measurement in NAMESPACE_MEASUREMENTS:
        group = ", ".join(tag_identifier(measurement, tag) for tag in tags)
        statement = (
            f"SELECT {namespace_select(measurement)} "  # noqa: S608  (whitelisted identifiers; values are bound)
            f"INTO {source_identifier(measurement, target)} "
            f"FROM {source_identifier(measurement, source)} "
            f"WHERE time >= $start AND time < $end GROUP BY time({bucket}), {group}"
        )
        series = store.query(statement, params=params)
        written += series[0]["values"][0][1] if series else 0
    return written


def roll_namespaces(start, end, store=None):
    """Write the namespace tier of the hours in [start, end) from their hourly rollup, then the
    daily namespace tier of the UTC days they touch; returns the hourly points written.
    Idempotent like the rollup: the same hours give the same points."""
    store = store or get_store()
    written = _roll_tier(store, HOURLY_POLICY, NAMESPACE_POLICY, start, end, "1h")
    # namespace_select's columns sum (and take maxima of) themselves: it reads its own output as well.
    _roll_tier(store, NAMESPACE_POLICY, NAMESPACE_DAILY_POLICY, floor_day(start),
               floor_day(end - timedelta(microseconds=1)) + DAY, "1d")
    return written


# The controller tier (``kubemon.timeseries.tiers``): a pod's controller is its newest owner
# reference in the raw ``kubernetes_pod`` points from a day before the hours rolled to an hour
# after them. Late data can only land within the raw retention, so a re-rolled hour finds its
# pods' owners as its first roll did; a pod never seen by the inventory is summed with no
# controller (read as ``__unallocated__``, as from pod detail).
OWNER_LOOKBACK = DAY
OWNER_LOOKAHEAD = HOUR
# Tags the controller tier keeps besides CONTROLLER_TAGS: the GPU's model, which the allocation
# shares a controller's GPU-seconds by.
CONTROLLER_EXTRA_TAGS = {GPU: ("model_name",)}


def _ns_params(start, end):
    return {"start": int(start.timestamp()) * 10**9, "end": int(end.timestamp()) * 10**9}


def pod_controllers(start, end, store=None):
    """``{(namespace, pod): (controllerKind, controller)}`` of the pods the inventory saw around [start, end)."""
    store = store or get_store()
    group = ", ".join(tag_identifier(POD, tag) for tag in ("namespace", "pod_name"))
    statement = (
        f"SELECT {field_identifier(POD, 'owner_kind')}, {field_identifier(POD, 'owner_name')} "  # noqa: S608  (whitelisted identifiers; values are bound)
        f"FROM {source_identifier(POD, RAW_POLICY)} WHERE time >= $start AND time < $end "
        f"GROUP BY {group} ORDER BY time DESC LIMIT 1"
    )
    found = {}
    for series in store.query(statement, params=_ns_params(start - OWNER_LOOKBACK, end + OWNER_LOOKAHEAD)):
        tags = series.get("tags") or {}
        row = dict(zip(series["columns"], series["values"][0], strict=True))
        found[(tags.get("namespace", ""), tags.get("pod_name", ""))] = controller_of(
            row.get("owner_kind") or "", row.get("owner_name") or "")
    return found


def _controller_points(store, measurement, start, end, owners):
    """The controller tier's points of [start, end): the hourly rollup per pod summed per controller."""
    extra = CONTROLLER_EXTRA_TAGS.get(measurement, ())
    pod_tags = ("namespace", "pod_name", *extra)
    group = ", ".join(tag_identifier(measurement, tag) for tag in pod_tags)
    rows = _by_series_hour(store.query(
        f"SELECT {namespace_select(measurement)} FROM {source_identifier(measurement, HOURLY_POLICY)} "  # noqa: S608
        f"WHERE time >= $start AND time < $end GROUP BY time(1h), {group} fill(none)",
        params=_ns_params(start, end), epoch="s"))
    how = dict(tier_columns(measurement))
    groups = {}
    for (tags, hour), row in rows.items():
        tags = dict(tags)
        kind, name = owners.get((tags.get("namespace", ""), tags.get("pod_name", "")), ("", ""))
        key = (tags.get("namespace", ""), kind, name, *(tags.get(t, "") for t in extra), hour)
        fields = groups.setdefault(key, {})
        for column, value in row.items():
            if column == "time" or value is None:
                continue
            value = float(value)
            if column not in fields:
                fields[column] = value
            elif how.get(column) == "max":
                fields[column] = max(fields[column], value)
            else:
                fields[column] += value
    names = (*CONTROLLER_TAGS, *extra)
    return {key: fields for key, fields in groups.items() if fields}, names


def _stale_keys(store, measurement, start, end, names):
    """The (tags..., hour) keys of the controller tier's points in [start, end) as they are now."""
    group = ", ".join(controller_tag_identifier(measurement, tag) for tag in names)
    found = _by_series_hour(store.query(
        f"SELECT count({quote_identifier('interval_seconds')}) AS n "  # noqa: S608  (whitelisted identifiers)
        f"FROM {source_identifier(measurement, CONTROLLER_POLICY)} "
        f"WHERE time >= $start AND time < $end GROUP BY time(1h), {group} fill(none)",
        params=_ns_params(start, end), epoch="s"))
    return {(*(dict(tags).get(t, "") for t in names), hour) for tags, hour in found}


CONTROLLER_HOURS_PER_STATEMENT = ROLLUP_RECOMPUTED_HOURS + 1


def _write_controller_hours(store, start, end, owners):
    written = 0
    for measurement in NAMESPACE_MEASUREMENTS:
        groups, names = _controller_points(store, measurement, start, end, owners)
        zeros = {column: 0.0 for column, _ in tier_columns(measurement) if not column.endswith(UNKNOWN_SUFFIX)}
        for key in _stale_keys(store, measurement, start, end, names) - set(groups):
            groups[key] = zeros
        points = [Point(measurement, {t: v for t, v in zip(names, key, strict=False) if v}, fields, key[-1])
                  for key, fields in sorted(groups.items())]
        if points:
            store.write(points, policy=CONTROLLER_POLICY, precision="s")
        written += len(points)
    return written


def roll_controllers(start, end, store=None):
    """Write the controller tier of the hours in [start, end) from their hourly rollup and their
    pods' owners (``pod_controllers``), then its daily tier of the UTC days they touch; returns
    the hourly points written. Idempotent: re-rolling an hour rewrites its points, and a point
    of a group the hour no longer has (a pod whose owner was found later) is rewritten as zeros."""
    store = store or get_store()
    start, end = floor_hour(start), floor_hour(end - timedelta(microseconds=1)) + HOUR
    owners = pod_controllers(start, end, store)
    written = 0
    # A few hours per statement: every pod-hour comes back to Python (the regular run's three hours).
    for begin in range(int(start.timestamp()), int(end.timestamp()), CONTROLLER_HOURS_PER_STATEMENT * 3600):
        chunk = datetime.fromtimestamp(begin, UTC)
        written += _write_controller_hours(store, chunk, min(end, chunk + HOUR * CONTROLLER_HOURS_PER_STATEMENT),
                                           owners)
    first, last = floor_day(start), floor_day(end - timedelta(microseconds=1)) + DAY
    params = {"start": first.isoformat().replace("+00:00", "Z"), "end": last.isoformat().replace("+00:00", "Z")}
    for measurement in NAMESPACE_MEASUREMENTS:
        names = (*CONTROLLER_TAGS, *CONTROLLER_EXTRA_TAGS.get(measurement, ()))
        group = ", ".join(controller_tag_identifier(measurement, tag) for tag in names)
        store.query(
            f"SELECT {namespace_select(measurement)} "  # noqa: S608  (whitelisted identifiers; values are bound)
            f"INTO {source_identifier(measurement, CONTROLLER_DAILY_POLICY)} "
            f"FROM {source_identifier(measurement, CONTROLLER_POLICY)} "
            f"WHERE time >= $start AND time < $end GROUP BY time(1d), {group}", params=params)
    return written


def roll_node_days(start, end, store=None):
    """Write the node tier (``node_daily``) of the UTC days the hours in [start, end) touch from
    their hourly rollup: per node and day the observed seconds and the largest allocatable, what
    the idle capacity of a statement needs (``metrics.allocation.node_capacity``). Idempotent."""
    store = store or get_store()
    q = quote_identifier
    columns = [f"sum({q('interval_seconds')}) AS {q('interval_seconds')}"]
    columns += [f"max({q(name + '_max')}) AS {q(name + '_max')}" for name in MAX_FIELDS[NODE]]
    first, last = floor_day(start), floor_day(end - timedelta(microseconds=1)) + DAY
    params = {"start": first.isoformat().replace("+00:00", "Z"), "end": last.isoformat().replace("+00:00", "Z")}
    series = store.query(
        f"SELECT {', '.join(columns)} INTO {source_identifier(NODE, NODE_DAILY_POLICY)} "  # noqa: S608  (whitelisted identifiers; values are bound)
        f"FROM {source_identifier(NODE, HOURLY_POLICY)} WHERE time >= $start AND time < $end "
        f"GROUP BY time(1d), {tag_identifier(NODE, 'node_name')}", params=params)
    return series[0]["values"][0][1] if series else 0


def roll_pod_days(start, end, store=None):
    """Write the pod tier (``pod_daily``) of the UTC days in [start, end) (day boundaries) from
    their hourly rollup; returns the points written. Idempotent like the rollup."""
    store = store or get_store()
    return _roll_tier(store, HOURLY_POLICY, POD_DAILY_POLICY, start, end, "1d", tags=("namespace", "pod_name"))


def reroll_ended_days(start, end, now, store=None):
    """Re-roll the pod tier of the days touched by rolled hours [start, end) that have ended by
    ``now``: late data re-rolled into an old hour must reach its day's pod-tier point too (and
    the hours just after midnight finish the day before)."""
    first, last = floor_day(start), floor_day(end - timedelta(microseconds=1)) + DAY
    last = min(last, floor_day(now))
    if first < last:
        roll_pod_days(first, last, store)


def foreign_terms(measurement):
    """``[(kubemon field, gauge, counter or None, factor)]``: kubemon's per-sample resource-time
    fields and what gives them for other writers' samples (``factor``: into the field's unit)."""
    terms = [(name + "_integral", name, None, 1.0) for name in INTEGRAL_FIELDS.get(measurement, ())]
    if measurement == CONTAINER:
        terms.append(("cpu_core_seconds", "cpu_usage_nanocores", "cpu_usage_core_nanoseconds", 1e-9))
    return terms


def _spacing_statement(measurement, field, counter):
    """Per series and hour, ``t``: value x seconds since the previous sample (a counter: its
    increase), gaps of at most the cap; the twin of ``metrics.kinds.spacing_statement``."""
    q, raw = quote_identifier, source_identifier(measurement, RAW_POLICY)
    if counter:
        inner = f"SELECT non_negative_difference({q(field)}) AS p, elapsed({q(field)}) AS e FROM {raw} GROUP BY *"  # noqa: S608,E501
    else:
        inner = (f"SELECT e / 1000000000.0 * v AS p, e FROM (SELECT difference(c) AS v, elapsed(c) AS e FROM "  # noqa: S608
                 f"(SELECT cumulative_sum({q(field)}) AS c FROM {raw} GROUP BY *) GROUP BY *) GROUP BY *")
    return (f"SELECT sum(p) AS t FROM ({inner}) WHERE time >= $lead AND time < $end "  # noqa: S608
            f"AND e <= {SPACING_CAP_SECONDS * 10**9} GROUP BY time(1h), * fill(none)")


def _by_series_hour(series_list):
    """``{(tags, hour in s): row}`` of a ``GROUP BY time(1h), *`` answer."""
    found = {}
    for series in series_list:
        tags = tuple(sorted((series.get("tags") or {}).items()))
        for values in series["values"]:
            row = dict(zip(series["columns"], values, strict=True))
            found[(tags, row["time"])] = row
    return found


def fill_foreign(store, measurement, start, end):
    """Write the resource-time of other writers' series into their hourly points; returns how many."""
    q, terms = quote_identifier, foreign_terms(measurement)
    if not terms:
        return 0
    counts = []
    for j, (kubemon, gauge, counter, _) in enumerate(terms):
        counts += [f"count({q(gauge)}) AS n{j}", f"count({q(kubemon)}) AS k{j}"]
        counts += [f"count({q(counter)}) AS c{j}"] if counter else []
    params = {"start": int(start.timestamp()) * 10**9, "end": int(end.timestamp()) * 10**9}
    params["lead"] = params["start"] - SPACING_CAP_SECONDS * 10**9
    detected = _by_series_hour(store.query(
        f"SELECT {', '.join(counts)} FROM {source_identifier(measurement, RAW_POLICY)} "  # noqa: S608
        "WHERE time >= $start AND time < $end GROUP BY time(1h), * fill(none)", params=params, epoch="s"))
    wanted = {(j, bool(row.get(f"c{j}"))) for row in detected.values() for j in range(len(terms))
              if row[f"n{j}"] and not row[f"k{j}"]}
    labels = sorted(wanted)
    statements = [_spacing_statement(measurement, terms[j][2] if counted else terms[j][1], counted)
                  for j, counted in labels]
    spent = dict(zip(labels, (_by_series_hour(r) for r in store.query_many(statements, params=params, epoch="s")),
                     strict=True))
    points = []
    for (tags, hour), row in sorted(detected.items()):
        fields = {}
        for j, (kubemon, _, _, factor) in enumerate(terms):
            n, k = row[f"n{j}"] or 0, row[f"k{j}"] or 0
            if n and not k:
                found = spent[(j, bool(row.get(f"c{j}")))].get((tags, hour), {})
                fields[kubemon] = float(found.get("t") or 0.0) * factor
            elif k < n:
                fields[kubemon + UNKNOWN_SUFFIX] = float(n - k)
        if fields:
            points.append(Point(measurement, {key: value for key, value in tags if value}, fields, hour))
    if points:
        store.write(points, policy=HOURLY_POLICY, precision="s")
    return len(points)


def rollup_recent(now=None, hours=ROLLUP_RECOMPUTED_HOURS, store=None):
    """Recompute the current hour and the ``hours`` before it (``kubemon.timeseries.hours``)."""
    now = now or datetime.now(UTC)
    try:
        ensure_heads_since(get_redis(), now)
    except Exception as exc:  # noqa: BLE001  (Redis down: readers read the edges raw meanwhile)
        log.warning("could not set the hour heads marker: %s", exc)
    return rollup_window(floor_hour(now) - HOUR * hours, now + timedelta(seconds=1), store=store, now=now)


def _runs(hours):
    """Consecutive hours (sorted aware datetimes) as ``[(start, end), ...]``."""
    runs = []
    for hour in sorted(hours):
        if runs and runs[-1][1] == hour:
            runs[-1][1] = hour + HOUR
        else:
            runs.append([hour, hour + HOUR])
    return [tuple(run) for run in runs]


def reroll_late_hours(store=None, most=12):
    """Sum again up to ``most`` hours of the backlog, oldest first; returns how many were done.

    An hour leaves the backlog only after its rollup has been rewritten, so a run killed halfway
    leaves the rest for the next one; re-rolling an hour twice writes the same points.
    """
    store = store or get_store()
    if store.backlog is None:
        return 0
    hours = store.backlog.pending()[:most]
    for start, end in _runs(hours):
        # At most three hours per statement, as the regular run: a long SELECT INTO would outlast
        # INFLUXDB_TIMEOUT on a large cluster (bench/bench_rollup.py).
        while start < end:
            rollup_window(start, min(end, start + HOUR * (ROLLUP_RECOMPUTED_HOURS + 1)), store=store)
            start += HOUR * (ROLLUP_RECOMPUTED_HOURS + 1)
    store.backlog.done(hours)
    if hours:
        log.info("re-rolled %d hours that received data after their rollup", len(hours))
    return len(hours)


def _audit_statement(measurement, policy):
    """Per hour, a number that the raw data and its rollup agree on when the rollup is complete."""
    q = quote_identifier
    integrals = INTEGRAL_FIELDS.get(measurement) or SAMPLED_FIELDS.get(measurement)
    if integrals:
        # A sample count: exact, and every writer's points have the field (Telegraf's too).
        field = integrals[0]
        column = f"count({q(field)})" if policy == RAW_POLICY else f"sum({q(field + '_samples')})"
    else:
        column = f"sum({q('interval_seconds')})"
    return (f"SELECT {column} FROM {source_identifier(measurement, policy)} "  # noqa: S608  (whitelisted identifiers)
            "WHERE time >= $start AND time < $end GROUP BY time(1h) fill(none)")


def _late_hours(store, measurement, span):
    raw, rolled = store.query_many([_audit_statement(measurement, RAW_POLICY),
                                    _audit_statement(measurement, HOURLY_POLICY)], params=span, epoch="s", parallel=2)
    rolled_by_hour = {t: v for series in rolled for t, v in series["values"]}
    late = set()
    for series in raw:
        for hour, value in series["values"]:
            other = rolled_by_hour.get(hour)
            if other is None or abs(other - value) > 1e-9 * max(abs(value), 1.0):
                late.add(datetime.fromtimestamp(hour, UTC))
    return late


def audit_rollup(now=None, days=2, store=None):
    """Record in the backlog every hour of the last ``days`` (before the recomputed ones) whose
    raw data and rollup disagree; returns those hours."""
    store = store or get_store()
    now = now or datetime.now(UTC)
    end = floor_hour(now) - ROLLUP_HORIZON + HOUR
    late = set()
    # A day per statement: a scan of every raw point of several days would outlast INFLUXDB_TIMEOUT.
    for day in range(days):
        span = {"start": int((end - DAY * (day + 1)).timestamp()) * 10**9,
                "end": int((end - DAY * day).timestamp()) * 10**9}
        for measurement in ROLLUP_MEASUREMENTS:
            late |= _late_hours(store, measurement, span)
    if late and store.backlog is not None:
        store.backlog.mark(late)
        log.warning("the rollup audit found %d hours whose rollup misses raw data", len(late))
    return sorted(late)


def audit_if_due(redis, now=None, store=None):
    """Run ``audit_rollup`` when ``ROLLUP_AUDIT_SECONDS`` have passed since the last one (0: never)."""
    from django.conf import settings

    every = settings.ROLLUP_AUDIT_SECONDS
    last = redis.get(keys.ROLLUP_LAST_AUDIT)
    if every <= 0 or (last is not None and time.time() - float(last) < every):
        return None
    late = audit_rollup(now, days=settings.ROLLUP_AUDIT_DAYS, store=store)
    redis.set(keys.ROLLUP_LAST_AUDIT, time.time())
    return late
