"""The query parameters of ``GET /api/allocation``, read as OpenCost reads them (pure, no I/O).

OpenCost's scripts and dashboards send ``window``, ``aggregate``, ``step``, ``accumulate``,
``includeIdle`` (Kubecost: ``idle``) and ``shareIdle``; this module turns them into an
``AllocationQuery`` or raises ``ParameterError`` naming the parameter, which the view answers
with ``{"code": 400, "message": ...}``.

Windows follow OpenCost's ``parseWindow`` (``core/pkg/opencost/window.go``), in UTC:

- ``today``, ``yesterday``: the UTC day; ``week`` (since Sunday 00:00), ``lastweek`` (the
  Sunday-to-Sunday week before), ``month`` (since the 1st), ``lastmonth`` (the calendar month);
- ``<n>m|h|d|w``: OpenCost's "the past n units": the current unit in full plus the n - 1 before
  it, so ``7d`` is today and the six days before, ``12h`` the current hour and the eleven before;
  ``<n>u offset <k>u``: n units ending k units ago;
- a pair of RFC 3339 times ``start,end`` or of Unix seconds ``start,end`` (or ``start-end``).

Unlike OpenCost, a window that reaches past now ends at now: the time after now has no samples,
and an idle row (capacity x time) must not charge the future.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kubemon.timeseries.hours import floor_day, floor_hour
from metrics.window import MAX_TIME, MIN_TIME, Window, WindowError, parse_time

# What ``aggregate`` may name; several are joined with "/" in a row's name, as OpenCost does.
AGGREGATES = ("cluster", "namespace", "pod", "node", "controller", "controllerKind", "tenant")
_AGGREGATE_ALIASES = {name.lower(): name for name in AGGREGATES}

_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_DURATION_RE = re.compile(r"^(\d{1,6})(m|h|d|w)$")
_OFFSET_RE = re.compile(r"^(\d{1,6})(m|h|d|w) offset (\d{1,6})(m|h|d|w)$")
_UNIX_PAIR_RE = re.compile(r"^(\d{1,12})[,-](\d{1,12})$")
# Go-style step durations as OpenCost's timeutil.ParseDuration takes them: "1d", "24h", "1h30m".
_STEP_RE = re.compile(r"^(?:(\d{1,6})w)?(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?$")

# A step count above this is refused: one set per step, and a 1-minute step over a month would
# be 43,200 sets.
MAX_STEPS = 1000
MIN_STEP = timedelta(minutes=1)
TRUE = ("true", "1", "yes", "t")
FALSE = ("false", "0", "no", "f", "")
ACCUMULATE = ("all", "none", "hour", "day", "week", "month")


class ParameterError(ValueError):
    def __init__(self, parameter, message):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True)
class AllocationQuery:
    window: Window
    aggregate: tuple
    steps: tuple  # the Windows of the sets, in order; one when accumulated
    include_idle: bool = False
    share_idle: bool = False
    namespaces: tuple | None = None  # filterNamespaces, None = every one the caller sees


def _start_of_week(day):
    """00:00 of the Sunday on or before ``day`` (OpenCost's weeks start on Sunday)."""
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _first_of_month(moment):
    return floor_day(moment).replace(day=1)


def _named_window(text, now):
    today = floor_day(now)
    if text == "today":
        return today, today + timedelta(days=1)
    if text == "yesterday":
        return today - timedelta(days=1), today
    if text == "week":
        return _start_of_week(today), now
    if text == "lastweek":
        start = _start_of_week(today) - timedelta(weeks=1)
        return start, start + timedelta(weeks=1)
    if text == "month":
        return _first_of_month(now), now
    if text == "lastmonth":
        end = _first_of_month(now)
        return _first_of_month(end - timedelta(days=1)), end
    return None


def _ceil(moment, unit):
    """The end of ``moment``'s current unit (OpenCost rounds a duration window's end forward)."""
    if unit == "m":
        floor = moment.replace(second=0, microsecond=0)
    elif unit == "h":
        floor = floor_hour(moment)
    else:
        floor = floor_day(moment)
    step = _UNITS["d" if unit == "w" else unit]
    return floor if floor == moment else floor + step


def _duration_window(text, now):
    match = _DURATION_RE.match(text)
    if match:
        count, unit = int(match.group(1)), match.group(2)
        if count == 0:
            raise ParameterError("window", f"{text!r} is an empty window")
        end = _ceil(now, unit)
        return end - count * _UNITS[unit], end
    match = _OFFSET_RE.match(text)
    if match:
        count, unit, back, back_unit = int(match.group(1)), match.group(2), int(match.group(3)), match.group(4)
        end = now - back * _UNITS[back_unit]
        return end - count * _UNITS[unit], end
    return None


def _pair_window(text):
    match = _UNIX_PAIR_RE.match(text)
    if match:
        try:
            begin, end = (datetime.fromtimestamp(int(value), UTC) for value in match.groups())
        except (OverflowError, OSError, ValueError):
            raise ParameterError("window", "Unix times out of range") from None
        return begin, end
    if "," in text:
        first, _, second = text.partition(",")
        try:
            return parse_time(first, "start"), parse_time(second, "end")
        except WindowError as exc:
            raise ParameterError("window", f"{exc.field} {exc}") from None
    return None


def parse_window(text, now=None):
    """The ``Window`` of a ``window`` parameter, ending at ``now`` at the latest."""
    now = now or datetime.now(UTC)
    if text is None or not text.strip():
        raise ParameterError("window", "is required (e.g. 7d, today, lastmonth, or start,end in RFC 3339)")
    value = text.strip()
    if len(value) > 100:
        raise ParameterError("window", "is too long")
    try:
        found = _named_window(value.lower(), now) or _duration_window(value.lower(), now) or _pair_window(value)
    except OverflowError:
        raise ParameterError("window", f"{value[:40]!r} is too long ago") from None
    if found is None:
        raise ParameterError("window", f"{value[:40]!r} is not a window: use today, yesterday, week, lastweek, "
                                       "month, lastmonth, a duration such as 30m, 12h or 7d, or a pair start,end "
                                       "(RFC 3339 or Unix seconds)")
    begin, end = found
    if not (MIN_TIME <= begin < MAX_TIME and MIN_TIME <= end <= MAX_TIME):
        raise ParameterError("window", "is outside the range InfluxDB can store (1677-09-22 to 2262-04-11)")
    end = min(end, now)
    if begin >= end:
        raise ParameterError("window", "starts at or after its end (or in the future)")
    return Window(begin, end)


def parse_aggregate(text):
    """``("namespace",)``, ``("namespace", "pod")``...; empty for one row per pod (OpenCost's default)."""
    if text is None or not text.strip():
        return ()
    names = []
    for part in text.split(","):
        key = part.strip().lower()
        if key not in _AGGREGATE_ALIASES:
            allowed = ", ".join(AGGREGATES)
            raise ParameterError("aggregate", f"{part.strip()[:40]!r} is not supported; use {allowed} "
                                              "(comma-separated for several)")
        name = _AGGREGATE_ALIASES[key]
        if name not in names:
            names.append(name)
    return tuple(names)


def parse_duration(text, parameter):
    """A positive step such as ``1d``, ``6h``, ``30m`` or ``1h30m``."""
    value = text.strip().lower()
    match = _STEP_RE.match(value) if value else None
    if not match or not any(match.groups()):
        raise ParameterError(parameter, f"{text[:40]!r} is not a duration such as 1h, 1d or 1w")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    try:
        duration = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ParameterError(parameter, "is too long") from None
    if duration < MIN_STEP:
        raise ParameterError(parameter, "must be at least 1m")
    return duration


def parse_bool(text, parameter, default=False):
    if text is None:
        return default
    value = text.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ParameterError(parameter, f"{text[:20]!r} is not true or false")


def _check_set_count(count, parameter):
    """Refuse, before any read, a query that makes more than ``MAX_STEPS`` sets: each set is read
    from InfluxDB, so the count is what one request costs (a monthly accumulation over the
    585 years InfluxDB can store was 7,000 sets and minutes of a worker)."""
    if count > MAX_STEPS:
        raise ParameterError(parameter, f"makes {count} sets, more than {MAX_STEPS}; use a shorter window or a "
                                        "longer step")


def split_by_step(window, step, parameter="step"):
    """Consecutive windows of ``step`` from the window's start; the last one ends with the window."""
    _check_set_count(-((window.begin - window.end) // step), parameter)
    steps, begin = [], window.begin
    while begin < window.end:
        # (compared before adding: a step of 999999w from 2026 would be past year 9999, an OverflowError)
        end = window.end if step >= window.end - begin else begin + step
        steps.append(Window(begin, end))
        begin = end
    return steps


def split_by_month(window):
    last = window.end - timedelta(microseconds=1)
    _check_set_count((last.year - window.begin.year) * 12 + last.month - window.begin.month + 1, "accumulate")
    steps, begin = [], window.begin
    while begin < window.end:
        following = _first_of_month(begin + timedelta(days=32))
        end = min(following, window.end)
        steps.append(Window(begin, end))
        begin = end
    return steps


def _accumulated(window, accumulate):
    """The sets of an ``accumulate``: all in one, or one per hour/day/week/calendar month.

    Resource-time adds up, so the sum of a day's hourly steps is the day read as one window:
    the steps are not read one by one.
    """
    if accumulate in TRUE or accumulate == "all":
        return [window]
    if accumulate == "month":
        return split_by_month(window)
    unit = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}[accumulate]
    return split_by_step(window, unit, "accumulate")


def parse_query(params, now=None):
    """An ``AllocationQuery`` from a QueryDict (or any mapping with ``get``)."""
    window = parse_window(params.get("window"), now)
    aggregate = parse_aggregate(params.get("aggregate"))
    step_text = params.get("step")
    step = parse_duration(step_text, "step") if step_text else None
    accumulate = (params.get("accumulate") or "false").strip().lower()
    if accumulate not in TRUE + FALSE + ACCUMULATE:
        raise ParameterError("accumulate", f"{accumulate[:20]!r} is not true, false, hour, day, week or month")
    if accumulate in FALSE or accumulate == "none":
        steps = split_by_step(window, step) if step else [window]
    else:
        steps = _accumulated(window, accumulate)
    # OpenCost says includeIdle, Kubecost idle: either turns the __idle__ row on.
    idle_text = params.get("includeIdle", params.get("idle"))
    include_idle = parse_bool(idle_text, "includeIdle" if params.get("includeIdle") is not None else "idle")
    share_idle = parse_bool(params.get("shareIdle"), "shareIdle")
    namespaces = None
    if params.get("filterNamespaces"):
        namespaces = tuple(dict.fromkeys(n.strip() for n in params.get("filterNamespaces").split(",") if n.strip()))
    return AllocationQuery(window=window, aggregate=aggregate, steps=tuple(steps), include_idle=include_idle,
                           share_idle=share_idle, namespaces=namespaces)
