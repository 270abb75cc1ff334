"""Hourly rollup of raw samples, done by InfluxDB itself (``SELECT ... INTO``).

The layout is described in ``kubemon/timeseries/schema.py``. Resource-time stays exact because
the rollup sums the per-sample integrals (value x interval) instead of averaging averages.
Re-running it over the same hours rewrites the same points (same measurement, tags and hour),
so the task is idempotent and can always recompute the last hours, including the current one.
"""

import logging
from datetime import UTC, datetime, timedelta

from kubemon.timeseries import get_store
from kubemon.timeseries.hours import HOUR, ROLLUP_RECOMPUTED_HOURS, floor_hour
from kubemon.timeseries.schema import (
    HOURLY_POLICY,
    INTEGRAL_FIELDS,
    MAX_FIELDS,
    RAW_POLICY,
    SUMMED_FIELDS,
    quote_identifier,
    source_identifier,
)

log = logging.getLogger(__name__)


def rollup_select(measurement):
    """The aggregate list for one measurement (identifiers from the schema whitelist only)."""
    q = quote_identifier
    parts = []
    for name in INTEGRAL_FIELDS.get(measurement, ()):
        parts += [
            f"sum({q(name + '_integral')}) AS {q(name + '_integral')}",
            f"sum({q(name)}) AS {q(name + '_sum')}",
            f"max({q(name)}) AS {q(name + '_max')}",
            f"count({q(name)}) AS {q(name + '_samples')}",
        ]
    for name in SUMMED_FIELDS.get(measurement, ()):
        parts.append(f"sum({q(name)}) AS {q(name)}")
    for name in MAX_FIELDS.get(measurement, ()):
        parts.append(f"max({q(name)}) AS {q(name + '_max')}")
    parts.append(f"sum({q('interval_seconds')}) AS {q('interval_seconds')}")
    return ", ".join(parts)


ROLLUP_MEASUREMENTS = tuple(dict.fromkeys((*INTEGRAL_FIELDS, *SUMMED_FIELDS, *MAX_FIELDS)))


def rollup_window(start, end, store=None):
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
    return written


def rollup_recent(now=None, hours=ROLLUP_RECOMPUTED_HOURS, store=None):
    """Recompute the current hour and the ``hours`` before it (``kubemon.timeseries.hours``)."""
    now = now or datetime.now(UTC)
    return rollup_window(floor_hour(now) - HOUR * hours, now + timedelta(seconds=1), store=store)
