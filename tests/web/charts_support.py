"""Helpers of the chart pages' tests: a live view in Redis, in kubemon.liveview's row layout."""

import orjson

from kubemon import keys
from kubemon.liveview import NODE_COLUMNS, POD_COLUMNS, totals_of


def pod_row(pod_id, namespace, name, node, state="running", status="Running", cpu=100.0, memory=2**27, gpus=0,
            net=1000.0):
    values = {"id": pod_id, "namespace": namespace, "name": name, "node": node, "state": state, "status": status,
              "ready": 1, "containers": 1, "restarts": 0, "last_restart": None, "cpu": cpu, "cpu_request": 100,
              "cpu_limit": 500, "memory": memory, "memory_request": 2**26, "memory_limit": 2**28, "gpus": gpus,
              "gpu_util": 50.0 if gpus else None, "gpu_memory": 2**30 if gpus else None, "net": net,
              "created": 1_700_000_000}
    return [values[column] for column in POD_COLUMNS]


def node_row(name, state="running"):
    values = {"name": name, "status": "Ready", "roles": "worker", "cpu_percent": 42.0, "memory_percent": 51.0,
              "cpu_requests_percent": 10.0, "memory_requests_percent": 12.0, "temperature": 55.5, "gpu_util": None,
              "gpu_memory_used": None, "gpu_memory_total": None, "gpus": 0, "pods": 2, "state": state,
              "colour": "green"}
    return [values[column] for column in NODE_COLUMNS]


# node-1 runs alpha's and beta's pods, node-2 only beta's, node-3 a system pod.
PODS = [
    pod_row(1, "alpha-dev", "web-1", "node-1", cpu=200.0),
    pod_row(2, "beta-web", "front-1", "node-1", cpu=700.0, gpus=1),
    pod_row(3, "beta-web", "front-2", "node-2", state="failed", status="CrashLoopBackOff", cpu=None),
    pod_row(4, "kube-system", "coredns-1", "node-3", cpu=50.0),
    pod_row(5, "alpha-prod", "api-1", "node-1", cpu=300.0, net=5000.0),
]


def store_view(redis, pods=PODS, nodes=("node-1", "node-2", "node-3"), seq=7, time=1_700_000_100):
    view = {"type": "snapshot", "seq": seq, "time": time, "published": time, "every": 15, "scope": "cluster",
            "health": {"status": "OK", "detail": ""},
            "totals": totals_of(pods, {"cpu": 24000, "memory": 96 * 2**30, "gpu": 2}),
            "node_columns": list(NODE_COLUMNS), "nodes": [node_row(name) for name in nodes],
            "pod_columns": list(POD_COLUMNS), "pods": list(pods)}
    redis.set(keys.SNAPSHOT, orjson.dumps(view))
    return view
