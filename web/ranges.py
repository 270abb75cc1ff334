"""The charts' time ranges: the picker's relative ranges and custom windows, as they travel in URLs.

A range is ``?range=1h|6h|24h|7d|30d`` (relative to now), or ``?start=...&end=...`` (a custom
window, UTC). Dates take the API's formats (``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS``, RFC 3339)
and what a ``datetime-local`` input sends (``YYYY-MM-DDTHH:MM``). Plain functions: the node page
and its JSON endpoint read the same URL state.
"""

import re
from datetime import UTC, datetime, timedelta

from metrics.window import Window, WindowError, parse_time

RANGES = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_RANGE = "1h"
CUSTOM = "custom"
# The hourly rollup keeps 400 days: a longer custom window would chart nothing but raw scans.
MAX_CUSTOM = timedelta(days=400)
_LOCAL_MINUTES = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")


class RangeError(ValueError):
    """Bad range input; ``field`` names the parameter."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def _moment(text, field):
    text = (text or "").strip()
    if _LOCAL_MINUTES.match(text):
        text += ":00"
    try:
        return parse_time(text, field)
    except WindowError as exc:
        raise RangeError(field, str(exc)) from None


def parse_range(params, now=None):
    """``(Window, key)`` from query parameters; ``key`` is a ``RANGES`` key or ``"custom"``."""
    now = now or datetime.now(UTC)
    if params.get("start") or params.get("end"):
        if not (params.get("start") and params.get("end")):
            raise RangeError("start" if not params.get("start") else "end", "a custom range needs start and end")
        start, end = _moment(params["start"], "start"), _moment(params["end"], "end")
        if start >= end:
            raise RangeError("start", "must be before end")
        if end - start > MAX_CUSTOM:
            raise RangeError("end", f"a custom range spans at most {MAX_CUSTOM.days} days")
        return Window(start, end), CUSTOM
    key = params.get("range") or DEFAULT_RANGE
    if key not in RANGES:
        raise RangeError("range", f"must be one of {', '.join(RANGES)} (or start and end)")
    return Window(now - RANGES[key], now), key


def is_live(key):
    """Whether a range ends now and is short enough to follow every cycle."""
    return key in ("1h", "6h")
