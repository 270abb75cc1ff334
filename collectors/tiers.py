"""Filling the namespace, controller and pod tiers over the hours the hourly rollup held before they existed.

Each rollup writes the namespace tier of the hours it sums (``collectors.rollup.roll_namespaces``);
the hours rolled up before kubemon had the tier (or before Redis lost the marker) are filled here,
a few days per rollup run, newest first. The marker ``NAMESPACE_TIER_SINCE``
(``kubemon.timeseries.tiers``) moves back after each chunk is written, so readers use the tier
exactly where it is whole (the controller tier's marker, ``CONTROLLER_TIER_SINCE``, likewise);
once no hourly data is older than the marker, it stays put, and
``NAMESPACE_TIER_FILLED`` says so, so that later runs do not look again. (Whatever writes hourly
points older than the marker later, such as an import of history, rolls their namespaces itself.)
"""

import logging
from datetime import timedelta

from collectors.rollup import roll_controllers, roll_namespaces, roll_node_days, roll_pod_days
from kubemon import keys
from kubemon.timeseries import get_store
from kubemon.timeseries.hours import DAY, HOUR, ROLLUP_HORIZON, ROLLUP_RECOMPUTED_HOURS, floor_day, floor_hour
from kubemon.timeseries.schema import CONTAINER, HOURLY_POLICY, field_identifier, source_identifier
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

log = logging.getLogger(__name__)

# Days of hourly rollup summed per statement, and per rollup run (a run every 5 minutes fills a
# year in about two hours; a day of 1,000 pods is 24,000 hourly points).
DAYS_PER_STATEMENT = 2
DAYS_PER_RUN = 14
# The controller tier sums pods in Python: 4 days a run fills the 90 days of pod detail in two hours.
CONTROLLER_DAYS_PER_RUN = 4


def _hourly_before(store, moment):
    """Whether the hourly rollup holds anything before ``moment``."""
    statement = (f"SELECT last({field_identifier(CONTAINER, 'interval_seconds')}) "  # noqa: S608  (whitelisted)
                 f"FROM {source_identifier(CONTAINER, HOURLY_POLICY)} WHERE time < $before")
    return bool(store.query(statement, params={"before": int(moment.timestamp()) * 10**9}))


def _fill_backwards(redis, now, store, days, get_since, set_since, filled_key, roll, tier):
    since = get_since(redis)
    if since is None:
        since = floor_hour(now) - HOUR * ROLLUP_RECOMPUTED_HOURS
        set_since(redis, since)
    filled = redis.get(filled_key)
    if filled is not None and int(filled) == int(since.timestamp()):
        return since  # done: asking InfluxDB again every run would scan the whole hourly rollup
    spent = timedelta(0)
    while spent < DAY * days:
        if not _hourly_before(store, since):
            redis.set(filled_key, int(since.timestamp()))
            break
        start = since - DAY * DAYS_PER_STATEMENT
        roll(start, since, store=store)
        since = start
        set_since(redis, since)
        spent += DAY * DAYS_PER_STATEMENT
    if spent:
        log.info("the %s tier now reaches back to %s", tier, since.isoformat())
    return since


def fill_namespace_tier(redis, now, store=None, days=DAYS_PER_RUN):
    """Fill up to ``days`` more days of the namespace tier before its marker; returns the marker.

    Call it after ``rollup_recent``: on a first run the marker is set to the oldest hour that
    run summed, since every hour after it has just been written to the tier.
    """
    return _fill_backwards(redis, now, store or get_store(), days, namespace_tier_since, set_namespace_tier_since,
                           keys.NAMESPACE_TIER_FILLED, roll_namespaces, "namespace")


def fill_node_tier(redis, now, store=None, days=DAYS_PER_RUN):
    """Fill up to ``days`` more days of the node tier (``node_daily``) before its marker; returns the marker."""
    return _fill_backwards(redis, now, store or get_store(), days, node_tier_since, set_node_tier_since,
                           keys.NODE_TIER_FILLED, roll_node_days, "node")


def fill_controller_tier(redis, now, store=None, days=CONTROLLER_DAYS_PER_RUN):
    """Fill up to ``days`` more days of the controller tier before its marker; returns the marker.

    As ``fill_namespace_tier``, fewer days per run: every pod-hour is read back into Python
    (``collectors.rollup.roll_controllers``). Hours older than the raw ``kubernetes_pod`` points
    (the raw retention) have no owner left to read: their pods are summed with no controller.
    """
    return _fill_backwards(redis, now, store or get_store(), days, controller_tier_since, set_controller_tier_since,
                           keys.CONTROLLER_TIER_FILLED, roll_controllers, "controller")


def fill_pod_tier(redis, now, store=None, days=DAYS_PER_RUN):
    """Extend the pod tier (``pod_daily``) over the days that became final and, up to ``days``
    days per run, backwards over older hourly rollup; returns its span ``(since, until)``.

    A day is final once the rollup no longer recomputes its hours (``ROLLUP_HORIZON``); later
    data re-rolls its hours and their day together (``collectors.rollup.reroll_ended_days``).
    """
    store = store or get_store()
    final = floor_day(now - ROLLUP_HORIZON)
    span = pod_tier_span(redis)
    since, until = span if span is not None else (final, final)
    spent = timedelta(0)
    while until < final and spent < DAY * days:
        roll_pod_days(until, until + DAY, store=store)
        until += DAY
        spent += DAY
        set_pod_tier_span(redis, min(since, until), until)
    since = min(since, until)
    filled = redis.get(keys.POD_TIER_FILLED)
    if filled is not None and int(filled) == int(since.timestamp()):
        return since, until
    while spent < DAY * days:
        if not _hourly_before(store, since):
            redis.set(keys.POD_TIER_FILLED, int(since.timestamp()))
            break
        start = since - DAY * DAYS_PER_STATEMENT
        roll_pod_days(start, since, store=store)
        since = start
        set_pod_tier_span(redis, since, until)
        spent += DAY * DAYS_PER_STATEMENT
    if span is None:
        set_pod_tier_span(redis, since, until)
    return since, until
