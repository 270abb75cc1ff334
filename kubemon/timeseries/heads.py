"""Hour heads: the part of each hour's first samples that lies before the hour, kept per hour.

A sample at ``t`` stands for ``(t - interval_seconds, t]`` (DESIGN §12), so the first sample of an
hour ``[h, h+1h)`` usually stands partly for the hour before. A window's edges share such samples
out (``metrics.edges``): on a whole hour ``h`` that takes the samples of ``[h, h + reach)`` from raw
data, and ``h - start`` of each one's interval. Reading them costs a raw scan of every series at
the edge (about half of a cold month's request), and is impossible once raw data has expired.

So every raw sample that straddles its hour's start, and lies within ``reach`` of it (the same
rule the edge reads apply), carries ``<field>_head``: the resource-time of its interval that lies
before the hour, for each field the edges share out. The rollup sums them like the other columns
(``collectors.rollup``), and the namespace tier sums them per namespace; then a window edge on a
whole hour ``h`` is the heads of hour ``h``'s rollup point: subtracted at a window's begin, added
at its end. The answer is the raw edge read's, from one point per group instead of every series'
raw samples.

``EDGE_HEADS_SINCE`` in Redis is the first hour whose raw samples were all written with heads
(set by the rollup task when it is missing, an hour ahead: the code that writes heads runs from
then on). Readers use heads only from that hour on; before it, and when the key is lost, they read
the edge raw as before, which costs speed, not correctness.
"""

import logging
from datetime import UTC, datetime

from kubemon import keys
from kubemon.timeseries.hours import HOUR, floor_hour
from kubemon.timeseries.schema import INTEGRAL_FIELDS, SUMMED_FIELDS

log = logging.getLogger(__name__)

HEAD_SUFFIX = "_head"
# Per measurement, the per-sample resource-time fields a window's edges share out: the integrals
# of the gauges, and the summed ones (CPU-seconds, the allocation's max(request, usage)-seconds,
# the coverage's gap and unobserved seconds) that metrics read as ``integral_from``.
HEAD_FIELDS = {measurement: tuple(name + "_integral" for name in names)
               for measurement, names in INTEGRAL_FIELDS.items()}
for _measurement, _names in SUMMED_FIELDS.items():
    HEAD_FIELDS[_measurement] = HEAD_FIELDS.get(_measurement, ()) + tuple(_names)


def reach_seconds(schedule):
    """How far past an edge samples are shared: twice the slowest of the usage and GPU cycles'
    intervals (``COLLECT_SCHEDULE``), the usual sample's reach. Readers and writers use this one rule."""
    return 2 * max(schedule.get("usage") or 15, schedule.get("gpu") or 15)


def head_share(t_seconds, interval, reach):
    """The part of a sample's interval that lies before the start of its hour, if it lies within
    ``reach`` seconds of it; else 0."""
    offset = t_seconds % 3600
    if not interval or offset >= reach or offset >= interval:
        return 0.0
    return (interval - offset) / interval  # (hour - (t - interval)) / interval


def add_heads(measurement, fields, t_seconds, reach, interval=None):
    """Add ``<field>_head`` to a raw sample's ``fields`` (in place) if its interval straddles the
    start of its hour and it lies within ``reach`` seconds of it; returns ``fields``.
    ``interval``: the sample's, when ``fields`` lack ``interval_seconds`` (another point carries it)."""
    names = HEAD_FIELDS.get(measurement)
    if names is None:
        return fields
    share = head_share(t_seconds, interval or fields.get("interval_seconds"), reach)
    if not share:
        return fields
    for name in names:
        value = fields.get(name)
        if value is not None:
            fields[name + HEAD_SUFFIX] = float(value) * share
    return fields


def heads_since(redis):
    """The first hour (aware datetime) from which rollup points carry their samples' heads, or None."""
    try:
        raw = redis.get(keys.EDGE_HEADS_SINCE)
    except Exception as exc:  # noqa: BLE001  (Redis down: read the edges raw, slower but right)
        log.warning("hour heads marker unavailable, reading window edges raw: %s", exc)
        return None
    return datetime.fromtimestamp(int(raw), UTC) if raw else None


def set_heads_since(redis, hour):
    redis.set(keys.EDGE_HEADS_SINCE, int(hour.timestamp()))


def ensure_heads_since(redis, now=None):
    """Set the marker if it is missing: two hours after the current one's start, so that every
    sample of those hours is written by a process that writes heads (a worker of the release
    before may still be finishing a cycle). Returns the marker."""
    hour = floor_hour(now or datetime.now(UTC)) + 2 * HOUR
    redis.set(keys.EDGE_HEADS_SINCE, int(hour.timestamp()), nx=True)
    return heads_since(redis)


def head_columns(measurement):
    """``<field>_head`` names of ``measurement``."""
    return tuple(name + HEAD_SUFFIX for name in HEAD_FIELDS.get(measurement, ()))


__all__ = ["HEAD_FIELDS", "HEAD_SUFFIX", "add_heads", "ensure_heads_since", "head_columns", "head_share", "heads_since",
           "reach_seconds", "set_heads_since"]
