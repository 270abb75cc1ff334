"""Hours and the rollup's horizon: what the rollup writes and what readers may trust.

The rollup task recomputes the current hour and the ``ROLLUP_RECOMPUTED_HOURS`` before it every
few minutes; an hour older than ``ROLLUP_HORIZON`` is no longer rewritten by it. The rollup
(collectors) and the day cache (metrics) both read these names, so they cannot drift apart.
"""

from datetime import timedelta

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Hours before the current one that each rollup run recomputes.
ROLLUP_RECOMPUTED_HOURS = 2
# From the start of the oldest recomputed hour to now: the current hour and the recomputed ones.
ROLLUP_HORIZON = HOUR * (ROLLUP_RECOMPUTED_HOURS + 1)


def floor_hour(moment):
    """The start of ``moment``'s hour."""
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment):
    """``moment`` itself on a whole hour, else the start of the next hour."""
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def floor_day(moment):
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)
