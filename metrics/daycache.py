"""A Redis cache of per-day aggregates of the hourly rollup, for days that can no longer change.

A month-long query reads ~720 rollup points per series and four fields of each: about half a
second for 1,000 pods on InfluxDB 1.6 (docs/benchmarks.md). A finished day's aggregates never
change once the rollup has stopped recomputing its hours, so they are kept in Redis per
(metric, grouping, namespace selection, day) and a later query over any window containing that
day reads them instead of InfluxDB. Only whole UTC days that ended ``FINAL_AGE`` before now are
cached; the ragged hours and days around them are always read from InfluxDB.

Re-running the rollup over old days (a backfill) should be followed by ``clear()``; otherwise the
cache expires after ``API_DAY_CACHE_SECONDS``.
"""

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
from django.conf import settings

from kubemon import keys
from kubemon.redis import get_redis
from kubemon.timeseries.backlog import RollupBacklog
from kubemon.timeseries.hours import ROLLUP_HORIZON

log = logging.getLogger(__name__)

PREFIX = keys.DAY_CACHE
# Entries of whole spans and window edges (below): beside the days', cleared with them.
SPAN_PREFIX = keys.PREFIX + "api:span:"
_SEP = "\x1f"


def final_before(now):
    """Days that ended by this moment can no longer change (the rollup has stopped rewriting them)."""
    return now - ROLLUP_HORIZON - timedelta(seconds=settings.API_ROLLUP_SETTLE_SECONDS)


def enabled():
    return settings.API_DAY_CACHE_SECONDS > 0


def _key(metric, group_tags, selection, day, generation):
    identity = orjson.dumps([metric.name, list(group_tags), selection.namespaces, list(selection.exclude),
                             day.isoformat(), generation])
    return PREFIX + hashlib.sha256(identity).hexdigest()


@dataclass
class Lookup:
    """The cached days found, and each day's rollup generation the keys were made with.

    A day's generation changes when late data lands in it and when it is re-rolled
    (``kubemon/timeseries/backlog.py``), so an entry of an older generation is never read again
    (it expires). What a query computes is stored under the generation it read first: a re-roll
    that happens meanwhile makes that entry unreachable instead of stale.
    """

    found: dict = field(default_factory=dict)
    generations: dict = field(default_factory=dict)


def get(metric, group_tags, selection, days):
    """A ``Lookup`` whose ``found`` is ``{day: {group key: [s, i, mx, n, sb, ib]}}`` (Redis trouble: none)."""
    if not days:
        return Lookup()
    try:
        generations = RollupBacklog(get_redis()).generations(days)
        values = get_redis().mget([_key(metric, group_tags, selection, day, generations[day]) for day in days])
    except Exception as exc:  # noqa: BLE001  (the cache is an accelerator; InfluxDB still answers)
        log.warning("day cache unavailable: %s", exc)
        return Lookup()
    found = {}
    for day, value in zip(days, values, strict=True):
        if value is not None:
            found[day] = {tuple(k.split(_SEP)) if k else (): v for k, v in orjson.loads(value).items()}
    return Lookup(found, generations)


def put(metric, group_tags, selection, per_day, generations):
    """Store ``{day: {group key: [s, i, mx, n, sb, ib]}}`` under the generations ``get`` read."""
    per_day = {day: groups for day, groups in per_day.items() if day in generations}
    if not per_day:
        return
    try:
        pipe = get_redis().pipeline()
        for day, groups in per_day.items():
            payload = orjson.dumps({_SEP.join(key): value for key, value in groups.items()})
            pipe.set(_key(metric, group_tags, selection, day, generations[day]), payload,
                     ex=settings.API_DAY_CACHE_SECONDS)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001
        log.warning("day cache unavailable: %s", exc)


def clear():
    """Forget every cached day, span and edge (after a rollup backfill); returns the days forgotten."""
    redis = get_redis()
    days = 0
    for prefix in (PREFIX, SPAN_PREFIX):
        keys = list(redis.scan_iter(prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            redis.delete(*keys[start : start + 1000])
        days += len(keys) if prefix == PREFIX else 0
    return days


# --- whole spans of the daily tiers ---
#
# A daily tier (``namespace_daily``, ``pod_daily``) answers a month in one statement, but for
# 1,000 pods that statement still opens every pod's series. The days it covers are final, so
# its answer is kept whole, keyed by the span and every day's generation: late data or a
# re-roll in any of its days makes the entry unreachable, as for a single day.


def span_key(metric, group_tags, selection, policy, span, days):
    """The entry of ``metric``'s read of the daily tier ``policy`` over ``span`` (its ``days``),
    or None (Redis trouble: read InfluxDB)."""
    try:
        generations = RollupBacklog(get_redis()).generations(days)
    except Exception as exc:  # noqa: BLE001  (the cache is an accelerator; InfluxDB still answers)
        log.warning("day cache unavailable: %s", exc)
        return None
    identity = orjson.dumps([metric.name, list(group_tags), selection.namespaces, list(selection.exclude), policy,
                             span.begin.isoformat(), span.end.isoformat(), [generations[day] for day in days]])
    return SPAN_PREFIX + hashlib.sha256(identity).hexdigest()


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def oldest_raw_kept(now):
    """Edges before this are not cached: their raw samples may expire (``INFLUXDB_RAW_RETENTION``,
    dropped a daily shard at a time) while the entry lives, and a fresh read would then find
    none. None: raw data is kept forever."""
    text = settings.INFLUXDB_RAW_RETENTION.strip()
    if text in ("0", "0s", "INF", "inf") or not text[:-1].isdigit() or text[-1] not in _UNITS:
        return None
    keep = int(text[:-1]) * _UNITS[text[-1]]
    return now - timedelta(seconds=keep - settings.API_DAY_CACHE_SECONDS) + timedelta(days=1)


def edge_key(statement, params, days):
    """The entry of a window edge's raw read (``metrics.edges``) over final ``days``: its
    statement and values, and the days' generations (late data in them makes it unreachable)."""
    try:
        generations = RollupBacklog(get_redis()).generations(days)
    except Exception as exc:  # noqa: BLE001
        log.warning("day cache unavailable: %s", exc)
        return None
    values = {name: value for name, value in sorted(params.items()) if f"${name}" in statement}
    identity = orjson.dumps([statement, values, [generations[day] for day in days]])
    return SPAN_PREFIX + "edge:" + hashlib.sha256(identity).hexdigest()


def get_entry(key):
    """The JSON value stored under ``key``, or None (also on Redis trouble)."""
    try:
        value = get_redis().get(key)
    except Exception as exc:  # noqa: BLE001
        log.warning("day cache unavailable: %s", exc)
        return None
    return None if value is None else orjson.loads(value)


def put_entry(key, value):
    try:
        get_redis().set(key, orjson.dumps(value), ex=settings.API_DAY_CACHE_SECONDS)
    except Exception as exc:  # noqa: BLE001
        log.warning("day cache unavailable: %s", exc)


def get_span(key):
    """``{group key: [s, i, mx, n, sb, ib, u]}`` stored under ``key``, or None."""
    found = get_entry(key)
    if found is None:
        return None
    return {tuple(k.split(_SEP)) if k else (): v for k, v in found.items()}


def put_span(key, groups):
    put_entry(key, {_SEP.join(group): values for group, values in groups.items()})
