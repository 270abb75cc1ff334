"""Sharded usage (and GPU) collection: the nodes split into shards, one Celery task per shard.

``COLLECT_USAGE_SHARDS`` says how many (1: one task, as before; 0: by node count, one shard per
``COLLECT_USAGE_NODES_PER_SHARD`` nodes rounded up to a power of two, so that the count, and with
it every node's shard, rarely changes). A node's shard is a stable hash of its name: nodes that
come and go move no other node, and each series keeps meeting the same shard's state.

Each shard is a usage cycle of its own over its nodes (collectors/cycles.py): its own lock, its
own sampling state (``kubemon:sampling:usage/<i>of<n>``), its own running sums per hour
(kubemon/openhour.py) and its own in-doubt mark, so shards never contend on one lock or one
Redis document and a killed shard, redelivered by the broker (acks late), rebuilds only its own
state and rewrites only its own points.

The cycle finishes when every shard has reported: there is no result backend, so each shard
adds its report and its live figures to one Redis hash per cycle, and the shard that completes
the hash merges the reports into the ``usage`` cycle report and publishes the live snapshot.
The next dispatch names the shards the previous cycle is still missing (``missing_shards`` in
the report, and ``/healthz``'s ``collection``).

The GPU cycle shards the same way (``kind`` "gpu"), by the same setting: its shards are of GPU
exporters, keyed by their node (an exporter of ``GPU_EXPORTER_URLS`` without one by its URL),
each with its own lock and sampling state (``kubemon:sampling:gpu/<i>of<n>``); the shard that
completes the cycle saves the ``gpu`` report and the GPUs' latest values for the live view.
"""

import secrets
import time
import zlib
from dataclasses import dataclass

import orjson
from django.conf import settings

from kubemon import keys

DONE_TTL_SECONDS = 3600  # a cycle's reports are read by its last shard and by the next dispatch


@dataclass(frozen=True)
class Shard:
    cycle: str  # the cycle's id (one dispatch)
    index: int  # 1-based
    count: int
    nodes: tuple
    kind: str = "usage"  # the sharded cycle: "usage" or "gpu"

    @property
    def label(self):
        return f"{self.index}of{self.count}"

    @property
    def name(self):
        """The shard's cycle name: its lock, its sampling state and its report."""
        return f"{self.kind}/{self.label}"


# kind -> (the last dispatched cycle's layout, the prefix of a cycle's hash of shard reports)
KEYS = {"usage": (keys.USAGE_SHARDS, keys.USAGE_SHARDS_DONE), "gpu": (keys.GPU_SHARDS, keys.GPU_SHARDS_DONE)}


def shard_count(node_count, configured=None, per_shard=None):
    """How many shards for ``node_count`` nodes (``COLLECT_USAGE_SHARDS``; 0: automatic)."""
    configured = settings.COLLECT_USAGE_SHARDS if configured is None else configured
    if configured >= 1:
        return configured
    per_shard = per_shard or settings.COLLECT_USAGE_NODES_PER_SHARD
    wanted = max(1, -(-node_count // max(per_shard, 1)))
    return 1 << (wanted - 1).bit_length()


def shard_of(node, count):
    """The 1-based shard of ``node``: crc32 is stable across processes (``hash()`` is salted)."""
    return zlib.crc32(node.encode()) % count + 1


def split(nodes, count):
    """``[nodes of shard 1, ..., nodes of shard count]``, each sorted."""
    shards = [[] for _ in range(count)]
    for node in sorted(nodes):
        shards[shard_of(node, count) - 1].append(node)
    return shards


def plan(redis, nodes, count, kind="usage"):
    """Record a new cycle of ``count`` shards; returns its ``Shard``s and the shards the previous
    cycle never heard from (labels), which the dispatch reports as missing."""
    cycle = f"{int(time.time() * 1000)}-{secrets.token_hex(3)}"
    missing = missing_shards(redis, kind)
    # ``missing`` stays with the new cycle for /healthz (kubemon/health.py): what the last finished wait lacked.
    redis.set(KEYS[kind][0], orjson.dumps({"cycle": cycle, "count": count, "time": time.time(),
                                           "nodes": len(nodes), "previous_missing": missing}))
    return [Shard(cycle, i + 1, count, tuple(names), kind) for i, names in enumerate(split(nodes, count))], missing


def missing_shards(redis, kind="usage"):
    """The labels of the last dispatched cycle's shards that have not reported (``[]`` when none)."""
    layout, done_prefix = KEYS[kind]
    raw = redis.get(layout)
    if not raw:
        return []
    last = orjson.loads(raw)
    done = {value.decode() for value in redis.hkeys(done_prefix + last["cycle"])}
    return [f"{i}of{last['count']}" for i in range(1, last["count"] + 1) if f"{i}of{last['count']}" not in done]


def report_shard(redis, shard, report, pod_usage=None, node_usage=None, sample_time=0, gpus=None):
    """Add a shard's report and live figures (a GPU shard's: its GPUs' latest values) to its
    cycle; returns every shard's entry when this one completed the cycle (the caller then
    finishes it), else None.

    A shard that reports twice (a redelivered task) replaces its entry and completes nothing, so
    a cycle is finished once.
    """
    entry = orjson.dumps({
        "report": report, "sample_time": sample_time,
        "pods": [[ns, pod, usage] for (ns, pod), usage in (pod_usage or {}).items()],
        "nodes": node_usage or {}, "gpus": gpus or [],
    }, option=orjson.OPT_NON_STR_KEYS)
    key = KEYS[shard.kind][1] + shard.cycle
    pipe = redis.pipeline(transaction=True)
    pipe.hset(key, shard.label, entry)
    pipe.expire(key, DONE_TTL_SECONDS)
    pipe.hlen(key)
    added, _, reported = pipe.execute()
    if not added or reported < shard.count:
        return None
    return [orjson.loads(raw) for raw in redis.hgetall(key).values()]


def merge_reports(entries, count, name="usage"):
    """The cycle's report from its shards' (``CycleReport.as_dict()`` each)."""
    merged = {"name": name, "ok": True, "skipped": False, "error": "", "points": {}, "seconds": {},
              "written": 0, "spooled": 0, "replayed": 0, "rejected": 0,
              "shards": {"count": count, "failed": [], "skipped": []}}
    errors, notes = [], []
    for entry in sorted(entries, key=lambda e: e["report"]["name"]):
        report = entry["report"]
        label = report["name"].partition("/")[2]
        if report.get("skipped"):
            merged["shards"]["skipped"].append(label)
        elif not report.get("ok"):
            merged["shards"]["failed"].append(label)
            errors.append(f"shard {label}: {report.get('error')}")
        elif report.get("error"):
            notes.append(report["error"])  # a GPU shard's exporters that failed: the cycle is still ok
        for measurement, value in (report.get("points") or {}).items():
            merged["points"][measurement] = merged["points"].get(measurement, 0) + value
        for phase, seconds in (report.get("seconds") or {}).items():
            # Shards run side by side: the cycle took as long as its slowest shard's phase.
            merged["seconds"][phase] = max(merged["seconds"].get(phase, 0.0), seconds)
        for name in ("written", "spooled", "replayed", "rejected"):
            merged[name] += report.get(name) or 0
        if report.get("pods_from"):
            merged["pods_from"] = report["pods_from"]
        if report.get("unobserved_nodes"):
            merged["unobserved_nodes"] = sorted(merged.get("unobserved_nodes", []) + report["unobserved_nodes"])
    if merged["shards"]["failed"] or merged["shards"]["skipped"]:
        merged["ok"] = not merged["shards"]["failed"]
        merged["error"] = "; ".join(errors) or "shards skipped: " + ", ".join(merged["shards"]["skipped"])
    elif notes:
        merged["error"] = "; ".join(notes)
    return merged


def merged_gpus(entries):
    """Every GPU shard's latest values (``collectors.gpulatest``), for the live snapshot."""
    return [gpu for entry in entries for gpu in entry.get("gpus") or ()]


def merged_usage(entries):
    """``(pod_usage, node_usage, sample_time)`` of every shard, for the live snapshot."""
    pods, nodes, sample_time = {}, {}, 0
    for entry in entries:
        for namespace, pod, usage in entry["pods"]:
            pods[(namespace, pod)] = usage
        nodes.update(entry["nodes"])
        sample_time = max(sample_time, entry["sample_time"] or 0)
    return pods, nodes, sample_time
