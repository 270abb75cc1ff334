"""The open end of a window from the usage cycle's running sums (``kubemon.openhour``).

A window "up to now" ends in hours the rollup has not settled; reading them raw scans every
sample since they began. Where the running sums of such an hour are whole, and the window covers
every sample they hold, the hour is answered from them instead, column for column as from a
rollup point; every other part stays a raw read. Only the container measurement has running
sums, kept per namespace and per pod: totals per namespace and per pod use them. The last hours
of an hourly piece (settled, still recomputed by the rollup) are answered from them too where
they are whole, so that the rest of the piece is final and the day cache can keep it.
"""

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings

from kubemon.openhour import COLUMNS, KEEP_SECONDS, open_hour
from kubemon.redis import get_redis
from kubemon.timeseries.hours import HOUR, ceil_hour, floor_hour
from kubemon.timeseries.schema import CONTAINER, HOURLY_POLICY, NAMESPACE_POLICY, RAW_POLICY
from metrics.results import Partial
from metrics.window import Window

OPEN_POLICY = "open"
# Hourly tiers whose recent hours the running sums answer as well (per pod and per namespace).
RECENT_POLICIES = (HOURLY_POLICY, NAMESPACE_POLICY)
LEVELS = {("namespace",): "namespaces", ("namespace", "pod_name"): "pods"}
_COLUMN = re.compile(r'(sum|max)\("([^"]+)"\)')


def usable(metric, group_tags):
    return (settings.API_OPEN_HOUR_SUMS and metric.measurement == CONTAINER and metric.rollup
            and tuple(group_tags) in LEVELS)


def _answerable(doc, hour, end):
    """Whether ``doc`` answers ``[hour, end)``: the whole hour, or every sample it holds is before ``end``."""
    return doc is not None and (end >= hour + HOUR or doc["until"] < end.timestamp())


def open_pieces(metric, pieces, group_tags, redis=None):
    """``(pieces, docs)``: the raw pieces' hours that running sums answer become ``OPEN_POLICY``
    pieces of one hour each; ``docs`` maps their hour start to the running sums."""
    if not usable(metric, group_tags):
        return pieces, {}
    redis = redis or get_redis()
    out, docs = [], {}
    for policy, part in pieces:
        if policy in RECENT_POLICIES:
            out += _recent_hours(policy, part, redis, docs)
            continue
        if policy != RAW_POLICY:
            out.append((policy, part))
            continue
        cursor = part.begin
        # Only the last hours can have sums (their documents expire after KEEP_SECONDS): a raw
        # piece of decades must not cost a Redis read per hour.
        now = datetime.now(UTC)
        hour = max(ceil_hour(part.begin), floor_hour(now) - timedelta(seconds=KEEP_SECONDS))
        last = min(part.end, floor_hour(now) + HOUR)
        while hour < last:
            end = min(hour + HOUR, part.end)
            doc = open_hour(redis, int(hour.timestamp()))
            if _answerable(doc, hour, end):
                if cursor < hour:
                    out.append((RAW_POLICY, Window(cursor, hour)))
                out.append((OPEN_POLICY, Window(hour, end)))
                docs[hour] = doc
                cursor = end
            hour += HOUR
        if cursor < part.end:
            out.append((RAW_POLICY, Window(cursor, part.end)))
    return out, docs


def _recent_hours(policy, part, redis, docs):
    """An hourly piece whose last hours have whole running sums, as the hourly piece before them
    and an ``OPEN_POLICY`` piece per such hour (only a run that reaches the piece's end: never
    more statements than the piece alone). Those hours are still recomputed by the rollup, so
    no cache may keep them, while the hours before them are final sooner: a repeated "30 days
    up to now" per pod then reads no hour of its last day from InfluxDB twice."""
    now = datetime.now(UTC)
    oldest = max(part.begin, floor_hour(now) - timedelta(seconds=KEEP_SECONDS))
    cut, found = part.end, []
    while cut - HOUR >= oldest:
        doc = open_hour(redis, int((cut - HOUR).timestamp()))
        if doc is None:
            break
        cut -= HOUR
        found.append((cut, doc))
    if not found:
        return [(policy, part)]
    out = [(policy, Window(part.begin, cut))] if part.begin < cut else []
    for hour, doc in reversed(found):
        docs[hour] = doc
        out.append((OPEN_POLICY, Window(hour, hour + HOUR)))
    return out


def _allows(selection, namespace):
    if selection.namespaces is not None:
        return namespace in selection.namespaces
    return namespace != "" and namespace not in selection.exclude


def add_partials(metric, docs, group_tags, selection, partials):
    """Add the running sums of ``docs`` to ``partials``, with the columns the metric's kind reads
    from a rollup point."""
    if not docs:
        return
    index = {column: i for i, column in enumerate(COLUMNS)}
    columns = [(alias, index.get(field)) for alias, expr in metric.strategy.columns(metric, True)
               for _, field in [_COLUMN.fullmatch(expr).groups()]]
    level = LEVELS[tuple(group_tags)]
    for doc in docs.values():
        for group, sums in doc[level].items():
            key = tuple(group.split("/", 1)) if level == "pods" else (group,)
            if not _allows(selection, key[0]):
                continue
            row = {alias: None if at is None else sums[at] for alias, at in columns}
            if any(value is not None for value in row.values()):
                partials.setdefault(key, Partial()).add(row)



def nothing_after(end, docs, reach):
    """Whether no container sample lies in ``[end, end + reach)``, by the running sums already
    read (``docs``): the hour holding both ends has a whole document whose every sample is before
    ``end``, so the window's end edge (``metrics.edges``) has nothing to share out and need not be
    read. A sample there would have been summed into that document by the cycle that took it:
    the same trust the open hour's answer puts in it (no other writers, ``API_OPEN_HOUR_SUMS``)."""
    hour = floor_hour(end)
    doc = docs.get(hour)
    return doc is not None and end + reach <= hour + HOUR and doc["until"] < end.timestamp()
