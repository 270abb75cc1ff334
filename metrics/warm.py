"""Filling the day cache ahead of the readers (``manage.py warmquerycache``, a daily beat task).

The first month-long query of a day reads a month of rollup from InfluxDB (about 0.7 s for
1,000 pods, docs/benchmarks.md); the ones after it read the cached days. Running this once a
day, after the previous day became final (``kubemon.timeseries.hours.ROLLUP_HORIZON`` after
midnight), makes that first query fast too. The caller says which questions to ask
(``(group tags, Selection)`` pairs): the API asks what its clients will (``api.warming``).
"""

from datetime import UTC, datetime, timedelta

from kubemon.timeseries.hours import floor_day
from metrics.catalogue import METRICS
from metrics.engine import aggregate
from metrics.window import Window

DEFAULT_METRICS = ("cpu/usage_rate", "cpu/usage", "cpu/request", "memory/usage", "memory/working_set",
                   "memory/request", "gpu/usage", "gpu/request")


def warm(pairs, days=31, metric_names=DEFAULT_METRICS, now=None):
    """Aggregate the last ``days`` whole days for each metric and pair; returns the queries made."""
    now = now or datetime.now(UTC)
    midnight = floor_day(now)
    window = Window(midnight - timedelta(days=days), midnight)
    count = 0
    for name in metric_names:
        metric = METRICS[name]
        if not metric.rollup:
            continue
        for group_tags, selection in pairs:
            aggregate(metric, window, group_tags, selection, now=now)
            count += 1
    return count
