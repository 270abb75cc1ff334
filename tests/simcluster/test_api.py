"""The Kubernetes API surface over raw HTTP: paths, parameters, status codes and Status bodies."""

from __future__ import annotations

import json

import pytest


def status_of(body: bytes) -> dict:
    doc = json.loads(body)
    assert doc["kind"] == "Status" and doc["apiVersion"] == "v1" and doc["status"] == "Failure"
    return doc


def test_discovery_describes_core_v1_and_metrics_group(sim):
    version = sim.json("/version")
    assert version["major"] == "1" and version["gitVersion"].startswith("v1.")
    assert sim.json("/api")["versions"] == ["v1"]
    groups = sim.json("/apis")["groups"]
    assert [g["name"] for g in groups] == ["metrics.k8s.io"]
    assert groups[0]["preferredVersion"]["groupVersion"] == "metrics.k8s.io/v1beta1"
    core = {r["name"]: r for r in sim.json("/api/v1")["resources"]}
    assert {"pods", "nodes", "namespaces", "nodes/proxy"} <= set(core)
    assert "watch" in core["pods"]["verbs"] and core["pods"]["namespaced"] is True
    metrics = {r["name"] for r in sim.json("/apis/metrics.k8s.io/v1beta1")["resources"]}
    assert metrics == {"nodes", "pods"}
    for path in ("/healthz", "/livez", "/readyz"):
        assert sim.get(path) == (200, b"ok")


def test_it_paginates_consistently_over_raw_http(sim):
    full = sim.json("/api/v1/pods")
    names = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in full["items"]]
    assert names == sorted(names)  # etcd key order
    seen, cont, pages, rvs, remaining = [], None, 0, set(), []
    while True:
        page = sim.json("/api/v1/pods?limit=7" + (f"&continue={cont}" if cont else ""))
        assert len(page["items"]) <= 7
        seen += [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in page["items"]]
        rvs.add(page["metadata"]["resourceVersion"])
        remaining.append(page["metadata"].get("remainingItemCount"))
        pages += 1
        if pages == 2:
            # the cluster changes under the paging client: the pages stay those of the first snapshot
            sim.control(action="delete_pod", namespace=names[20][0], pod=names[20][1], grace_seconds=0)
            sim.advance(60)
        cont = page["metadata"].get("continue")
        if not cont:
            break
    assert seen == names
    assert len(rvs) == 1 and rvs == {full["metadata"]["resourceVersion"]}
    assert remaining[:-1] == [len(names) - 7 * (i + 1) for i in range(pages - 1)] and remaining[-1] is None
    assert len(sim.json("/api/v1/pods")["items"]) != 0


def test_a_stale_continue_token_gets_410_expired(sim):
    page = sim.json("/api/v1/pods?limit=5")
    cont = page["metadata"]["continue"]
    assert sim.get(f"/api/v1/pods?limit=5&continue={cont}")[0] == 200
    sim.control(action="compact")  # what an etcd compaction does to old snapshots
    status, body = sim.get(f"/api/v1/pods?limit=5&continue={cont}")
    assert status == 410
    doc = status_of(body)
    assert doc["reason"] == "Expired" and doc["code"] == 410
    assert doc["metadata"]["continue"] == cont


def test_a_malformed_continue_token_gets_400(sim):
    status, body = sim.get("/api/v1/pods?limit=5&continue=not-a-token")
    assert status == 400 and status_of(body)["reason"] == "BadRequest"


@pytest.mark.parametrize(
    "query",
    [
        "labelSelector=app%20in%20web",
        "labelSelector=x%40y%3D1",
        "labelSelector=app%3D%3D%3D",
        "labelSelector=a%3Db,",
        "fieldSelector=spec.nonsense%3Dx",
        "fieldSelector=spec.nodeName",
        "limit=-3",
    ],
)
def test_bad_selectors_and_parameters_get_400_bad_request(sim, query):
    status, body = sim.get(f"/api/v1/pods?{query}")
    assert status == 400, body
    doc = status_of(body)
    assert doc["reason"] == "BadRequest" and doc["code"] == 400 and doc["message"]


@pytest.mark.parametrize(
    "path,kind,name",
    [
        ("/api/v1/nodes/no-such-node", "nodes", "no-such-node"),
        ("/api/v1/namespaces/default/pods/no-such-pod", "pods", "no-such-pod"),
        ("/api/v1/namespaces/no-such-ns", "namespaces", "no-such-ns"),
        ("/api/v1/nodes/no-such-node/proxy/stats/summary", "nodes", "no-such-node"),
    ],
)
def test_unknown_objects_get_404_not_found_status(sim, path, kind, name):
    status, body = sim.get(path)
    assert status == 404
    doc = status_of(body)
    assert doc["reason"] == "NotFound" and doc["details"] == {"name": name, "kind": kind}
    assert doc["message"] == f'{kind} "{name}" not found'


@pytest.mark.parametrize("path", ["/api/v1/secrets", "/apis/apps/v1/deployments", "/nonsense"])
def test_unknown_paths_get_404_not_found_status(sim, path):
    status, body = sim.get(path)
    assert status == 404 and status_of(body)["reason"] == "NotFound"


def test_unknown_exporter_pages_get_a_plain_404(sim):
    assert sim.get("/gpu/node-01/metrics")[0] == 404  # not a GPU node
    assert sim.get("/gpu/nope/metrics")[0] == 404
    assert sim.get("/node-exporter/nope/metrics")[0] == 404


def test_writes_other_than_pod_deletion_are_not_allowed(sim):
    status, _, body = sim.request("POST", "/api/v1/namespaces/default/pods", {"kind": "Pod"})
    assert status == 405 and status_of(body)["reason"] == "MethodNotAllowed"


def test_field_selectors_filter_like_the_api(sim):
    all_pods = sim.json("/api/v1/pods")["items"]
    on_node = sim.json("/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-01")["items"]
    assert on_node and all(p["spec"]["nodeName"] == "node-01" for p in on_node)
    assert len(on_node) == sum(p["spec"].get("nodeName") == "node-01" for p in all_pods)
    summary = sim.json("/api/v1/nodes/node-01/proxy/stats/summary")
    assert {p["podRef"]["uid"] for p in summary["pods"]} <= {p["metadata"]["uid"] for p in on_node}
    system = sim.json("/api/v1/pods?fieldSelector=metadata.namespace%3Dkube-system")["items"]
    assert system and all(p["metadata"]["namespace"] == "kube-system" for p in system)
    pending = sim.json("/api/v1/pods?fieldSelector=status.phase%3DPending")["items"]
    assert pending and all(p["status"]["phase"] == "Pending" for p in pending)
    not_running = sim.json("/api/v1/pods?fieldSelector=status.phase!%3DRunning,metadata.namespace!%3Dx")[
        "items"
    ]
    assert len(not_running) == sum(p["status"]["phase"] != "Running" for p in all_pods)
    unscheduled = sim.json("/api/v1/pods?fieldSelector=spec.nodeName%3D")["items"]
    assert unscheduled and all("nodeName" not in p["spec"] for p in unscheduled)
    assert [
        n["metadata"]["name"] for n in sim.json("/api/v1/nodes?fieldSelector=metadata.name%3Dcp-1")["items"]
    ] == ["cp-1"]


def test_label_selectors_filter_like_the_api(sim):
    proxies = sim.json("/api/v1/pods?labelSelector=k8s-app%3Dkube-proxy")["items"]
    assert len(proxies) == len(sim.json("/api/v1/nodes")["items"])
    web_or_api = sim.json("/api/v1/pods?labelSelector=app.kubernetes.io/name%20in%20(web,api)")["items"]
    assert all(p["metadata"]["labels"]["app.kubernetes.io/name"] in ("web", "api") for p in web_or_api)
    without = sim.json("/api/v1/pods?labelSelector=!app.kubernetes.io/name")["items"]
    total = len(sim.json("/api/v1/pods")["items"])
    with_label = sim.json("/api/v1/pods?labelSelector=app.kubernetes.io/name")["items"]
    assert len(without) + len(with_label) == total and with_label and without
    not_web = sim.json(
        "/api/v1/pods?labelSelector=app.kubernetes.io/name%20notin%20(web),app.kubernetes.io/name"
    )
    assert all(p["metadata"]["labels"]["app.kubernetes.io/name"] != "web" for p in not_web["items"])
    cps = sim.json("/api/v1/nodes?labelSelector=node-role.kubernetes.io/control-plane")["items"]
    assert [n["metadata"]["name"] for n in cps] == ["cp-1"]
    tenants = sim.json("/api/v1/namespaces?labelSelector=kubemon.io/tenant")["items"]
    assert tenants and all("kubemon.io/tenant" in ns["metadata"]["labels"] for ns in tenants)


def test_namespaced_lists_and_missing_namespaces(sim):
    items = sim.json("/api/v1/namespaces/kube-system/pods")["items"]
    assert items and all(p["metadata"]["namespace"] == "kube-system" for p in items)
    assert sim.json("/api/v1/namespaces/does-not-exist/pods")["items"] == []  # as the real API answers
    pod = items[0]["metadata"]["name"]
    one = sim.json(f"/api/v1/namespaces/kube-system/pods/{pod}")
    assert one["kind"] == "Pod" and one["metadata"]["name"] == pod


def test_deleting_a_pod_through_the_api_is_graceful(sim):
    victim = [
        p
        for p in sim.json("/api/v1/namespaces/team-a/pods")["items"]
        if p["status"]["phase"] == "Running" and "deletionTimestamp" not in p["metadata"]
    ][0]
    name = victim["metadata"]["name"]
    status, _, body = sim.request(
        "DELETE", f"/api/v1/namespaces/team-a/pods/{name}", {"gracePeriodSeconds": 30}
    )
    assert status == 200
    doc = json.loads(body)
    assert doc["metadata"]["deletionTimestamp"] == "2025-01-06T00:00:30Z"
    assert doc["metadata"]["deletionGracePeriodSeconds"] == 30
    sim.advance(15)
    assert sim.get(f"/api/v1/namespaces/team-a/pods/{name}")[0] == 200  # still terminating
    sim.advance(15)
    status, body = sim.get(f"/api/v1/namespaces/team-a/pods/{name}")
    assert status == 404 and status_of(body)["reason"] == "NotFound"


def test_an_api_outage_answers_503_until_recovery(sim):
    sim.control(action="fail", target="api")
    for path in (
        "/api/v1/pods",
        "/api/v1/nodes",
        "/apis/metrics.k8s.io/v1beta1/pods",
        "/api/v1/nodes/node-01/proxy/stats/summary",
        "/version",
    ):
        status, body = sim.get(path)
        assert status == 503, path
        assert status_of(body)["reason"] == "ServiceUnavailable"
    assert sim.json("/sim/state")["failed_targets"] == ["api"]  # /sim keeps working
    assert sim.get("/gpu/gpu-01/metrics")[0] == 200  # exporters are other hosts
    sim.control(action="recover")
    assert sim.get("/api/v1/pods")[0] == 200


def test_partial_outages_hit_only_their_target(sim):
    sim.control(action="fail", target="kubelet")
    assert sim.get("/api/v1/nodes/node-01/proxy/stats/summary")[0] == 503
    assert sim.get("/api/v1/pods")[0] == 200
    sim.control(action="fail", target="metrics")
    assert sim.get("/apis/metrics.k8s.io/v1beta1/nodes")[0] == 503
    sim.control(action="fail", target="gpu")
    assert sim.get("/gpu/gpu-01/metrics")[0] == 503
    sim.control(action="recover", target="gpu")
    assert sim.get("/gpu/gpu-01/metrics")[0] == 200
    assert sim.json("/sim/state")["failed_targets"] == ["kubelet", "metrics"]
    sim.control(action="recover")
    assert sim.get("/api/v1/nodes/node-01/proxy/stats/summary")[0] == 200


def test_control_rejects_what_it_cannot_do(make_sim):
    live = make_sim(manual_clock=False)
    assert live.control(expect=409, action="advance", seconds=10)["error"].startswith(
        "advance needs --manual-clock"
    )
    manual = make_sim()
    assert "no node" in manual.control(expect=404, action="node_not_ready", node="nope")["error"]
    assert "no pod" in manual.control(expect=404, action="delete_pod", namespace="x", pod="y")["error"]
    assert "action must be" in manual.control(expect=400, action="explode")["error"]
    assert manual.control(expect=400, action="advance", seconds=-1)["error"]
    assert manual.control(expect=400, action="fail", target="everything")["error"]
    status, _, body = manual.request("POST", "/sim/control", None)
    assert status == 400 and b"action must be" in body  # no body: no action
    status, _, body = manual.request("POST", "/sim/control", [1, 2])
    assert status == 400 and b"JSON object" in body
    assert manual.get("/sim/nothing")[0] == 404


def test_forbid_answers_403_with_the_apiservers_wording_until_recover(sim):
    sim.control(action="forbid", target="proxy")
    node = sim.json("/api/v1/nodes")["items"][0]["metadata"]["name"]
    status = sim.json(f"/api/v1/nodes/{node}/proxy/stats/summary", expect=403)
    assert status["reason"] == "Forbidden"
    assert 'cannot get resource "nodes/proxy"' in status["message"]
    sim.control(action="recover")
    sim.json(f"/api/v1/nodes/{node}/proxy/stats/summary")
