"""The compact live snapshot published after each usage cycle (DESIGN §7).

The ``cluster`` group gets everything; each tenant's group gets only its own namespaces and
pods (consumers re-check access before sending, this is the first of two filters). Which
namespaces a tenant owns comes from the map billing publishes in Redis (``kubemon.cluster``).
"""

import logging

import orjson

from collectors.podstate import node_colour
from kubemon import cluster, keys
from kubemon.live import CLUSTER_GROUP, publish, tenant_group
from kubemon.temperatures import latest_temperatures

log = logging.getLogger(__name__)

SNAPSHOT_KEY = keys.SNAPSHOT
TOP_PODS = 100


def build_snapshot(pods, usage, nodes, health, temperatures, stamp):
    pod_rows, namespaces, node_states = [], {}, {}
    for (namespace, name), info in pods.items():
        used = usage.pod_usage.get((namespace, name), {})
        cpu_m = used.get("cpu_nanocores", 0.0) / 1e6
        memory = used.get("memory_bytes", 0.0)
        pod_rows.append({"namespace": namespace, "pod": name, "node": info.node, "state": info.state,
                         "reason": info.reason, "cpu_millicores": round(cpu_m, 1), "memory_bytes": memory})
        ns = namespaces.setdefault(namespace, {"cpu_millicores": 0.0, "memory_bytes": 0.0, "gpus": 0.0, "pods": 0,
                                               "states": {}})
        ns["cpu_millicores"] += cpu_m
        ns["memory_bytes"] += memory
        ns["pods"] += 1
        ns["states"][info.state] = ns["states"].get(info.state, 0) + 1
        if info.state in ("running", "deleting"):
            ns["gpus"] += sum(c.requests_gpu for c in info.containers.values())
        if info.node:
            node_states.setdefault(info.node, []).append(info.state)
    pod_rows.sort(key=lambda row: (-row["cpu_millicores"], row["namespace"], row["pod"]))
    node_rows = []
    for name in sorted(set(nodes) | set(usage.node_usage)):
        meta = nodes.get(name, {})
        used = usage.node_usage.get(name, {})
        cpu_m = used.get("cpu_nanocores", 0.0) / 1e6
        memory = used.get("memory_bytes", 0.0)
        node_rows.append({
            "name": name,
            "ready": meta.get("ready"),
            "roles": meta.get("roles", []),
            "cpu_millicores": round(cpu_m, 1),
            "cpu_percent": round(100 * cpu_m / meta["allocatable_millicpu"], 1) if meta.get("allocatable_millicpu")
            else None,
            "memory_bytes": memory,
            "memory_percent": round(100 * memory / meta["allocatable_memory"], 1) if meta.get("allocatable_memory")
            else None,
            "colour": node_colour(node_states.get(name, [])),
            "temperature_celsius": temperatures.get(name),
        })
    for ns in namespaces.values():
        ns["cpu_millicores"] = round(ns["cpu_millicores"], 1)
    return {"time": stamp, "health": health, "nodes": node_rows, "pods": pod_rows[:TOP_PODS],
            "namespaces": namespaces, "pod_count": len(pod_rows)}


def tenant_view(snapshot, namespaces):
    """The part of a snapshot a tenant owning ``namespaces`` may see."""
    allowed = set(namespaces)
    pods = [row for row in snapshot["pods"] if row["namespace"] in allowed]
    own_nodes = {row["node"] for row in pods}
    return {
        "time": snapshot["time"],
        "health": snapshot["health"],
        "nodes": [{"name": n["name"], "ready": n["ready"], "colour": n["colour"]} for n in snapshot["nodes"]
                  if n["name"] in own_nodes],
        "pods": pods,
        "namespaces": {ns: v for ns, v in snapshot["namespaces"].items() if ns in allowed},
        "pod_count": len(pods),
    }


def publish_usage(redis, pods, usage, stamp):
    try:
        snapshot = build_snapshot(pods, usage, cluster.inventory_nodes(redis), cluster.get_health(redis),
                                  latest_temperatures(redis), stamp)
        redis.set(SNAPSHOT_KEY, orjson.dumps(snapshot))
    except Exception as exc:  # noqa: BLE001  (the data is stored; a live view can wait a cycle)
        log.warning("could not build the live snapshot: %s", exc)
        return None
    publish(CLUSTER_GROUP, "snapshot", snapshot)
    try:
        owned = cluster.tenant_namespaces(redis)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not read namespace ownership for tenant snapshots: %s", exc)
        owned = {}
    for tenant_id, namespaces in owned.items():
        publish(tenant_group(tenant_id), "snapshot", tenant_view(snapshot, namespaces))
    return snapshot
