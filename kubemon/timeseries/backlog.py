"""Hours written after the rollup summed them, until the rollup sums them again.

The rollup task recomputes only the last few hours (``kubemon.timeseries.hours``). Points that
land further back (the spool's replay after an outage, a backfill, another writer such as
Telegraf) would be missing from the ``hourly`` rollup, and long windows read whole hours from
it. So their hours are recorded here: the spool replay records exactly the hours it wrote, and
the rollup's periodic audit (``collectors.rollup.audit_rollup``) records hours whose raw and
rollup counts differ. The rollup task re-rolls every recorded hour; until it has, readers take
those hours from raw data (``metrics.planner``).

Each UTC day has a generation number, bumped when one of its hours is recorded and when it is
re-rolled; the day cache (``metrics.daycache``) keys its entries by it, so a changed day is
never answered from the cache.
"""

import logging
from datetime import UTC, datetime

from kubemon import keys
from kubemon.timeseries.hours import floor_day

log = logging.getLogger(__name__)

# Seconds per unit of each line-protocol precision.
_PRECISION_DIVISOR = {"ns": 1_000_000_000, "u": 1_000_000, "ms": 1000, "s": 1, "m": 1 / 60, "h": 1 / 3600}


def hours_of_lines(lines, precision="s"):
    """The hour starts (epoch seconds) of the timestamps of line-protocol ``lines`` (str or one body)."""
    if isinstance(lines, str | bytes):
        lines = (lines.decode() if isinstance(lines, bytes) else lines).split("\n")
    divisor = _PRECISION_DIVISOR[precision]
    hours = set()
    for line in lines:
        stamp = line.rsplit(" ", 1)[-1]
        if stamp.isdigit():
            seconds = int(int(stamp) // divisor)
            hours.add(seconds - seconds % 3600)
    return hours


def _day_text(hour_seconds):
    return datetime.fromtimestamp(hour_seconds, UTC).strftime("%Y-%m-%d")


class RollupBacklog:
    def __init__(self, redis):
        self.redis = redis

    def mark(self, hours):
        """Record hours (epoch seconds or aware datetimes of their start) as needing a re-roll."""
        seconds = {int(h.timestamp()) if isinstance(h, datetime) else int(h) for h in hours}
        if not seconds:
            return 0
        pipe = self.redis.pipeline()
        pipe.zadd(keys.ROLLUP_LATE_HOURS, {str(s): s for s in seconds})
        for day in {_day_text(s) for s in seconds}:
            pipe.incr(keys.ROLLUP_DAY_GENERATION + day)
        pipe.execute()
        return len(seconds)

    def mark_lines(self, lines, precision="s"):
        return self.mark(hours_of_lines(lines, precision))

    def pending(self):
        """The recorded hours, oldest first, as aware datetimes."""
        return [datetime.fromtimestamp(int(float(s)), UTC) for s in self.redis.zrange(keys.ROLLUP_LATE_HOURS, 0, -1)]

    def done(self, hours):
        """The rollup has summed these hours again."""
        seconds = {int(h.timestamp()) for h in hours}
        if not seconds:
            return
        pipe = self.redis.pipeline()
        pipe.zrem(keys.ROLLUP_LATE_HOURS, *(str(s) for s in seconds))
        for day in {_day_text(s) for s in seconds}:
            pipe.incr(keys.ROLLUP_DAY_GENERATION + day)
        pipe.execute()

    def generations(self, days):
        """``{day: generation}`` for aware datetimes of day starts (0 for a day never changed)."""
        if not days:
            return {}
        values = self.redis.mget([keys.ROLLUP_DAY_GENERATION + floor_day(day).strftime("%Y-%m-%d") for day in days])
        return {day: int(value or 0) for day, value in zip(days, values, strict=True)}
