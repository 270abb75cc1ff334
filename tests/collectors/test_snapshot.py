"""The live snapshot: what the cluster group and a tenant group receive through the real channel layer."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from collectors.podspec import ContainerSpec, PodInfo
from collectors.snapshot import build_snapshot, publish_usage, tenant_view
from collectors.usage import UsageResult
from kubemon.cluster import publish_tenant_namespaces, record_inventory
from kubemon.live import CLUSTER_GROUP, publish, tenant_group


def _pod(ns, name, node, state, gpus=0.0):
    return PodInfo(ns, name, "uid-" + name, node, "Running", state, "", "", "", "",
                   {"c": ContainerSpec(requests_gpu=gpus)})


def _inputs():
    pods = {("team-a", "a1"): _pod("team-a", "a1", "n1", "running", gpus=1.0),
            ("team-b", "b1"): _pod("team-b", "b1", "n2", "failed"),
            ("team-b", "b2"): _pod("team-b", "b2", "n1", "pending")}
    usage = UsageResult()
    usage.pod_usage = {("team-a", "a1"): {"cpu_nanocores": 5e8, "memory_bytes": 2e9},
                       ("team-b", "b1"): {"cpu_nanocores": 1e8, "memory_bytes": 1e9}}
    usage.node_usage = {"n1": {"cpu_nanocores": 1e9, "memory_bytes": 4e9}}
    nodes = {"n1": {"ready": True, "roles": ["worker"], "allocatable_millicpu": 4000.0, "allocatable_memory": 8e9},
             "n2": {"ready": False, "roles": ["worker"], "allocatable_millicpu": 4000.0, "allocatable_memory": 8e9}}
    return pods, usage, nodes


def _snapshot():
    pods, usage, nodes = _inputs()
    return build_snapshot(pods, usage, nodes, {"status": "OK"}, {"n1": 51.5}, 1000)


def test_it_summarises_nodes_pods_and_namespaces():
    snapshot = _snapshot()
    n1 = next(n for n in snapshot["nodes"] if n["name"] == "n1")
    assert n1["cpu_percent"] == 25.0 and n1["memory_percent"] == 50.0
    assert n1["colour"] == "yellow" and n1["temperature_celsius"] == 51.5
    assert next(n for n in snapshot["nodes"] if n["name"] == "n2")["colour"] == "red"
    assert [p["pod"] for p in snapshot["pods"]] == ["a1", "b1", "b2"]  # by CPU, highest first
    assert snapshot["namespaces"]["team-a"] == {"cpu_millicores": 500.0, "memory_bytes": 2e9, "gpus": 1.0,
                                                "pods": 1, "states": {"running": 1}}


def test_a_tenant_view_holds_nothing_of_other_tenants():
    view = tenant_view(_snapshot(), ["team-a"])
    assert {p["namespace"] for p in view["pods"]} == {"team-a"}
    assert set(view["namespaces"]) == {"team-a"}
    assert [n["name"] for n in view["nodes"]] == ["n1"]
    assert "cpu_millicores" not in view["nodes"][0]  # a shared node's usage would reveal others' load


@pytest.mark.django_db
def test_publish_reaches_a_subscriber_through_the_redis_channel_layer(redis_db):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(CLUSTER_GROUP, channel)
    try:
        assert publish(CLUSTER_GROUP, "snapshot", {"time": 1, "pods": []})
        message = async_to_sync(layer.receive)(channel)
    finally:
        async_to_sync(layer.group_discard)(CLUSTER_GROUP, channel)
    assert message == {"type": "live.message", "kind": "snapshot", "data": {"time": 1, "pods": []}}


def test_a_tenant_group_gets_its_view_from_the_published_ownership_map(redis_db):
    # No database access: the ownership comes from the map billing publishes in Redis.
    pods, usage, nodes = _inputs()
    record_inventory(redis_db, nodes, {})
    publish_tenant_namespaces(redis_db, {7: ["team-b"]})
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(tenant_group(7), channel)
    try:
        assert publish_usage(redis_db, pods, usage, 1000)["pod_count"] == 3
        message = async_to_sync(layer.receive)(channel)
    finally:
        async_to_sync(layer.group_discard)(tenant_group(7), channel)
    assert {p["pod"] for p in message["data"]["pods"]} == {"b1", "b2"}
    assert set(message["data"]["namespaces"]) == {"team-b"}
