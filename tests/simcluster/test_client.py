"""The real ``kubernetes`` client against the simulator: typed models, paging, proxy and watch."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from kubernetes import client, config, watch

from .conftest import Http

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


def api_for(sim, tmp_path) -> client.ApiClient:
    """A client configured the way kubemon will be: from the kubeconfig the simulator wrote."""
    path = tmp_path / "kubeconfig"
    from simcluster import kubeconfig

    kubeconfig.write(str(path), sim.url)
    return config.new_client_from_config(config_file=str(path))


def normalise(value):
    """The JSON a model gives back: no nulls, timestamps in one spelling."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str) and ISO.match(value):
        return value.replace("+00:00", "Z")
    return value


def roundtrip(api: client.ApiClient, doc: dict, model: str) -> dict:
    obj = api.deserialize(json.dumps(doc), model, "application/json")
    return normalise(api.sanitize_for_serialization(obj))


@pytest.fixture(scope="module")
def big(make_module_sim):
    return make_module_sim(nodes=500, pods=10_000, gpu_nodes=8, jetson_nodes=4, seed=3)


def test_it_paginates_through_every_pod_with_the_typed_client(big, tmp_path):
    v1 = client.CoreV1Api(api_for(big, tmp_path))
    uids, pages, cont, rvs = set(), 0, None, set()
    while True:
        page = v1.list_pod_for_all_namespaces(limit=500, _continue=cont)
        assert len(page.items) <= 500
        assert all(isinstance(p, client.V1Pod) for p in page.items)
        uids.update(p.metadata.uid for p in page.items)
        rvs.add(page.metadata.resource_version)
        pages += 1
        cont = page.metadata._continue
        if not cont:
            break
    assert len(uids) == 10_000 and pages == 20 and len(rvs) == 1


def test_the_full_list_of_10000_pods_is_served_in_under_a_second(big):
    # generous against the ~0.05 s measured (bench/bench_simulator.py), so it only fails when
    # something is badly wrong (e.g. re-serialising every pod per request)
    http = Http(big.url)
    t = time.perf_counter()
    status, body = http.get("/api/v1/pods")
    elapsed = time.perf_counter() - t
    assert status == 200 and body.count(b'"kind":"Pod"') == 10_000
    assert elapsed < 1.0, elapsed


def test_nodes_namespaces_and_pods_deserialise_without_loss(sim, tmp_path):
    api = api_for(sim, tmp_path)
    for path, model in (
        ("/api/v1/pods", "V1Pod"),
        ("/api/v1/nodes", "V1Node"),
        ("/api/v1/namespaces", "V1Namespace"),
    ):
        docs = sim.json(path)["items"]
        assert docs
        for doc in docs:
            assert roundtrip(api, doc, model) == normalise(doc), (model, doc["metadata"]["name"])
    # the lists' own typed calls work too
    v1 = client.CoreV1Api(api)
    nodes = v1.list_node().items
    assert {n.metadata.name for n in nodes} >= {"cp-1", "gpu-01", "jetson-01"}
    gpu = [n for n in nodes if n.metadata.name == "gpu-01"][0]
    assert gpu.status.capacity["nvidia.com/gpu"] == "4"
    assert gpu.metadata.annotations["kubemon.io/gpu-exporter-kind"] == "dcgm"
    assert {ns.metadata.name for ns in v1.list_namespace().items} >= {"kube-system", "default", "team-a"}


def test_pods_in_every_odd_state_deserialise_without_loss(sim, tmp_path):
    api = api_for(sim, tmp_path)
    sim.advance(20 * 60)  # crash loops restart, jobs finish, rolling updates terminate pods
    docs = sim.json("/api/v1/pods")["items"]
    waiting = {
        c["state"]["waiting"]["reason"]
        for p in docs
        for c in p["status"].get("containerStatuses", [])
        if "waiting" in c["state"]
    }
    assert {"ImagePullBackOff", "RunContainerError"} & waiting
    for doc in docs:
        assert roundtrip(api, doc, "V1Pod") == normalise(doc)


def test_metrics_api_through_custom_objects(sim, tmp_path):
    custom = client.CustomObjectsApi(api_for(sim, tmp_path))
    pods = custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "pods")
    assert pods["kind"] == "PodMetricsList" and pods["items"]
    item = pods["items"][0]
    assert item["window"] == "15s" and item["timestamp"] == "2025-01-06T00:00:00Z"
    assert re.match(r"^(0|\d+n)$", item["containers"][0]["usage"]["cpu"])
    assert re.match(r"^\d+Ki$", item["containers"][0]["usage"]["memory"])
    ns = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "kube-system", "pods")
    assert ns["items"] and all(i["metadata"]["namespace"] == "kube-system" for i in ns["items"])
    nodes = custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
    assert {i["metadata"]["name"] for i in nodes["items"]} >= {"cp-1", "node-01"}


def test_the_kubelet_summary_through_the_node_proxy(sim, tmp_path):
    v1 = client.CoreV1Api(api_for(sim, tmp_path))
    # the client would turn the JSON into a Python repr (response type "str"): read it raw
    resp = v1.connect_get_node_proxy_with_path("node-01", "stats/summary", _preload_content=False)
    summary = json.loads(resp.data)
    assert summary["node"]["nodeName"] == "node-01"
    assert {"cpu", "memory", "network", "fs", "runtime", "systemContainers"} <= set(summary["node"])
    pod = [p for p in summary["pods"] if p["containers"]][0]
    assert {
        "podRef",
        "startTime",
        "containers",
        "cpu",
        "memory",
        "network",
        "volume",
        "ephemeral-storage",
    } <= set(pod)
    c = pod["containers"][0]
    assert {"usageNanoCores", "usageCoreNanoSeconds"} <= set(c["cpu"])
    assert {"workingSetBytes", "usageBytes", "rssBytes", "pageFaults", "majorPageFaults"} <= set(c["memory"])
    assert {"rootfs", "logs", "startTime"} <= set(c)
    assert isinstance(v1.connect_get_node_proxy_with_path("node-01", "stats/summary"), str)
    with pytest.raises(client.ApiException) as err:
        v1.connect_get_node_proxy_with_path("no-such-node", "stats/summary")
    assert err.value.status == 404


def test_a_watch_sees_a_pod_being_deleted(sim, tmp_path):
    v1 = client.CoreV1Api(api_for(sim, tmp_path))
    listed = v1.list_pod_for_all_namespaces()
    victim = [p for p in listed.items if p.metadata.namespace == "team-a" and p.status.phase == "Running"][0]
    name = victim.metadata.name

    def delete_later():
        time.sleep(0.3)
        other = Http(sim.url)  # a connection of its own: this runs in another thread
        other.control(action="delete_pod", namespace="team-a", pod=name, grace_seconds=30)
        other.advance(45)

    threading.Thread(target=delete_later, daemon=True).start()
    events = []
    w = watch.Watch()
    for ev in w.stream(
        v1.list_pod_for_all_namespaces, resource_version=listed.metadata.resource_version, timeout_seconds=10
    ):
        events.append((ev["type"], ev["object"].metadata.name, ev["object"]))
        if ev["type"] == "DELETED" and ev["object"].metadata.name == name:
            w.stop()
    mine = [(t, o) for t, n, o in events if n == name]
    assert [t for t, _ in mine][0] == "MODIFIED" and [t for t, _ in mine][-1] == "DELETED"
    assert mine[0][1].metadata.deletion_timestamp is not None
    assert isinstance(mine[-1][1], client.V1Pod)
    # the ReplicaSet replaced it at once
    assert any(t == "ADDED" and n.startswith(name.rsplit("-", 1)[0]) for t, n, _ in events)
    rvs = [int(o.metadata.resource_version) for _, _, o in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs)


def test_a_watch_from_a_compacted_resource_version_gets_410(sim, tmp_path):
    v1 = client.CoreV1Api(api_for(sim, tmp_path))
    rv = v1.list_pod_for_all_namespaces().metadata.resource_version
    sim.control(
        action="delete_pod",
        namespace="kube-system",
        pod=sim.json("/api/v1/namespaces/kube-system/pods")["items"][0]["metadata"]["name"],
    )
    sim.control(action="compact")
    with pytest.raises(client.ApiException) as err:
        for _ in watch.Watch().stream(v1.list_pod_for_all_namespaces, resource_version=rv, timeout_seconds=2):
            pass
    assert err.value.status == 410
