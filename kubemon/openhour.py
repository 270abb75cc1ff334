"""Running sums of the hours the rollup has not settled yet, kept by the usage cycle in Redis.

A window "up to now" ends in an hour that the rollup cannot answer yet, and reading it raw costs
a scan of every sample since the hour began (240 per container at a 15 s cadence). So each usage
cycle adds its container samples to per-hour sums per pod and per namespace, under the columns
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

A sharded usage cycle (``COLLECT_USAGE_SHARDS``, collectors/shards.py) keeps one document per
shard and hour (``kubemon:open-hour:<hour epoch>/<i>of<n>``), each whole or not by its own
shard's cycles, and adds its layout (``<n>``, or ``1`` unsharded) to the hour's layout set;
``open_hour`` merges the shards' documents and calls the hour whole only if it had one layout
and every shard's document is there and whole.

Readers fall back to raw data for an hour whose document is missing or broken. Other writers'
samples (Telegraf's) are not in the sums: with such writers, set ``API_OPEN_HOUR_SUMS`` off.
"""

import orjson

from kubemon import keys
from kubemon.timeseries.hours import HOUR
from kubemon.timeseries.schema import CONTAINER, INTEGER_FIELDS, INTEGRAL_FIELDS, SUMMED_FIELDS

KEEP_SECONDS = 4 * 3600  # the open hours and the ones still settling, with room to spare
# Stored as integers (Telegraf's types): a float given for one is written rounded, half to even.
_INTEGERS = INTEGER_FIELDS[CONTAINER]
HOUR_SECONDS = int(HOUR.total_seconds())

# The columns of a group's sums, in the order of its list: a list per group (not a dict) keeps a
# 10,000-pod cycle's sums and their merge into the stored hour cheap.
COLUMNS = []
_INTEGRALS = []  # (field, index of <field>_sum, _integral, _max, _samples)
for _name in INTEGRAL_FIELDS[CONTAINER]:
    _INTEGRALS.append((_name, _name + "_integral", len(COLUMNS), len(COLUMNS) + 1, len(COLUMNS) + 2,
                       len(COLUMNS) + 3))
    COLUMNS += [_name + "_sum", _name + "_integral", _name + "_max", _name + "_samples"]
_SUMMED = []
for _name in (*SUMMED_FIELDS[CONTAINER], "interval_seconds"):
    _SUMMED.append((_name, len(COLUMNS)))
    COLUMNS.append(_name)
COLUMNS = tuple(COLUMNS)
_MAXIMA = tuple(i for i, column in enumerate(COLUMNS) if column.endswith("_max"))
_INTERVAL = COLUMNS.index("interval_seconds")
_WIDTH = len(COLUMNS)


def _add(sums, fields):
    """Add one sample's fields to ``sums`` (a list in ``COLUMNS`` order, None where nothing was
    added yet); runs 10,000 times a cycle."""
    get = fields.get
    for name, integral, total, integral_at, peak, count in _INTEGRALS:
        value = get(name)
        if value is not None:
            if type(value) is float and name in _INTEGERS:
                value = round(value)
            previous = sums[total]
            sums[total] = value if previous is None else previous + value
            sums[count] = (sums[count] or 0) + 1
            previous = sums[peak]
            if previous is None or value > previous:
                sums[peak] = value
        value = get(integral)
        if value is not None:
            previous = sums[integral_at]
            sums[integral_at] = value if previous is None else previous + value
    for name, at in _SUMMED:
        value = get(name)
        if value is not None:
            previous = sums[at]
            sums[at] = value if previous is None else previous + value
    if sums[_INTERVAL] is None:
        sums[_INTERVAL] = 0.0


def _merge(into, sums):
    """``into`` + ``sums``, column by column (maxima of maxima), as a new list; 10,000 times a
    cycle, so the common case (no None) is one comprehension."""
    try:
        out = [a + b for a, b in zip(into, sums, strict=True)]
    except TypeError:
        out = [b if a is None else a if b is None else a + b for a, b in zip(into, sums, strict=True)]
    for i in _MAXIMA:
        a, b = into[i], sums[i]
        out[i] = b if a is None else a if b is None else (a if a >= b else b)
    return out


def as_columns(sums):
    """A group's sums as ``{column: value}`` (the names of the hourly rollup's columns)."""
    return dict(zip(COLUMNS, sums, strict=True))


class OpenHourSums:
    """One cycle's sums per pod, and per namespace from them, by hour; ``add`` them as points are
    made, ``save`` them with the state."""

    def __init__(self):
        self.hours = {}  # hour epoch -> {"<namespace>/<pod>": sums}

    def add(self, points):
        hours = self.hours
        for point in points:
            if point.measurement != CONTAINER:
                continue
            hour = int(point.timestamp) // HOUR_SECONDS * HOUR_SECONDS
            groups = hours.get(hour)
            if groups is None:
                groups = hours[hour] = {}
            tags = point.tags
            # Namespaces and pod names are DNS names: "/" joins them unambiguously.
            pod = f"{tags.get('namespace', '')}/{tags.get('pod_name', '')}"
            sums = groups.get(pod)
            if sums is None:
                sums = groups[pod] = [None] * _WIDTH
            _add(sums, point.fields)

    @staticmethod
    def _namespaces(pods):
        namespaces = {}
        for pod, sums in pods.items():
            namespace = pod.partition("/")[0]
            previous = namespaces.get(namespace)
            namespaces[namespace] = sums if previous is None else _merge(previous, sums)
        return namespaces

    def save(self, redis, pipe, slot, previous_cycle, usual, shard=None):
        """Queue on ``pipe`` the documents with this cycle's sums merged in, unless they already
        hold ``slot``. ``previous_cycle`` (the sample time of the cycle before, or None) and
        ``usual`` (the usual spacing) decide whether a new hour's document starts whole.
        ``shard`` (``"<i>of<n>"``) names a sharded cycle's shard: its own documents."""
        if not self.hours:
            return
        hours = sorted(self.hours)
        for hour in hours:
            _note_layout(pipe, hour, shard)
        stored = redis.mget([_key(hour, shard) for hour in hours])
        for hour, raw in zip(hours, stored, strict=True):
            doc = orjson.loads(raw) if raw else None
            if doc is not None and doc.get("columns") != list(COLUMNS):
                # Summed by another version of kubemon: unusable, and no longer whole.
                doc = _empty(whole=False)
            if doc is None:
                doc = _empty(whole=previous_cycle is not None and previous_cycle >= hour - 2 * usual)
            if slot in doc["slots"]:
                continue
            doc["slots"].append(slot)
            doc["until"] = max(doc["until"], slot)
            cycle = self.hours[hour]
            for level, groups in (("pods", cycle), ("namespaces", self._namespaces(cycle))):
                stored_groups = doc[level]
                for group, sums in groups.items():
                    previous = stored_groups.get(group)
                    stored_groups[group] = sums if previous is None else _merge(previous, sums)
            pipe.set(_key(hour, shard), orjson.dumps(doc), ex=KEEP_SECONDS)


def _key(hour, shard=None):
    return f"{keys.OPEN_HOUR}{hour}" + (f"/{shard}" if shard else "")


def _note_layout(pipe, hour, shard):
    """Add the cycle's layout to the hour's set: ``1`` unsharded, else the shard count."""
    layout = _layout_key(hour)
    pipe.sadd(layout, shard.partition("of")[2] if shard else "1")
    pipe.expire(layout, KEEP_SECONDS)


def _layout_key(hour):
    return f"{keys.OPEN_HOUR_LAYOUTS}{hour}"


def _empty(whole):
    return {"whole": whole, "columns": list(COLUMNS), "slots": [], "until": 0, "namespaces": {}, "pods": {}}


def break_open_hours(redis, now, shard=None):
    """Mark the documents of the hours around ``now`` broken, existing or not yet (a cycle's
    points may be in InfluxDB and missing from the sums); ``shard``: that shard's documents."""
    hour = int(now) // HOUR_SECONDS * HOUR_SECONDS
    broken = orjson.dumps(_empty(whole=False))
    pipe = redis.pipeline(transaction=True)
    for start in range(hour - 3 * HOUR_SECONDS, hour + 2 * HOUR_SECONDS, HOUR_SECONDS):
        pipe.set(_key(start, shard), broken, ex=KEEP_SECONDS)
        _note_layout(pipe, start, shard)
    pipe.execute()


def _usable(doc):
    return doc is not None and doc.get("whole") and doc.get("columns") == list(COLUMNS)


def open_hour(redis, hour):
    """The document of ``hour`` (epoch seconds) if it is whole, else None; a sharded hour's
    documents merged into one."""
    raw, layouts = redis.pipeline(transaction=False).get(_key(hour)).smembers(_layout_key(hour)).execute()
    layouts = {value.decode() if isinstance(value, bytes) else value for value in layouts}
    if raw or not layouts or layouts == {"1"}:
        # Unsharded (a document from before the layouts were noted has none): it must be the only layout.
        doc = orjson.loads(raw) if raw else None
        return doc if _usable(doc) and layouts <= {"1"} else None
    if len(layouts) != 1:
        return None  # the shard count changed within the hour: no layout summed all of it
    count = int(next(iter(layouts)))
    docs = [orjson.loads(raw) if raw else None
            for raw in redis.mget([_key(hour, f"{i}of{count}") for i in range(1, count + 1)])]
    if not all(_usable(doc) for doc in docs):
        return None
    merged = _empty(whole=True)
    merged["slots"] = sorted(set(docs[0]["slots"]).intersection(*(doc["slots"] for doc in docs[1:])))
    merged["until"] = max(doc["until"] for doc in docs)  # every sample any shard summed is before it
    for doc in docs:
        for level in ("pods", "namespaces"):
            into = merged[level]
            for group, sums in doc[level].items():
                previous = into.get(group)
                into[group] = sums if previous is None else _merge(previous, sums)
    return merged
