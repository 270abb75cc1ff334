"""The namespace, controller and pod tiers: the hourly rollup summed per namespace (per namespace
and controller; per pod and day), and from when readers may trust them.

``collectors.rollup`` writes it (``namespace_hourly`` policy, same measurement and field names as
the hourly rollup, the ``namespace`` tag only) right after each hourly rollup of the same hours,
and fills it backwards over older hours (``collectors.tiers``). ``NAMESPACE_TIER_SINCE`` in Redis
is the oldest hour from which it is whole; readers (``metrics``) take namespace totals from it
only from that hour on, and from the hourly rollup before. Losing the key costs speed, not
correctness: readers fall back to the hourly rollup until the rollup task has filled it again.

Only kinds whose rollup columns add up across series are served from it (sums, integrals,
sample counts, maxima of maxima): gauges, increments and differences; counters and rates are
read raw anyway.
"""

import logging
from datetime import UTC, datetime

from kubemon import keys
from kubemon.timeseries.schema import CONTAINER, GPU

log = logging.getLogger(__name__)

# The measurements with a namespace tag and a rollup.
NAMESPACE_MEASUREMENTS = (CONTAINER, GPU)


def _since(redis, key, tier):
    try:
        raw = redis.get(key)
    except Exception as exc:  # noqa: BLE001  (Redis down: read the hourly rollup, slower but right)
        log.warning("%s tier marker unavailable, reading the hourly rollup: %s", tier, exc)
        return None
    return datetime.fromtimestamp(int(raw), UTC) if raw else None


def namespace_tier_since(redis):
    """The hour (aware datetime) from which the namespace tier is whole, or None."""
    return _since(redis, keys.NAMESPACE_TIER_SINCE, "namespace")


def set_namespace_tier_since(redis, hour):
    redis.set(keys.NAMESPACE_TIER_SINCE, int(hour.timestamp()))


# The controller tier (``controller_hourly``, ``controller_daily``): the hourly rollup summed per
# namespace and controller (``kubemon.timeseries.schema.CONTROLLER_TAGS``), each pod's controller
# taken from the raw ``kubernetes_pod`` owner fields when its hour is rolled. Written and
# re-rolled with the namespace tier, filled backwards the same way; ``CONTROLLER_TIER_SINCE`` is
# the oldest hour from which it is whole.


def controller_tier_since(redis):
    """The hour (aware datetime) from which the controller tier is whole, or None."""
    return _since(redis, keys.CONTROLLER_TIER_SINCE, "controller")


def set_controller_tier_since(redis, hour):
    redis.set(keys.CONTROLLER_TIER_SINCE, int(hour.timestamp()))


def pod_detail_seconds():
    """How long the pod detail (the hourly rollup, the pod tier) is kept, in seconds (0: for ever)."""
    from django.conf import settings

    from kubemon.timeseries.client import parse_duration

    return parse_duration(settings.INFLUXDB_HOURLY_RETENTION)


# The node tier (``node_daily``): per node and UTC day, the hourly rollup's observed seconds and
# largest allocatable. Written for the days each rollup run touches, filled backwards the same
# way; ``NODE_TIER_SINCE``: its days are whole from this hour's UTC day on (each fill rolls whole
# days from the hourly rollup).


def node_tier_since(redis):
    """The hour (aware datetime) from whose UTC day on the node tier is whole, or None."""
    return _since(redis, keys.NODE_TIER_SINCE, "node")


def set_node_tier_since(redis, hour):
    redis.set(keys.NODE_TIER_SINCE, int(hour.timestamp()))


# The pod tier (``pod_daily``): the hourly rollup summed per pod and UTC day, for final days
# only (days the rollup no longer rewrites but for late data, which re-rolls its day too).
# ``POD_TIER_SPAN`` holds the final days it is whole for, ``[since, until)``: ``until`` moves
# forward a day at a time as days become final, ``since`` backwards as older days are filled.


def pod_tier_span(redis):
    """``(since, until)`` (aware datetimes): the days the pod tier is whole for, or None."""
    try:
        raw = redis.get(keys.POD_TIER_SPAN)
    except Exception as exc:  # noqa: BLE001  (Redis down: read the hourly rollup, slower but right)
        log.warning("pod tier marker unavailable, reading the hourly rollup: %s", exc)
        return None
    if not raw:
        return None
    since, until = (datetime.fromtimestamp(int(part), UTC) for part in raw.split())
    return since, until


def set_pod_tier_span(redis, since, until):
    redis.set(keys.POD_TIER_SPAN, f"{int(since.timestamp())} {int(until.timestamp())}")
