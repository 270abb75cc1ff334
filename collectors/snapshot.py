"""The live view published after each usage cycle (DESIGN §7, docs/web.md "Live protocol").

Every pod and node of the cluster, as the compact rows of ``kubemon.liveview``: spec and status
from the pod index (the watch), usage from the cycle, GPUs from the gpu cycle's last scrape,
temperatures from Redis. Each cycle stores the cluster's view in Redis (the full snapshot a
browser gets on connect), then one delta per group against the previous view: ``cluster``, and
``tenant-<id>`` restricted to that tenant's namespaces (the map billing publishes in Redis,
``kubemon.cluster``). The deltas are stored too; the channel layer carries only a small notice
per group, because channels-redis copies a message once per member of a group (DESIGN §7).
"""

import logging
import time

import orjson
from django.conf import settings

from collectors.gpulatest import latest_gpus
from kubemon import cluster, keys
from kubemon.live import CLUSTER_GROUP, publish, tenant_group
from kubemon.liveview import (
    COLOURS,
    HOLDING,
    NODE_COLUMNS,
    POD_COLUMNS,
    delta_message,
    diff_by_namespace,
    tenant_view,
    totals_of,
    worst_state,
)
from kubemon.temperatures import latest_temperatures

log = logging.getLogger(__name__)

SNAPSHOT_KEY = keys.SNAPSHOT
MESSAGE_TTL_SECONDS = 600
# The publisher's last view, kept in the worker process so that a cycle need not decode the
# previous one from Redis (about 1.5 MB at 10,000 pods); used only when its seq is Redis's.
_last = {"seq": None, "view": None}


def _add(total, value):
    """A sum that stays None (unknown) until something is known: an exporter that reports no GPU
    memory (the Jetson's) leaves the memory blank, not 0 B."""
    return total if value is None else (total or 0.0) + value


def _gpu_maps(gpus):
    """``(per node [util sum, count, used, total], per pod [util sum, count, used], busy GPUs)``."""
    nodes, pods, busy = {}, {}, 0.0
    for gpu in gpus:
        util, used = gpu.get("util"), gpu.get("memory_used")
        node = nodes.setdefault(gpu["node"], [0.0, 0, None, None])
        if util is not None:
            node[0] += util
            node[1] += 1
            busy += util / 100.0
        node[2] = _add(node[2], used)
        node[3] = _add(node[3], gpu.get("memory_total"))
        if gpu.get("pod"):
            pod = pods.setdefault((gpu["namespace"], gpu["pod"]), [0.0, 0, None])
            if util is not None:
                pod[0] += util
                pod[1] += 1
            pod[2] = _add(pod[2], used)
    return nodes, pods, busy


def _pod_row(pod_id, info, used, gpu):
    cpu_request = cpu_limit = memory_request = memory_limit = gpus = restarts = 0
    for spec in info.containers.values():
        cpu_request += spec.requests_millicpu
        cpu_limit += spec.limits_millicpu
        memory_request += spec.requests_memory
        memory_limit += spec.limits_memory
        gpus += spec.requests_gpu
        restarts += spec.restarts
    if used is not None:
        cpu, memory, net = round(used["cpu_nanocores"] / 1e6), round(used["memory_bytes"]), \
            used.get("network_bytes_per_second")
    else:
        cpu = memory = net = None
    gpu_util = round(gpu[0] / gpu[1]) if gpu is not None and gpu[1] else None
    gpu_memory = round(gpu[2]) if gpu is not None and gpu[2] is not None else None
    return [pod_id, info.namespace, info.name, info.node or "", info.state, info.status or info.reason,
            info.ready_containers, len(info.containers), restarts, info.last_restart, cpu, cpu_request, cpu_limit,
            memory, memory_request, memory_limit, gpus, gpu_util, gpu_memory, net, info.created]


def _node_status(meta):
    if not meta:
        return "Unknown"
    status = "Ready" if meta.get("ready") else "NotReady"
    return status + ",SchedulingDisabled" if meta.get("unschedulable") else status


def _rounded(value):
    return round(value) if value is not None else None


def _percent(part, whole):
    return round(100.0 * part / whole, 1) if whole and part is not None else None


def _node_row(name, meta, used, per_node, temperature, gpu):
    states, requests = per_node
    cpu_alloc, memory_alloc = meta.get("allocatable_millicpu"), meta.get("allocatable_memory")
    cpu = used["cpu_nanocores"] / 1e6 if used else None
    memory = used["memory_bytes"] if used else None
    worst = worst_state(states)
    return [name, _node_status(meta), ",".join(meta.get("roles") or []) or "<none>",
            _percent(cpu, cpu_alloc), _percent(memory, memory_alloc),
            _percent(requests[0], cpu_alloc), _percent(requests[1], memory_alloc), temperature,
            round(gpu[0] / gpu[1]) if gpu and gpu[1] else None, _rounded(gpu and gpu[2]),
            _rounded(gpu and gpu[3]), meta.get("allocatable_gpu"),
            sum(1 for state in states if state in HOLDING), worst, COLOURS[worst]]


def _health(health, nodes):
    """The badge: OK/KO with its reason, naming the control-plane nodes that are not Ready."""
    status = health.get("status", "unknown")
    detail = health.get("detail", "")
    if status == "KO":
        down = [name for name, meta in nodes.items() if meta.get("control_plane") and not meta.get("ready")]
        if down:
            detail = "control-plane node not Ready: " + ", ".join(sorted(down))
    elif status == "OK" and not detail:
        detail = "every control-plane node is Ready"
    return {"status": status, "detail": detail}


def build_view(pods, usage, nodes, health, temperatures, gpus, stamp, ids=None, next_id=1):
    """``(view, next_id)``: the cluster's live view of one cycle (rows of ``kubemon.liveview``).

    ``ids`` maps ``(namespace, name)`` to the id the pod had in the previous view; new pods get
    ``next_id`` onwards, so a delta can name a row by a small number that never changes."""
    ids = ids or {}
    gpu_nodes, gpu_pods, busy = _gpu_maps(gpus)
    pod_usage = usage.pod_usage
    rows = []
    per_node = {}
    for key, info in pods.items():
        pod_id = ids.get(key)
        if pod_id is None:
            pod_id = next_id
            next_id += 1
        row = _pod_row(pod_id, info, pod_usage.get(key), gpu_pods.get(key))
        rows.append(row)
        if row[3]:
            entry = per_node.get(row[3])
            if entry is None:
                entry = per_node[row[3]] = ([], [0.0, 0.0])
            entry[0].append(row[4])
            if row[4] in HOLDING:
                entry[1][0] += row[11]
                entry[1][1] += row[14]
    node_rows = []
    allocatable = {"cpu": 0, "memory": 0, "gpu": 0}
    empty = ([], [0.0, 0.0])
    for name in sorted(set(nodes) | set(usage.node_usage)):
        meta = nodes.get(name, {})
        allocatable["cpu"] += meta.get("allocatable_millicpu") or 0
        allocatable["memory"] += meta.get("allocatable_memory") or 0
        allocatable["gpu"] += meta.get("allocatable_gpu") or 0
        node_rows.append(_node_row(name, meta, usage.node_usage.get(name), per_node.get(name, empty),
                                   temperatures.get(name), gpu_nodes.get(name)))
    view = {
        "type": "snapshot", "seq": 0, "time": stamp, "published": time.time(),
        "every": settings.COLLECT_SCHEDULE.get("usage") or 15, "scope": "cluster",
        "health": _health(health, nodes), "totals": totals_of(rows, allocatable, gpu_usage=busy),
        "node_columns": NODE_COLUMNS, "nodes": node_rows, "pod_columns": POD_COLUMNS, "pods": rows,
    }
    return view, next_id


def _previous(redis):
    """``(state, previous view or None)``: the publisher's memory and the view its seq names."""
    raw = redis.get(keys.LIVE_STATE)
    state = orjson.loads(raw) if raw else {"seq": 0, "next_id": 1, "owned": {}}
    if _last["seq"] is not None and _last["seq"] == state["seq"]:
        return state, _last["view"]
    raw = redis.get(SNAPSHOT_KEY)
    view = orjson.loads(raw) if raw else None
    if view is not None and view.get("seq") != state["seq"]:
        view = None
    return state, view


def publish_usage(redis, pods, usage, stamp):
    """Build, store and announce this cycle's view; returns it (None when it could not be built)."""
    try:
        state, previous = _previous(redis)
        ids = {(row[1], row[2]): row[0] for row in previous["pods"]} if previous else {}
        view, next_id = build_view(pods, usage, cluster.inventory_nodes(redis), cluster.get_health(redis),
                                   latest_temperatures(redis), latest_gpus(redis), stamp, ids, state["next_id"])
        seq = state["seq"] + 1
        view["seq"] = seq
        parts = diff_by_namespace(previous["pods"] if previous else [], view["pods"])
        try:
            owned = {str(tenant): names for tenant, names in cluster.tenant_namespaces(redis).items()}
        except Exception as exc:  # noqa: BLE001
            log.warning("could not read namespace ownership for tenant views: %s", exc)
            owned = {}
        base = state["seq"] if previous is not None else None
        messages = {CLUSTER_GROUP: (delta_message(view, base, parts), None)}
        for tenant, names in owned.items():
            # A tenant whose namespaces changed gets no delta: its sockets send it the full view.
            tenant_base = base if state["owned"].get(tenant) == names else None
            messages[tenant_group(tenant)] = (
                delta_message(tenant_view(view, names), tenant_base, parts, frozenset(names)), names)
        pipe = redis.pipeline(transaction=True)
        pipe.set(SNAPSHOT_KEY, orjson.dumps(view))
        for group, (message, _) in messages.items():
            pipe.set(keys.LIVE_MESSAGE + group, b"%d\n" % seq + orjson.dumps(message), ex=MESSAGE_TTL_SECONDS)
        pipe.set(keys.LIVE_STATE, orjson.dumps({"seq": seq, "next_id": next_id, "owned": owned}))
        pipe.execute()
        _last.update(seq=seq, view=view)
    except Exception as exc:  # noqa: BLE001  (the data is stored; a live view can wait a cycle)
        log.warning("could not build the live snapshot: %s", exc)
        return None
    for group, (message, names) in messages.items():
        notice = {"seq": seq, "base": message["base"], "group": group, "published": view["published"]}
        if names is not None:
            notice["namespaces"] = names
        publish(group, "delta", notice)
    return view
