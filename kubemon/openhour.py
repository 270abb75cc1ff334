"""Running sums of the hours the rollup has not settled yet, kept by the usage cycle in Redis.

A window "up to now" ends in an hour that the rollup cannot answer yet, and reading it raw costs
a scan of every sample since the hour began (240 per container at a 15 s cadence). So each usage
cycle adds its container samples to per-hour sums per namespace, under the columns
the hourly rollup has (``<field>_sum``, ``_integral``, ``_max``, ``_samples``, the summed fields
and ``interval_seconds``, see ``kubemon.timeseries.schema``); the read side (``metrics``) then
answers the open part of a window from them as it would from a rollup point.

One document per hour, ``kubemon:open-hour:<hour epoch>``, holding the sample times (``slots``)
it has summed: a rerun over the same samples adds nothing (Celery is at-least-once). It is saved
in the same Redis transaction as the cycle's sampling state, so the two never disagree. A
document is *whole* only if the cycles summed every sample of its hour:

- it is created whole only by a cycle that follows another one of at most two usual spacings
  before the hour began (kubemon was collecting at the boundary);
- a cycle whose state was in doubt (a killed run may have written points without summing them)
  marks the open documents broken, as does a Redis without them (restarted empty).

Readers fall back to raw data for an hour whose document is missing or broken. Other writers'
samples (Telegraf's) are not in the sums: with such writers, set ``API_OPEN_HOUR_SUMS`` off.
"""

import orjson

from kubemon import keys
from kubemon.timeseries.hours import HOUR
from kubemon.timeseries.schema import CONTAINER, INTEGER_FIELDS, INTEGRAL_FIELDS, SUMMED_FIELDS

KEEP_SECONDS = 4 * 3600  # the open hours and the ones still settling, with room to spare
_INTEGRALS = tuple((name, name + "_sum", name + "_integral", name + "_max", name + "_samples")
                   for name in INTEGRAL_FIELDS[CONTAINER])
_SUMMED = SUMMED_FIELDS[CONTAINER]
# Stored as integers (Telegraf's types): a float given for one is written rounded, half to even.
_INTEGERS = INTEGER_FIELDS[CONTAINER]
HOUR_SECONDS = int(HOUR.total_seconds())


def _key(hour):
    return f"{keys.OPEN_HOUR}{hour}"


def _add(sums, fields):
    """Add one sample's fields to ``sums`` (column -> value); runs 10,000 times a cycle."""
    get = fields.get
    for name, total, integral, peak, count in _INTEGRALS:
        value = get(name)
        if value is not None:
            if type(value) is float and name in _INTEGERS:
                value = round(value)
            sums[total] = sums.get(total, 0.0) + value
            sums[count] = sums.get(count, 0) + 1
            previous = sums.get(peak)
            if previous is None or value > previous:
                sums[peak] = value
        value = get(integral)
        if value is not None:
            sums[integral] = sums.get(integral, 0.0) + value
    for name in _SUMMED:
        value = get(name)
        if value is not None:
            sums[name] = sums.get(name, 0.0) + value
    sums["interval_seconds"] = sums.get("interval_seconds", 0.0) + (get("interval_seconds") or 0.0)


def _merge(into, sums):
    for column, value in sums.items():
        previous = into.get(column)
        if previous is None:
            into[column] = value
        elif column.endswith("_max"):
            into[column] = max(previous, value)
        else:
            into[column] = previous + value


class OpenHourSums:
    """One cycle's sums per namespace, by hour; ``add`` them as points are made, ``save`` them
    with the state. (Per pod, they would cost 0.3 s of a 10,000-pod cycle to keep: pod-level
    questions read the open hours raw.)"""

    def __init__(self):
        self.hours = {}  # hour epoch -> {namespace: sums}

    def add(self, points):
        hours = self.hours
        for point in points:
            if point.measurement != CONTAINER:
                continue
            hour = int(point.timestamp) // HOUR_SECONDS * HOUR_SECONDS
            groups = hours.get(hour)
            if groups is None:
                groups = hours[hour] = {}
            namespace = point.tags.get("namespace", "")
            sums = groups.get(namespace)
            if sums is None:
                sums = groups[namespace] = {}
            _add(sums, point.fields)

    def save(self, redis, pipe, slot, previous_cycle, usual):
        """Queue on ``pipe`` the documents with this cycle's sums merged in, unless they already
        hold ``slot``. ``previous_cycle`` (the sample time of the cycle before, or None) and
        ``usual`` (the usual spacing) decide whether a new hour's document starts whole."""
        if not self.hours:
            return
        hours = sorted(self.hours)
        stored = redis.mget([_key(hour) for hour in hours])
        for hour, raw in zip(hours, stored, strict=True):
            doc = orjson.loads(raw) if raw else None
            if doc is None:
                whole = previous_cycle is not None and previous_cycle >= hour - 2 * usual
                doc = {"whole": whole, "slots": [], "until": 0, "namespaces": {}}
            if slot in doc["slots"]:
                continue
            doc["slots"].append(slot)
            doc["until"] = max(doc["until"], slot)
            for group, sums in self.hours[hour].items():
                _merge(doc["namespaces"].setdefault(group, {}), sums)
            pipe.set(_key(hour), orjson.dumps(doc), ex=KEEP_SECONDS)


def break_open_hours(redis, now):
    """Mark the documents of the hours around ``now`` broken, existing or not yet (a cycle's
    points may be in InfluxDB and missing from the sums)."""
    hour = int(now) // HOUR_SECONDS * HOUR_SECONDS
    broken = orjson.dumps({"whole": False, "slots": [], "until": 0, "namespaces": {}})
    pipe = redis.pipeline(transaction=True)
    for start in range(hour - 3 * HOUR_SECONDS, hour + 2 * HOUR_SECONDS, HOUR_SECONDS):
        pipe.set(_key(start), broken, ex=KEEP_SECONDS)
    pipe.execute()


def open_hour(redis, hour):
    """The document of ``hour`` (epoch seconds) if it is whole, else None."""
    raw = redis.get(_key(hour))
    if not raw:
        return None
    doc = orjson.loads(raw)
    return doc if doc.get("whole") else None
