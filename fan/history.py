"""The fan's history in InfluxDB's ``fan`` measurement (DESIGN §3): every change with its reason,
and what the panel draws (on/off periods as bands, node temperatures per bucket).

Written in milliseconds so that two changes within one second (a switch, then its speed) both stay.
"""

from __future__ import annotations

import logging

from django.conf import settings

from kubemon.timeseries import Point, TimeseriesError
from kubemon.timeseries.schema import FAN, RAW_POLICY, TEMPERATURE, source_identifier

log = logging.getLogger(__name__)


def record(store, running, speed, mode, reason, when):
    """One point; a store that is down spools it (kubemon.timeseries), so the history has no hole."""
    point = Point(FAN, {"fan": settings.FAN_NAME},
                  {"running": bool(running), "speed": float(speed), "mode": mode, "reason": reason[:500]},
                  int(when * 1000))
    try:
        store.write([point], precision="ms")
    except TimeseriesError as exc:
        log.warning("could not write the fan's history: %s", exc)


def changes(store, begin, end):
    """``[(time s, running, speed, mode, reason)]`` in [begin, end], with the last change before ``begin``
    first (the state the window starts in), oldest first."""
    source = source_identifier(FAN, RAW_POLICY)
    params = {"fan": settings.FAN_NAME, "b": int(begin * 1e9), "e": int(end * 1e9)}
    before = store.query(
        f'SELECT "running", "speed", "mode", "reason" FROM {source} WHERE "fan" = $fan AND time < $b '  # noqa: S608
        "ORDER BY time DESC LIMIT 1", params=params, epoch="ms")
    inside = store.query(
        f'SELECT "running", "speed", "mode", "reason" FROM {source} WHERE "fan" = $fan AND time >= $b '  # noqa: S608
        "AND time <= $e ORDER BY time ASC", params=params, epoch="ms")
    rows = []
    for series in (before, inside):
        for s in series:
            for t, running, speed, mode, reason in s["values"]:
                rows.append((t / 1000.0, bool(running), float(speed or 0.0), mode, reason))
    return rows


def bands(rows, begin, end):
    """The periods the fan ran, ``[[start, end]]`` clipped to the window (the panel's bands)."""
    out = []
    start = None
    for t, running, *_ in rows:
        t = max(t, begin)
        if running and start is None:
            start = t
        elif not running and start is not None:
            if t > start:
                out.append([start, t])
            start = None
    if start is not None and end > start:
        out.append([start, end])
    return out


def temperature_series(store, begin, end, buckets=240):
    """``{"times": [...], "nodes": {node: [°C or None, ...]}}``: each node's hottest sensor per bucket."""
    step = max(int((end - begin) / buckets), 5)
    source = source_identifier(TEMPERATURE, RAW_POLICY)
    series = store.query(
        f'SELECT max("celsius") FROM {source} WHERE time >= $b AND time <= $e '  # noqa: S608
        f'GROUP BY time({step}s), "node_name" fill(none)',
        params={"b": int(begin * 1e9), "e": int(end * 1e9)}, epoch="s")
    first = int(begin // step * step)
    times = list(range(first, int(end) + 1, step))
    index = {t: i for i, t in enumerate(times)}
    nodes = {}
    for s in series:
        node = (s.get("tags") or {}).get("node_name", "")
        values = [None] * len(times)
        for t, celsius in s["values"]:
            if t in index and celsius is not None:
                values[index[t]] = round(celsius, 2)
        nodes[node] = values
    return {"times": times, "step": step, "nodes": dict(sorted(nodes.items()))}
