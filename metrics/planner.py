"""Planning a window's reads: which parts come from the hourly rollup, the day cache and raw data.

Every function here is pure: it takes what the reader found out (the rollup's newest hour, the
days the cache holds) and returns what to read, so the plan can be tested without InfluxDB.

A window ``[begin, end)`` is answered from:

- the ``hourly`` rollup (or, for totals per namespace, its ``namespace_hourly`` tier where that
  is whole: ``namespace_tier``; for totals per pod, the ``pod_daily`` tier for whole final
  days it holds: ``pod_days``) for its whole hours that have settled (ended at least
  ``API_ROLLUP_SETTLE_SECONDS`` ago), that the rollup has reached (``watermark``) and that
  received no data since their rollup (``late_hours``, which are read raw until re-rolled);
- of those, whole finished UTC days from the day cache when it has them, the other days in
  chunks of ``DAYS_PER_STATEMENT`` grouped by day (so they can be cached);
- raw data for the ragged edges, cut into at most ``parallelism`` pieces where the kind allows it.
"""

from dataclasses import dataclass
from datetime import timedelta

from kubemon.timeseries.hours import DAY, HOUR
from kubemon.timeseries.schema import (
    HOURLY_POLICY,
    NAMESPACE_DAILY_POLICY,
    NAMESPACE_POLICY,
    POD_DAILY_POLICY,
    RAW_POLICY,
)
from metrics.window import Window

DAYS_PER_STATEMENT = 8
RAW_PIECE = timedelta(minutes=30)


@dataclass(frozen=True)
class Read:
    """One statement to run: a span of one retention policy; ``by_day`` rows come one per UTC day."""

    policy: str
    window: Window
    by_day: bool = False


def rollup_candidate(metric, window, settled_until, use_rollup=True):
    """The whole hours of ``window`` the rollup might answer (a Window), or None: no rollup read."""
    if not (use_rollup and metric.rollup):
        return None
    whole, _ = window.split(settled_until)
    return whole


def pieces(window, settled_until, watermark, late_hours=()):
    """``[(policy, window), ...]`` covering ``window`` exactly once.

    ``watermark`` is the end of the newest hour the rollup holds (None: read everything raw), so
    a stopped rollup task costs speed, not correctness. ``late_hours`` (hour starts) received
    data after their rollup: they are read raw until the rollup has summed them again.
    """
    if watermark is None:
        return [(RAW_POLICY, window)]
    whole, edges = window.split(min(settled_until, watermark))
    if whole is None:
        return [(RAW_POLICY, window)]
    return _around_late_hours(whole, late_hours) + [(RAW_POLICY, edge) for edge in edges]


def _around_late_hours(whole, late_hours):
    """``whole`` as rollup pieces, with each late hour inside it cut out as a raw piece."""
    late = sorted(hour for hour in set(late_hours) if whole.begin <= hour < whole.end)
    parts, cursor = [], whole.begin
    for hour in late:
        if cursor < hour:
            parts.append((HOURLY_POLICY, Window(cursor, hour)))
        if parts and parts[-1][0] == RAW_POLICY and parts[-1][1].end == hour:
            parts[-1] = (RAW_POLICY, Window(parts[-1][1].begin, hour + HOUR))
        else:
            parts.append((RAW_POLICY, Window(hour, hour + HOUR)))
        cursor = hour + HOUR
    if cursor < whole.end:
        parts.append((HOURLY_POLICY, Window(cursor, whole.end)))
    # The rollup pieces first: callers read them from the day cache and the raw ones side by side.
    return sorted(parts, key=lambda part: part[0] != HOURLY_POLICY)


def namespace_tier(pieces, since, final=None):
    """``pieces`` with their hourly parts from ``since`` on read from the namespace tier instead
    (``since``: the hour from which the tier is whole; None: not at all), and of those, the whole
    UTC days ended by ``final`` (no longer re-rolled) from its daily tier."""
    if since is None:
        return pieces
    out = []
    for policy, part in pieces:
        if policy != HOURLY_POLICY or part.end <= since:
            out.append((policy, part))
            continue
        if part.begin < since:
            out.append((HOURLY_POLICY, Window(part.begin, since)))
            part = Window(since, part.end)
        out += _daily(part, final)
    return out


def _daily(part, final):
    """A namespace-tier piece as daily pieces for its whole final days and hourly ones around them."""
    days, rest = whole_days(part, final) if final is not None else ([], [part])
    if not days:
        return [(NAMESPACE_POLICY, part)]
    return [(NAMESPACE_DAILY_POLICY, Window(days[0], days[-1] + DAY))] + [(NAMESPACE_POLICY, r) for r in rest]


def pod_days(pieces, span, final):
    """``pieces`` with the whole UTC days of their hourly parts that lie in ``span`` (``(since,
    until)``: the days the pod tier holds; None: none) and ended by ``final`` read from the pod
    tier instead, one piece per run of such days."""
    if span is None:
        return pieces
    since, until = span
    out = []
    for policy, part in pieces:
        begin, end = max(part.begin, since), min(part.end, until)
        if policy != HOURLY_POLICY or begin >= end:
            out.append((policy, part))
            continue
        days, _ = whole_days(Window(begin, end), final)
        if not days:
            out.append((policy, part))
            continue
        tier = Window(days[0], days[-1] + DAY)
        if part.begin < tier.begin:
            out.append((HOURLY_POLICY, Window(part.begin, tier.begin)))
        out.append((POD_DAILY_POLICY, tier))
        if tier.end < part.end:
            out.append((HOURLY_POLICY, Window(tier.end, part.end)))
    return out


def head_edges(window, pieces, since, settled, watermark, late_hours=(), namespace_since=None):
    """``{sign: policy}``: the window's edges (begin: -1, end: +1) that the heads of their hour's
    rollup point answer (``kubemon.timeseries.heads``), and the policy to read them from.

    An edge qualifies when it lies on a whole hour from ``since`` on (heads were written), and that
    hour's rollup point is whole: for the begin, the piece starting there is read from a rollup
    tier (so the hour is settled, rolled and not late); for the end, the hour after it has settled,
    lies under the rollup's ``watermark`` and is not late. ``namespace_since``: grouped by
    namespace, the namespace tier is whole from then on (None: read the hourly rollup)."""
    if since is None:
        return {}

    def tier(hour):
        return NAMESPACE_POLICY if namespace_since is not None and hour >= namespace_since else HOURLY_POLICY

    out = {}
    begin, end = window.begin, window.end
    if _whole_hour(begin) and begin >= since:
        first = next((policy for policy, part in pieces if part.begin == begin), None)
        if first in (NAMESPACE_POLICY, NAMESPACE_DAILY_POLICY):
            out[-1] = NAMESPACE_POLICY
        elif first in (HOURLY_POLICY, POD_DAILY_POLICY):
            out[-1] = HOURLY_POLICY
    if (_whole_hour(end) and end >= since and watermark is not None and end + HOUR <= min(settled, watermark)
            and end not in set(late_hours)):
        out[1] = tier(end)
    return out


def _whole_hour(moment):
    return moment == moment.replace(minute=0, second=0, microsecond=0)


def whole_days(window, final):
    """``(days, rest)``: day starts fully inside ``window`` and ended by ``final``, and the uncovered spans."""
    first = window.begin.replace(hour=0, minute=0, second=0, microsecond=0)
    if first < window.begin:
        first += DAY
    days = []
    day = first
    while day + DAY <= window.end and day + DAY <= final:
        days.append(day)
        day += DAY
    if not days:
        return [], [window]
    rest = []
    if window.begin < days[0]:
        rest.append(Window(window.begin, days[0]))
    if days[-1] + DAY < window.end:
        rest.append(Window(days[-1] + DAY, window.end))
    return days, rest


def days_of(window):
    """The starts of the UTC days ``window`` touches."""
    days, day = [], window.begin.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < window.end:
        days.append(day)
        day += DAY
    return days


def day_chunks(days):
    """Spans of at most ``DAYS_PER_STATEMENT`` consecutive days to read, grouped by day."""
    return [Window(days[start], days[min(start + DAYS_PER_STATEMENT, len(days)) - 1] + DAY)
            for start in range(0, len(days), DAYS_PER_STATEMENT)]


def cut(begin, end, size, most):
    """``[begin, end)`` cut into at most ``most`` equal contiguous ``(begin, end)`` pieces of at least ``size``."""
    count = max(1, min(most, int((end - begin) / size)))
    step = (end - begin) / count
    edges = [begin + step * i for i in range(count)] + [end]
    return list(zip(edges, edges[1:], strict=False))


def raw_reads(metric, spans, parallelism):
    """Raw spans are the costly part: cut them so that InfluxDB's cores share the work.

    A counter or a rate cannot be cut (a difference across the cut would be lost).
    """
    if not metric.strategy.splittable:
        return [Read(RAW_POLICY, span) for span in spans]
    most = max(1, parallelism)
    return [Read(RAW_POLICY, Window(begin, end))
            for span in spans for begin, end in cut(span.begin, span.end, RAW_PIECE, most)]
