"""The live view: what the cluster group and a tenant group receive through the real channel layer."""

import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from collectors import snapshot
from collectors.gpulatest import remember_gpus
from collectors.podspec import ContainerSpec, PodInfo
from collectors.snapshot import build_view, publish_usage
from collectors.usage import UsageResult
from kubemon import keys
from kubemon.cluster import publish_tenant_namespaces, record_inventory, set_health
from kubemon.live import CLUSTER_GROUP, publish, tenant_group
from kubemon.liveview import N, P, tenant_view
from kubemon.timeseries import Point


def _pod(ns, name, node, state, gpus=0, status="Running", restarts=0, cpu=100, memory=2**28):
    spec = ContainerSpec(requests_millicpu=cpu, requests_memory=memory, limits_millicpu=2 * cpu,
                         limits_memory=2 * memory, requests_gpu=gpus, restarts=restarts)
    return PodInfo(ns, name, "uid-" + name, node, "Running", state, status, "", "", "", {"c": spec},
                   ready_containers=1 if state == "running" else 0, status=status, created=900,
                   last_restart=950 if restarts else None)


def _inputs():
    pods = {("team-a", "a1"): _pod("team-a", "a1", "n1", "running", gpus=1),
            ("team-b", "b1"): _pod("team-b", "b1", "n2", "failed", status="CrashLoopBackOff", restarts=4),
            ("team-b", "b2"): _pod("team-b", "b2", "n1", "pending", status="Pending")}
    usage = UsageResult()
    usage.pod_usage = {("team-a", "a1"): {"cpu_nanocores": 5e8, "memory_bytes": 2e9, "network_bytes_per_second": 900},
                       ("team-b", "b1"): {"cpu_nanocores": 1e8, "memory_bytes": 1e9}}
    usage.node_usage = {"n1": {"cpu_nanocores": 1e9, "memory_bytes": 4e9}}
    nodes = {"n1": {"ready": True, "roles": ["worker"], "allocatable_millicpu": 4000.0, "allocatable_memory": 8e9,
                    "allocatable_gpu": 2, "control_plane": False},
             "n2": {"ready": False, "unschedulable": True, "roles": ["control-plane"], "allocatable_millicpu": 4000.0,
                    "allocatable_memory": 8e9, "allocatable_gpu": 0, "control_plane": True}}
    return pods, usage, nodes


GPUS = [{"node": "n1", "gpu": "0", "namespace": "team-a", "pod": "a1", "util": 80.0, "memory_used": 4e9,
         "memory_total": 16e9},
        {"node": "n1", "gpu": "1", "namespace": "", "pod": "", "util": 20.0, "memory_used": 1e9, "memory_total": 16e9}]


def _view():
    pods, usage, nodes = _inputs()
    view, _ = build_view(pods, usage, nodes, {"status": "KO"}, {"n1": 51.5}, GPUS, 1000)
    return view


def _row(view, name):
    return next(dict(zip(view["pod_columns"], row, strict=True)) for row in view["pods"] if row[P["name"]] == name)


def _node(view, name):
    return next(dict(zip(view["node_columns"], row, strict=True)) for row in view["nodes"] if row[N["name"]] == name)


def test_every_pod_is_a_row_with_status_restarts_usage_requests_limits_gpu_and_network():
    view = _view()
    assert len(view["pods"]) == 3  # every pod, not a top list
    a1 = _row(view, "a1")
    assert (a1["status"], a1["ready"], a1["containers"]) == ("Running", 1, 1)
    assert (a1["cpu"], a1["cpu_request"], a1["cpu_limit"]) == (500, 100, 200)
    assert (a1["memory"], a1["memory_request"], a1["memory_limit"]) == (2_000_000_000, 2**28, 2**29)
    assert (a1["gpus"], a1["gpu_util"], a1["gpu_memory"], a1["net"]) == (1, 80, 4_000_000_000, 900)
    b1 = _row(view, "b1")
    assert (b1["state"], b1["status"], b1["restarts"], b1["last_restart"]) == ("failed", "CrashLoopBackOff", 4, 950)
    b2 = _row(view, "b2")
    assert b2["cpu"] is None and b2["memory"] is None and b2["net"] is None  # no sample: blank, not 0


def test_nodes_show_kubectl_status_roles_percentages_gpus_and_the_worst_pod_state():
    view = _view()
    n1, n2 = _node(view, "n1"), _node(view, "n2")
    assert (n1["status"], n1["roles"], n1["cpu_percent"], n1["memory_percent"]) == ("Ready", "worker", 25.0, 50.0)
    # requests of a1 (running) and b2 (pending) against allocatable
    assert (n1["cpu_requests_percent"], n1["pods"], n1["temperature"]) == (5.0, 2, 51.5)
    assert (n1["gpu_util"], n1["gpu_memory_used"], n1["gpus"]) == (50, 5_000_000_000, 2)
    assert (n1["state"], n1["colour"]) == ("pending", "yellow")
    assert (n2["status"], n2["state"], n2["colour"]) == ("NotReady,SchedulingDisabled", "failed", "red")
    assert n2["cpu_percent"] is None  # no usage sample from its kubelet


def test_totals_and_the_health_badge_name_what_is_wrong():
    view = _view()
    assert view["health"] == {"status": "KO", "detail": "control-plane node not Ready: n2"}
    assert view["totals"]["cpu"] == {"usage": 600, "requests": 300, "limits": 600, "allocatable": 8000.0}
    assert view["totals"]["gpu"] == {"usage": 1.0, "requests": 1, "limits": 1, "allocatable": 2}
    assert view["totals"]["pods"] == {"running": 1, "failed": 1, "pending": 1}


def test_a_tenant_view_holds_nothing_of_other_tenants():
    view = tenant_view(_view(), ["team-a"])
    assert [row[P["namespace"]] for row in view["pods"]] == ["team-a"]
    assert [row[N["name"]] for row in view["nodes"]] == ["n1"]
    n1 = _node(view, "n1")
    # a shared node's usage, temperature and other pods would reveal other tenants' load
    assert n1["cpu_percent"] is None and n1["temperature"] is None and n1["gpu_util"] is None
    assert (n1["pods"], n1["state"]) == (1, "running")
    assert view["totals"]["cpu"] == {"usage": 500, "requests": 100, "limits": 200, "allocatable": 8000.0}
    assert view["totals"]["gpu"]["usage"] == 0.8  # its own GPU only


def test_pods_keep_their_ids_from_one_view_to_the_next():
    pods, usage, nodes = _inputs()
    first, next_id = build_view(pods, usage, nodes, {}, {}, [], 1000)
    ids = {(row[1], row[2]): row[0] for row in first["pods"]}
    pods[("team-a", "a2")] = _pod("team-a", "a2", "n1", "pending")
    second, _ = build_view(pods, usage, nodes, {}, {}, [], 1015, ids, next_id)
    assert {(row[1], row[2]): row[0] for row in second["pods"]} == {**ids, ("team-a", "a2"): next_id}


def _listen(group):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return layer, channel


@pytest.mark.django_db
def test_publish_reaches_a_subscriber_through_the_redis_channel_layer(redis_db):
    layer, channel = _listen(CLUSTER_GROUP)
    try:
        assert publish(CLUSTER_GROUP, "delta", {"seq": 1})
        message = async_to_sync(layer.receive)(channel)
    finally:
        async_to_sync(layer.group_discard)(CLUSTER_GROUP, channel)
    assert message == {"type": "live.message", "kind": "delta", "data": {"seq": 1}}


def _stored_delta(redis, group):
    head, _, body = redis.get(keys.LIVE_MESSAGE + group).partition(b"\n")
    return int(head), orjson.loads(body)


def test_each_cycle_stores_a_delta_per_group_and_the_groups_get_a_notice(redis_db):
    snapshot._last.update(seq=None, view=None)
    pods, usage, nodes = _inputs()
    record_inventory(redis_db, nodes, {})
    set_health(redis_db, "OK")
    publish_tenant_namespaces(redis_db, {7: ["team-b"]})
    first = publish_usage(redis_db, pods, usage, 1000)
    assert _stored_delta(redis_db, tenant_group(7))[1]["base"] is None  # no previous view: sockets send the full one
    del pods[("team-b", "b2")]
    pods[("team-b", "b3")] = _pod("team-b", "b3", "n2", "pending", status="ContainerCreating")
    pods[("team-b", "b1")] = _pod("team-b", "b1", "n2", "running")
    usage.pod_usage[("team-a", "a1")]["cpu_nanocores"] = 7e8
    # (one receive per channel: channels-redis's receive is not meant to be driven from several event loops)
    layer, channel = _listen(tenant_group(7))
    try:
        second = publish_usage(redis_db, pods, usage, 1015)
        notice = async_to_sync(layer.receive)(channel)["data"]
    finally:
        async_to_sync(layer.group_discard)(tenant_group(7), channel)
    assert (notice["seq"], notice["base"], notice["namespaces"]) == (second["seq"], first["seq"], ["team-b"])
    ids = {row[P["name"]]: row[P["id"]] for row in second["pods"]}
    b2 = next(row[P["id"]] for row in first["pods"] if row[P["name"]] == "b2")

    seq, tenant = _stored_delta(redis_db, tenant_group(7))
    assert seq == second["seq"]
    assert [row[P["name"]] for row in tenant["added"]] == ["b3"]
    assert [row[P["status"]] for row in tenant["changed"]] == ["Running"]  # b1 recovered
    assert tenant["removed"] == [b2]
    assert tenant["usage"] == []  # a1's CPU is team-a's business
    assert {row[N["name"]] for row in tenant["nodes"]} == {"n2"}

    _, whole = _stored_delta(redis_db, CLUSTER_GROUP)
    assert whole["usage"] == [ids["a1"], 700, 2_000_000_000, None, None, 900]
    assert orjson.loads(redis_db.get(keys.SNAPSHOT))["seq"] == second["seq"]


def test_the_gpu_cycle_keeps_the_latest_values_for_the_view(redis_db):
    tags = {"node_name": "n1", "gpu": "0", "uuid": "GPU-0", "model_name": "H100", "namespace": "team-a",
            "pod_name": "a1", "container_name": ""}
    remember_gpus(redis_db, [Point("gpu", tags, {"utilization_percent": 66.0, "memory_used_bytes": 3e9}, 1000)], 60)
    pods, usage, nodes = _inputs()
    record_inventory(redis_db, nodes, {})
    view = publish_usage(redis_db, pods, usage, 1000)
    assert (_row(view, "a1")["gpu_util"], _node(view, "n1")["gpu_util"]) == (66, 66)
    assert 0 < redis_db.ttl(keys.GPU_LATEST) <= 60


def test_totals_against_allocatable_leave_out_an_unscheduled_pod_and_show_its_demand_apart():
    pods, usage, nodes = _inputs()
    # the simulator's bigmem-analysis-0: pending, bound to no node, asking for 512 GiB
    pods[("team-b", "bigmem-0")] = _pod("team-b", "bigmem-0", "", "pending", status="Pending", cpu=64000,
                                        memory=512 * 2**30)
    view, _ = build_view(pods, usage, nodes, {}, {}, GPUS, 1000)
    # as kubectl describe node counts: only the non-terminated pods bound to a node
    assert view["totals"]["cpu"] == {"usage": 600, "requests": 300, "limits": 600, "allocatable": 8000.0}
    assert view["totals"]["memory"]["requests"] == 3 * 2**28
    assert view["totals"]["pods"] == {"running": 1, "failed": 1, "pending": 2}
    assert view["totals"]["unscheduled"] == {"pods": 1, "cpu": 64000, "memory": 512 * 2**30, "gpu": 0}
    tenant = tenant_view(view, ["team-b"])
    assert tenant["totals"]["memory"]["requests"] == 2 * 2**28
    assert tenant["totals"]["unscheduled"]["memory"] == 512 * 2**30


def test_a_gpu_whose_exporter_reports_no_memory_shows_blank_memory_not_zero():
    # The Jetson exporter reports load, temperature and power but, in the simulator's families, no
    # GPU memory: the node and its pod show the memory as unknown, not "0 B / 0 B".
    pods, usage, nodes = _inputs()
    jetson = [{"node": "n1", "gpu": "0", "namespace": "team-a", "pod": "a1", "util": 35.0, "memory_used": None,
               "memory_total": None}]
    view, _ = build_view(pods, usage, nodes, {"status": "OK"}, {}, jetson, 1000)
    n1 = _node(view, "n1")
    assert (n1["gpu_util"], n1["gpu_memory_used"], n1["gpu_memory_total"]) == (35, None, None)
    assert _row(view, "a1")["gpu_memory"] is None
    # A node with one GPU that reports memory and one that does not sums what is known.
    mixed = [*jetson, {"node": "n1", "gpu": "1", "namespace": "", "pod": "", "util": 5.0, "memory_used": 1e9,
                       "memory_total": 16e9}]
    view, _ = build_view(pods, usage, nodes, {"status": "OK"}, {}, mixed, 1000)
    n1 = _node(view, "n1")
    assert (n1["gpu_memory_used"], n1["gpu_memory_total"]) == (1_000_000_000, 16_000_000_000)
