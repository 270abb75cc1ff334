"""Rebuild a cycle's sampling state from InfluxDB when Redis has lost it.

A Redis restarted empty (or a new Redis) has no ``kubemon:sampling:<cycle>`` document. Without
it every series would be seen for the first time and stand for one nominal period, so the time
since its last sample (the cycles Redis was down for, at least) would go uncharged, CPU
included. Instead, the state is rebuilt from each series' newest raw point within
``LOOKBACK_SECONDS`` on the sources' clock: one query per measurement, all sent in one request.

The points carry what the state needs: the sample time, ``interval_seconds``, and for containers
the kubelet's cumulative counter (``cpu_usage_core_nanoseconds``, an integer) and the increment
charged (``cpu_core_seconds``). The container's start time is not stored: it is left unknown
(None), and ``SamplingState.advance`` then takes the container as the same instance when its
counter did not go back, or as a new one when its start lies after the rebuilt sample.

The same rebuild replaces a document left in doubt by a cycle that died between writing its
points and saving its state (``SamplingState.begin``): InfluxDB's last points are then exactly
the part of that cycle that was written, so the next run charges neither interval twice nor
loses one.

This runs only when the document is absent or in doubt; an empty document (a cluster without pods) is
state like any other. If InfluxDB is unavailable too, the series start from scratch, as they
did before, and the log says so.
"""

import logging

from collectors.sampling import CLOSED, SamplingState
from kubemon.cluster import source_now
from kubemon.timeseries import TimeseriesError
from kubemon.timeseries.schema import CONTAINER, GPU, NETWORK, NODE, VOLUME, field_identifier, source_identifier

log = logging.getLogger(__name__)

# How far back a series' last point may lie: a Redis restart, a rescheduled Redis pod or an
# image pull take seconds to minutes. A series last seen earlier starts from scratch, as a new
# one. Every point is bounded this way, so the query reads at most 15 minutes of the raw shard.
LOOKBACK_SECONDS = 900


def _last_points(measurement, selector, others=(), group_by="*"):
    """The newest point of each series that has ``selector``, with the ``others`` fields of that
    same point (InfluxQL's selector with fields)."""
    fields = ", ".join([f"last({field_identifier(measurement, selector)})"]
                       + [field_identifier(measurement, name) for name in others])
    return (f"SELECT {fields} FROM {source_identifier(measurement)} "  # noqa: S608  (whitelisted identifiers)
            f"WHERE time >= $since GROUP BY {group_by}")


def _rows(series):
    """``(tags, {column: value})`` of each series' single row."""
    for item in series:
        columns = item["columns"]
        for values in item.get("values") or ():
            yield item.get("tags") or {}, dict(zip(columns, values, strict=True))


def _put(entries, key, entry):
    # Several series can make one key (a container's node tag, a GPU's pod tags changed): the newest wins.
    previous = entries.get(key)
    if previous is None or entry[0] > previous[0]:
        entries[key] = entry


def _usage_statements():
    return [
        _last_points(CONTAINER, "interval_seconds",
                     ("cpu_usage_core_nanoseconds", "cpu_core_seconds", "memory_working_set_bytes")),
        _last_points(NETWORK, "interval_seconds", ("rx_bytes", "tx_bytes")),
        _last_points(NODE, "interval_seconds"),
        _last_points(VOLUME, "used_bytes", group_by='"namespace", "pod_name"'),
    ]


def _usage_entries(results):
    """The ``usage`` cycle's entries, keyed as ``collectors.usage`` keys its series."""
    containers, networks, nodes, volumes = results
    entries = {}
    for tags, row in _rows(containers):
        counter = row.get("cpu_usage_core_nanoseconds")
        key = f"c/{tags.get('namespace', '')}/{tags.get('pod_name', '')}/{tags.get('container_name', '')}"
        if counter is None:
            # A closing point (collectors.usage.closing_fields: an instance that ended) or a point
            # of the metrics.k8s.io fallback: either way, not one to close again.
            _put(entries, key, [row["time"], None, None, float(row["last"]), 0.0, CLOSED, None, None])
        else:
            interval, increment = float(row["last"]), float(row.get("cpu_core_seconds") or 0.0)
            # The working set and the interval's mean rate: what a closing sample charges (SamplingState.close).
            _put(entries, key, [row["time"], counter / 1e9, None, interval, increment, 0,
                                row.get("memory_working_set_bytes"), increment / interval if interval > 0 else 0.0])
    for tags, row in _rows(networks):
        _put(entries, f"n/{tags.get('namespace', '')}/{tags.get('pod_name', '')}",
             [row["time"], None, None, float(row["last"]), 0.0])
        if row.get("rx_bytes") is not None and row.get("tx_bytes") is not None:
            # The byte counter the live view's network rate starts from (collectors.usage.network_rate).
            _put(entries, f"nb/{tags.get('namespace', '')}/{tags.get('pod_name', '')}",
                 [row["time"], row["rx_bytes"] + row["tx_bytes"], None, 0.0, 0.0])
    for tags, row in _rows(nodes):
        _put(entries, f"node/{tags.get('node_name', '')}", [row["time"], None, None, float(row["last"]), 0.0])
    for tags, row in _rows(volumes):
        _put(entries, f"v/{tags.get('namespace', '')}/{tags.get('pod_name', '')}", [row["time"], None, None, 0.0, 0.0])
    return entries


def _gpu_entries(results):
    """The ``gpu`` cycle's entries, keyed as ``collectors.gpu.collect_gpu`` keys its series."""
    entries = {}
    for tags, row in _rows(results[0]):
        key = f"g/{tags.get('node_name', '')}/{tags.get('gpu', '')}/{tags.get('uuid', '')}"
        _put(entries, key, [row["time"], None, None, float(row["last"]), 0.0])
    return entries


REBUILDS = {
    "usage": (_usage_statements, _usage_entries),
    "gpu": (lambda: [_last_points(GPU, "interval_seconds")], _gpu_entries),
}


def rebuild_entries(store, name, since):
    """The sampling entries of cycle ``name`` from InfluxDB's newest points at or after ``since``
    (epoch seconds). Raises ``TimeseriesError`` when InfluxDB cannot answer."""
    statements, entries = REBUILDS[name]
    return entries(store.query_many(statements(), params={"since": int(since) * 10**9}, epoch="s"))


def load_sampling(redis, store, name, cap_seconds, nominal_seconds, kind=None):
    """The cycle's ``SamplingState`` from Redis, rebuilt from InfluxDB when Redis has none.

    ``kind`` is what the state samples (``usage``, ``gpu``) when ``name`` is a shard's
    (``usage/2of4``): a rebuild then takes every series, and the shard uses its nodes' ones (the
    others are forgotten after a day unseen, ``sampling.FORGET_AFTER_SECONDS``)."""
    state = SamplingState.load(redis, cap_seconds, nominal_seconds, name=name)
    if state.found:
        return state
    why = "was left in doubt by a cycle that died before saving it" if state.in_doubt else "was missing from Redis"
    since = source_now(redis) - LOOKBACK_SECONDS
    try:
        state.entries = rebuild_entries(store, kind or name, since)
    except TimeseriesError as exc:
        # Charging from the doubtful state could count the dead cycle's interval twice; from
        # scratch, each series stands for one nominal period.
        state.entries = {}
        log.warning("the %s sampling state %s and InfluxDB cannot rebuild it (%s): every series is charged "
                    "from scratch", name, why, exc)
        return state
    # A first start looks the same as an emptied Redis; only a rebuild that found series is news.
    level = logging.WARNING if state.entries or state.in_doubt else logging.INFO
    log.log(level, "the %s sampling state %s: rebuilt %d series from InfluxDB's last points of the last %d s",
            name, why, len(state.entries), LOOKBACK_SECONDS)
    return state
