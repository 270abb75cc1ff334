"""Time windows: parsing the legacy date formats and splitting a window for the hourly rollup.

A window is ``[begin, end)``: the begin is included and the end excluded, so consecutive
windows (days, months) neither overlap nor leave a gap. The legacy API excluded both ends,
which silently dropped the sample at the exact begin.

RFC 3339 times may carry up to 9 fractional digits; Python keeps 6, so the nanoseconds are
truncated: both ends are floored to their microsecond. Flooring a begin and an end alike keeps
the partition: two windows that share a boundary text share the floored boundary, so every
sample is in exactly one of them. (Rounding the begin down and the end up would make them
overlap by up to a microsecond.) A sample at the exact boundary is in the later window, as
``[begin, end)`` says; only a sample strictly inside the boundary's microsecond, before the
boundary, moves to the later window too. The collectors stamp points to the second, so that
never happens to their samples.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kubemon.timeseries.hours import HOUR, ceil_hour, floor_hour

DEFAULT_SPAN = timedelta(minutes=60)
# InfluxDB stores int64 nanoseconds since 1970: this is the range it can represent.
MIN_TIME = datetime(1677, 9, 22, tzinfo=UTC)
MAX_TIME = datetime(2262, 4, 11, tzinfo=UTC)

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|z|[+-]\d{2}:\d{2})?$"
)


class WindowError(ValueError):
    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def parse_time(value, field):
    """``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS`` or RFC 3339 → an aware UTC datetime (no zone = UTC)."""
    if not isinstance(value, str):
        raise WindowError(field, "must be a date string such as 2017-12-01, 2017-12-01 08:00:00 or RFC 3339")
    text = value.strip()
    try:
        if _DATE_RE.match(text):
            moment = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        else:
            match = _DATETIME_RE.match(text)
            if not match:
                raise ValueError(text)
            day, clock, fraction, zone = match.groups()
            moment = datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S")
            if fraction:
                # Python keeps microseconds: digits 7 to 9 are dropped, which floors the time to its
                # microsecond (the same way for a begin and an end, see the module docstring).
                moment = moment.replace(microsecond=int(fraction[1:7].ljust(6, "0")))
            if zone and zone not in ("Z", "z"):
                sign = 1 if zone[0] == "+" else -1
                hours, minutes = int(zone[1:3]), int(zone[4:6])
                if hours > 23 or minutes > 59:
                    raise ValueError(zone)
                moment = moment - sign * timedelta(hours=hours, minutes=minutes)
            moment = moment.replace(tzinfo=UTC)
    except WindowError:
        raise
    except (ValueError, OverflowError):
        raise WindowError(
            field, f"{value[:40]!r} is not a date (use 2017-12-01, 2017-12-01 08:00:00 or RFC 3339)"
        ) from None
    if not MIN_TIME <= moment < MAX_TIME:
        raise WindowError(field, "is outside the range InfluxDB can store (1677-09-22 to 2262-04-11)")
    return moment


def to_ns(moment):
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def format_time(moment):
    """RFC 3339 in UTC with a Z, as InfluxDB writes times."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


@dataclass(frozen=True)
class Window:
    begin: datetime
    end: datetime

    @classmethod
    def from_body(cls, begin_text, end_text, now=None):
        """The legacy defaults: the last 60 minutes; a begin alone runs until now.

        An end alone (which the legacy API ignored) means the 60 minutes before it.
        """
        now = now or datetime.now(UTC)
        begin = parse_time(begin_text, "timeBeginInterval") if begin_text is not None else None
        end = parse_time(end_text, "timeEndInterval") if end_text is not None else None
        if begin is None and end is None:
            end = now
            begin = now - DEFAULT_SPAN
        elif begin is None:
            begin = end - DEFAULT_SPAN
        elif end is None:
            end = now
            if begin >= end:
                raise WindowError("timeBeginInterval", "is in the future; give timeEndInterval too")
        if begin >= end:
            raise WindowError("timeBeginInterval", "must be before timeEndInterval")
        return cls(begin, end)

    @property
    def seconds(self):
        return (self.end - self.begin).total_seconds()

    def split(self, rollup_until):
        """``(whole_hours, edges)``: whole hours that end by ``rollup_until`` go to the rollup.

        ``whole_hours`` is a Window or None; ``edges`` are the ragged parts read from raw data.
        """
        first = ceil_hour(self.begin)
        last = min(floor_hour(self.end), floor_hour(rollup_until))
        if last - first < HOUR:
            return None, [self]
        edges = []
        if self.begin < first:
            edges.append(Window(self.begin, first))
        if last < self.end:
            edges.append(Window(last, self.end))
        return Window(first, last), edges
