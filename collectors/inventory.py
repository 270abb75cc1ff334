"""Inventory: pod states, node capacity and condition, cluster health, namespace ownership labels."""

import logging

from collectors.podspec import gpu_count
from collectors.quantity import QuantityError, cpu_millicores, to_bytes, to_count
from collectors.timeutil import epoch_seconds
from kubemon.timeseries import Point
from kubemon.timeseries.schema import NODE, POD

log = logging.getLogger(__name__)

TENANT_LABEL = "kubemon.io/tenant"
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def pod_points(pods, timestamp):
    """One ``kubernetes_pod`` point per pod (its DESIGN §5 state), all at ``timestamp``."""
    points = []
    for info in pods.values():
        uptime = 0.0
        if info.start_time and info.state in ("running", "failed", "deleting"):
            uptime = float(max(0, timestamp - epoch_seconds(info.start_time)))
        points.append(Point(
            POD,
            {"namespace": info.namespace, "pod_name": info.name, "node_name": info.node},
            {
                "phase": info.phase,
                "state": info.state,
                "reason": info.reason,
                "ready_containers": info.ready_containers,
                "containers": len(info.containers),
                "restarts_total": sum(c.restarts for c in info.containers.values()),
                "owner_kind": info.owner_kind,
                "owner_name": info.owner_name,
                "uptime_seconds": uptime,
            },
            timestamp,
        ))
    return points


def node_roles(node):
    labels = (node.get("metadata") or {}).get("labels") or {}
    prefix = "node-role.kubernetes.io/"
    return sorted(key[len(prefix):] for key in labels if key.startswith(prefix)) or ["worker"]


def is_control_plane(node):
    labels = (node.get("metadata") or {}).get("labels") or {}
    return any(label in labels for label in CONTROL_PLANE_LABELS)


def is_ready(node):
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def node_inventory(nodes, pods, timestamp):
    """``(points, summary)``: capacity/allocatable/condition per node and the cluster health."""
    requests = {}
    for info in pods.values():
        if info.state in ("running", "pending", "deleting") and info.node:
            totals = requests.setdefault(info.node, [0.0, 0.0, 0.0])
            for spec in info.containers.values():
                totals[0] += spec.requests_millicpu
                totals[1] += spec.requests_memory
                totals[2] += spec.requests_gpu
    points, summary = [], {}
    for node in nodes:
        try:
            name = node["metadata"]["name"]
            status = node.get("status") or {}
            capacity = status.get("capacity") or {}
            allocatable = status.get("allocatable") or {}
            ready = is_ready(node)
            control_plane = is_control_plane(node)
            fields = {
                "capacity_millicpu_cores": cpu_millicores(capacity.get("cpu", "0")),
                "capacity_memory_bytes": to_bytes(capacity.get("memory", "0")),
                "capacity_pods": to_count(capacity.get("pods", "0")),
                "capacity_gpu": gpu_count(capacity),
                "allocatable_millicpu_cores": cpu_millicores(allocatable.get("cpu", "0")),
                "allocatable_memory_bytes": to_bytes(allocatable.get("memory", "0")),
                "allocatable_pods": to_count(allocatable.get("pods", "0")),
                "allocatable_gpu": gpu_count(allocatable),
                "ready": ready,
                "unschedulable": bool((node.get("spec") or {}).get("unschedulable", False)),
                "control_plane": control_plane,
            }
            node_requests = requests.get(name, [0.0, 0.0, 0.0])
            fields["requests_millicpu_units"] = node_requests[0]
            fields["requests_memory_bytes"] = node_requests[1]
            fields["requests_gpu"] = node_requests[2]
        except (KeyError, TypeError, ValueError, QuantityError) as exc:
            log.warning("skipping node %s: %s", (node.get("metadata") or {}).get("name", "?"), exc)
            continue
        points.append(Point(NODE, {"node_name": name}, fields, timestamp))
        summary[name] = {
            "ready": ready,
            "control_plane": control_plane,
            "roles": node_roles(node),
            "allocatable_millicpu": fields["allocatable_millicpu_cores"],
            "allocatable_memory": fields["allocatable_memory_bytes"],
            "allocatable_gpu": fields["allocatable_gpu"],
            "unschedulable": fields["unschedulable"],
            # Billing prices by node label (node pool, hardware generation) and reports idle per pool.
            "labels": dict((node.get("metadata") or {}).get("labels") or {}),
        }
    return points, summary


def cluster_health(node_summary):
    """``OK`` when every control-plane node is Ready, else ``KO`` (DESIGN §5)."""
    control_plane = [n for n in node_summary.values() if n["control_plane"]]
    if not control_plane:
        # A cluster whose control plane is not visible as nodes (managed services): judge by all nodes.
        control_plane = list(node_summary.values())
    if control_plane and all(n["ready"] for n in control_plane):
        return "OK"
    return "KO"


def namespace_labels(namespaces):
    """``{namespace: labels}`` for the ownership sync."""
    return {
        (ns.get("metadata") or {}).get("name", ""): (ns.get("metadata") or {}).get("labels") or {}
        for ns in namespaces
        if (ns.get("metadata") or {}).get("name")
    }
