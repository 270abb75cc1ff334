"""After the jobs: roll the raw hours up, then keep the namespace and pod tiers and their markers right.

- Raw hours: ``collectors.rollup.rollup_window`` in steps of three hours (as the rollup task
  re-rolls late hours: a longer ``SELECT ... INTO`` would outlast ``INFLUXDB_TIMEOUT`` on a large
  cluster). It also writes their namespace tier and re-rolls the pod tier of their ended days.
  Then the hours leave the rollup backlog (where the jobs recorded them before writing).
- Hours written straight into the hourly rollup: their namespace, controller and node tiers
  (``roll_namespaces``, ``roll_controllers``: legacy pods have no owner, so no controller;
  ``roll_node_days``; two days per statement as ``collectors.tiers`` fills them) and their final
  days' pod tier (``roll_pod_days``), and a new generation for their days, so that the day cache
  never answers them from before the import.
- Markers: readers use the namespace tier only from ``NAMESPACE_TIER_SINCE`` (the controller tier
  from ``CONTROLLER_TIER_SINCE``, the node tier from ``NODE_TIER_SINCE``'s day) and the pod tier only
  within ``POD_TIER_SPAN`` (``kubemon.timeseries.tiers``). History older than them would be read
  from the hourly rollup (right, slower); so the tiers are also rolled over the hours between the
  imported span and the markers, and the markers moved back to the first imported hour. Markers
  not set yet (no rollup run so far) are left to the rollup task, which fills backwards itself.
"""

from datetime import UTC, datetime

from collectors.rollup import roll_controllers, roll_namespaces, roll_node_days, roll_pod_days, rollup_window
from kubemon.redis import get_redis
from kubemon.timeseries.hours import DAY, HOUR, ROLLUP_HORIZON, ROLLUP_RECOMPUTED_HOURS, floor_day
from kubemon.timeseries.tiers import (
    controller_tier_since,
    namespace_tier_since,
    node_tier_since,
    pod_tier_span,
    set_controller_tier_since,
    set_namespace_tier_since,
    set_node_tier_since,
    set_pod_tier_span,
)

ROLLUP_STEP = HOUR * (ROLLUP_RECOMPUTED_HOURS + 1)
TIER_STEP = DAY * 2
# Raw rows one rollup statement may sum: three hours of a 1,000-pod cluster at 60 s is about
# 360,000 rows per legacy measurement; a sparse history is rolled a week at a time.
ROWS_PER_ROLLUP = 400_000


def _dt(seconds):
    return datetime.fromtimestamp(seconds, UTC)


def _hours(start, end):
    out = []
    while start < end:
        out.append(start)
        start += HOUR
    return out


def roll_raw_hours(store, checkpoint, progress=None):
    """Roll up the raw hours the jobs wrote; resumable (``rolled_until`` in the checkpoint)."""
    span = checkpoint.data["raw_hours"]
    if not span:
        return 0
    start = _dt(max(span[0], checkpoint.data["rolled_until"] or span[0]))
    end = _dt(span[1])
    per_hour = checkpoint.data.get("raw_rows", 0) / max((span[1] - span[0]) / 3600, 1)
    step = ROLLUP_STEP * max(1, min(56, int(ROWS_PER_ROLLUP / max(per_hour * 3, 1))))
    steps = 0
    while start < end:
        stop = min(start + step, end)
        rollup_window(start, stop, store=store)
        if store.backlog is not None:
            store.backlog.done(_hours(start, stop))
        checkpoint.data["rolled_until"] = int(stop.timestamp())
        checkpoint.save()
        if progress is not None:
            progress.advance((stop - start) / HOUR, 0, "rollup")
        start = stop
        steps += 1
    return steps


def _roll_namespace_span(store, start, end):
    while start < end:
        stop = min(start + TIER_STEP, end)
        roll_namespaces(start, stop, store=store)
        roll_controllers(start, stop, store=store)
        roll_node_days(start, stop, store=store)
        start = stop


def _roll_final_days(store, start, end, now):
    """The pod tier of the days touched by [start, end) that have ended and are final."""
    first, last = floor_day(start), min(floor_day(end - HOUR) + DAY, floor_day(now - ROLLUP_HORIZON))
    while first < last:
        stop = min(first + TIER_STEP, last)
        roll_pod_days(first, stop, store=store)
        first = stop


def build_tiers(store, checkpoint, now, redis=None):
    """The tiers of the hours written straight into the hourly rollup, then the markers."""
    redis = redis or get_redis()
    hourly = checkpoint.data["hourly_hours"]
    if hourly:
        start, end = _dt(hourly[0]), _dt(hourly[1])
        _roll_namespace_span(store, start, end)
        _roll_final_days(store, start, end, now)
        if store.backlog is not None:
            store.backlog.done(_hours(start, end))  # new day generations: the day cache forgets those days
    spans = [s for s in (hourly, checkpoint.data["raw_hours"]) if s]
    if not spans:
        return
    first, last = _dt(min(s[0] for s in spans)), _dt(max(s[1] for s in spans))
    since = namespace_tier_since(redis)
    if since is not None and first < since:
        if last < since:
            _roll_namespace_span(store, last, since)
        set_namespace_tier_since(redis, first)
    controllers = controller_tier_since(redis)
    if controllers is not None and first < controllers:
        if last < controllers:
            _roll_namespace_span(store, last, controllers)  # the other tiers are rewritten as they were
        set_controller_tier_since(redis, first)
    nodes = node_tier_since(redis)
    if nodes is not None and first < nodes:
        if last < nodes:
            _roll_namespace_span(store, last, nodes)
        set_node_tier_since(redis, first)
    pods = pod_tier_span(redis)
    if pods is not None and floor_day(first) < pods[0]:
        day = floor_day(first)
        if floor_day(last - HOUR) + DAY < pods[0]:
            _roll_final_days(store, floor_day(last - HOUR) + DAY, pods[0], now)
        set_pod_tier_span(redis, day, pods[1])
