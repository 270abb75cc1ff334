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

from django.conf import settings

from collectors.legacy.samples import HOUR_MS, tags_of
from kubemon.timeseries import Point, to_line
from kubemon.timeseries.heads import HEAD_SUFFIX, add_heads, head_share, reach_seconds
from kubemon.timeseries.schema import CONTAINER

CPU_RATE = "cpu/usage_rate"


def _value(source, value):
    value = value * source.scale
    return int(round(value)) if source.integer else float(value)


def _lines(measurement, tags, rows):
    """Line protocol of one series' ``(fields, t ms)`` rows, as ``TimeseriesStore.serialize``
    would write each ``Point`` (without building them: a month of 1,000 pods is 173 M points).
    Raises ``ValueError`` for a tag or value the protocol cannot carry, rather than leaving the
    point out."""
    lines = []
    for fields, t in rows:
        line = to_line(measurement, tags, fields, t)
        if line is None:
            raise ValueError(f"no field of {measurement} at {t} (epoch ms) can be written: {fields!r}")
        lines.append(line)
    return lines


def raw_points(source, key, samples):
    """Raw points of one series' samples ``[(t ms, value, interval, gap), ...]``."""
    return [Point(source.target, tags_of(source, key), fields, t) for fields, t in _raw_rows(source, samples)]


def raw_lines(source, key, samples):
    """``raw_points`` as line protocol."""
    return _lines(source.target, tags_of(source, key), _raw_rows(source, samples))


def _raw_rows(source, samples):
    field, rollup, primary = source.field, source.rollup, source.primary
    integral = field + "_integral"
    cpu = source.name == CPU_RATE
    coverage = primary and source.target == CONTAINER
    # Samples straddling their hour's start carry their heads, as the collectors' do (heads.py).
    reach = reach_seconds(settings.COLLECT_SCHEDULE)
    rows = []
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
        if (t // 1000) % 3600 < reach:
            add_heads(source.target, fields, t / 1000, reach, interval)
        rows.append((fields, t))
    return rows


def hourly_points(source, key, samples):
    """The hourly rollup points of one series' samples (only for sources with ``rollup``)."""
    return [Point(source.target, tags_of(source, key), fields, t) for fields, t in _hourly_rows(source, samples)]


def hourly_lines(source, key, samples):
    """``hourly_points`` as line protocol."""
    return _lines(source.target, tags_of(source, key), _hourly_rows(source, samples))


def _hourly_rows(source, samples):
    field, primary = source.field, source.primary
    cpu = source.name == CPU_RATE
    coverage = primary and source.target == CONTAINER
    by_hour, heads = {}, {}
    scale, integer = source.scale, source.integer
    reach = reach_seconds(settings.COLLECT_SCHEDULE)
    for t, value, interval, gap in samples:
        v = float(round(value * scale)) if integer else float(value * scale)  # _value, inlined: per sample
        hour = t - t % HOUR_MS
        acc = by_hour.get(hour)
        if acc is None:
            acc = by_hour[hour] = [0.0, 0.0, v, 0, 0.0, 0.0, 0.0, False]
        if (t // 1000) % 3600 < reach:
            # What the rollup sums of the raw samples' heads (heads.py): the part before the hour.
            share = head_share(t / 1000, interval, reach)
            if share:
                heads[hour] = heads.get(hour, 0.0) + v * interval * share
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
    rows = []
    for hour, (integral, total, peak, count, intervals, core_seconds, gaps, had_gap) in by_hour.items():
        fields = {field + "_integral": integral, field + "_sum": total, field + "_max": peak,
                  field + "_samples": count}
        if cpu:
            fields["cpu_core_seconds"] = core_seconds
        if primary:
            fields["interval_seconds"] = intervals
            if coverage and had_gap:
                fields["gap_seconds"] = gaps
        head = heads.get(hour)
        if head is not None and source.rollup:
            fields[field + "_integral" + HEAD_SUFFIX] = head
            if cpu:
                fields["cpu_core_seconds" + HEAD_SUFFIX] = head * 1e-9
        rows.append((fields, hour))
    return rows


def allocation_points(field, usage_source, key, samples, requests, factors, hourly):
    """Points of ``field`` = max(request, usage) x interval per sample (``catalogue.ALLOCATIONS``);
    ``requests`` maps a time (ms) to the request at that sample (absent: none, as kubemon writes 0)."""
    return [Point(CONTAINER, tags_of(usage_source, key), fields, t)
            for fields, t in _allocation_rows(field, usage_source, samples, requests, factors, hourly)]


def allocation_lines(field, usage_source, key, samples, requests, factors, hourly):
    """``allocation_points`` as line protocol."""
    return _lines(CONTAINER, tags_of(usage_source, key),
                  _allocation_rows(field, usage_source, samples, requests, factors, hourly))


def _allocation_rows(field, usage_source, samples, requests, factors, hourly):
    usage_factor, request_factor = factors
    values, heads = {}, {}
    scale, integer = usage_source.scale, usage_source.integer
    asked = requests.get
    reach = reach_seconds(settings.COLLECT_SCHEDULE)
    for t, value, interval, _ in samples:
        usage = (int(round(value * scale)) if integer else float(value * scale)) * usage_factor  # _value
        request = asked(t, 0) * request_factor
        amount = (usage if usage >= request else request) * interval
        slot = t - t % HOUR_MS if hourly else t
        values[slot] = values.get(slot, 0.0) + amount
        if (t // 1000) % 3600 < reach:
            share = head_share(t / 1000, interval, reach)
            if share:
                heads[slot] = heads.get(slot, 0.0) + amount * share
    return [({field: amount, field + HEAD_SUFFIX: heads[t]} if t in heads else {field: amount}, t)
            for t, amount in values.items()]
