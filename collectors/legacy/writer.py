"""Samples → kubemon points: raw points, or the hourly rollup's points for hours past the raw retention.

A raw point carries what the collectors write for the same fact (``collectors.usage``): the value
in kubemon's unit, its ``<field>_integral`` (value x ``interval_seconds``) for the gauges of
``INTEGRAL_FIELDS``, ``cpu_core_seconds`` for the CPU rate, and from the target's primary source
``interval_seconds`` and ``gap_seconds``. Each legacy measurement is written on its own: InfluxDB
merges the fields of points with the same series and time, so the container point gathers the
fields of ``cpu/usage_rate``, ``memory/usage``... whatever order they come in.

An hourly point is what ``collectors.rollup.rollup_window`` would write from those raw points
(the layout of ``kubemon/timeseries/schema.py``): per series and hour ``<F>_integral``, ``<F>_sum``,
``<F>_max``, ``<F>_samples`` and the sums of the summed fields and of ``interval_seconds``.
"""

from collectors.legacy.samples import HOUR_MS, tags_of
from kubemon.timeseries import Point
from kubemon.timeseries.schema import CONTAINER

CPU_RATE = "cpu/usage_rate"


def _value(source, value):
    value = value * source.scale
    return int(round(value)) if source.integer else float(value)


def raw_points(source, key, samples):
    """Raw points of one series' samples ``[(t ms, value, interval, gap), ...]``."""
    tags = tags_of(source, key)
    field, rollup, primary = source.field, source.rollup, source.primary
    integral = field + "_integral"
    cpu = source.name == CPU_RATE
    coverage = primary and source.target == CONTAINER
    points = []
    for t, value, interval, gap in samples:
        v = _value(source, value)
        fields = {field: v}
        if rollup:
            fields[integral] = v * interval
        if cpu:
            fields["cpu_core_seconds"] = v * 1e-9 * interval
        if primary:
            fields["interval_seconds"] = interval
            if coverage and gap:
                fields["gap_seconds"] = gap
        points.append(Point(source.target, tags, fields, t))
    return points


def _hour(t):
    return t - t % HOUR_MS


def hourly_points(source, key, samples):
    """The hourly rollup points of one series' samples (only for sources with ``rollup``)."""
    tags = tags_of(source, key)
    field, primary = source.field, source.primary
    cpu = source.name == CPU_RATE
    coverage = primary and source.target == CONTAINER
    by_hour = {}
    for t, value, interval, gap in samples:
        v = float(_value(source, value))
        hour = _hour(t)
        acc = by_hour.get(hour)
        if acc is None:
            acc = by_hour[hour] = [0.0, 0.0, v, 0, 0.0, 0.0, 0.0, False]
        acc[0] += v * interval
        acc[1] += v
        if v > acc[2]:
            acc[2] = v
        acc[3] += 1
        acc[4] += interval
        if cpu:
            acc[5] += v * 1e-9 * interval
        if gap:
            acc[6] += gap
            acc[7] = True
    points = []
    for hour, (integral, total, peak, count, intervals, core_seconds, gaps, had_gap) in by_hour.items():
        fields = {field + "_integral": integral, field + "_sum": total, field + "_max": peak,
                  field + "_samples": count}
        if cpu:
            fields["cpu_core_seconds"] = core_seconds
        if primary:
            fields["interval_seconds"] = intervals
            if coverage and had_gap:
                fields["gap_seconds"] = gaps
        points.append(Point(source.target, tags, fields, hour))
    return points


def allocation_points(field, usage_source, key, samples, requests, factors, hourly):
    """Points of ``field`` = max(request, usage) x interval per sample (``catalogue.ALLOCATIONS``);
    ``requests`` maps a time (ms) to the request at that sample (absent: none, as kubemon writes 0)."""
    usage_factor, request_factor = factors
    tags = tags_of(usage_source, key)
    values = {}
    for t, value, interval, _ in samples:
        usage = _value(usage_source, value) * usage_factor
        request = requests.get(t, 0) * request_factor
        amount = max(usage, request) * interval
        slot = _hour(t) if hourly else t
        values[slot] = values.get(slot, 0.0) + amount
    return [Point(CONTAINER, tags, {field: amount}, t) for t, amount in values.items()]
