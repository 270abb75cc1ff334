"""Each GPU's latest values, kept in Redis by the gpu cycle for the live snapshot.

The gpu cycle runs beside the usage cycle (both every 15 s), in any worker; the snapshot that
the usage cycle publishes shows each node's and each pod's GPU utilisation and memory from the
gpu cycle's last scrape. The values expire after a few cycles, so a GPU whose exporter went
quiet shows blank rather than a frozen reading.
"""

import orjson

from kubemon import keys
from kubemon.timeseries.schema import GPU

LATEST_KEY = keys.GPU_LATEST
# (field in the gpu point, key in the kept entry)
_FIELDS = (("utilization_percent", "util"), ("memory_used_bytes", "memory_used"),
           ("memory_total_bytes", "memory_total"), ("temperature_celsius", "temperature"), ("power_watts", "power"))


def remember_gpus(redis, points, ttl_seconds):
    """Keep the ``gpu`` points' latest values: ``[{node, gpu, namespace, pod, util, memory_used, ...}]``."""
    remember_entries(redis, gpu_entries(points), ttl_seconds)


def remember_entries(redis, entries, ttl_seconds):
    """Keep ``gpu_entries`` (a sharded GPU cycle's, every shard's together) as the latest values."""
    redis.set(LATEST_KEY, orjson.dumps(entries), ex=max(1, int(ttl_seconds)))


def gpu_entries(points):
    """The latest values of the ``gpu`` points, as ``remember_gpus`` keeps them."""
    entries = []
    for point in points:
        if point.measurement != GPU:
            continue
        tags, fields = point.tags, point.fields
        entry = {"node": tags.get("node_name", ""), "gpu": tags.get("gpu", ""), "model": tags.get("model_name", ""),
                 "namespace": tags.get("namespace", ""), "pod": tags.get("pod_name", "")}
        for name, key in _FIELDS:
            if fields.get(name) is not None:
                entry[key] = fields[name]
        entries.append(entry)
    return entries


def latest_gpus(redis):
    """The entries ``remember_gpus`` kept, ``[]`` when none are fresh."""
    raw = redis.get(LATEST_KEY)
    return orjson.loads(raw) if raw else []
