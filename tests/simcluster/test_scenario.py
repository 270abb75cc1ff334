"""The seeded scenario: what the cluster contains, how pods live, determinism, node failure."""

from __future__ import annotations

import json
import re
from collections import Counter

ERROR_REASONS = {
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "RunContainerError",
    "CreateContainerError",
    "CreateContainerConfigError",
    "InvalidImageName",
}


def design_state(pod: dict) -> str:
    """DESIGN §5's live-view rule, written from the spec, independently of the simulator."""
    if pod["metadata"].get("deletionTimestamp"):
        return "deleting"
    phase = pod["status"]["phase"]
    if phase == "Failed":
        return "failed"
    for c in pod["status"].get("containerStatuses", []):
        if c["state"].get("waiting", {}).get("reason") in ERROR_REASONS:
            return "failed"
    return {"Pending": "pending", "Running": "running", "Succeeded": "succeeded"}[phase]


def waiting(pod: dict) -> set[str]:
    return {
        c["state"]["waiting"]["reason"]
        for c in pod["status"].get("containerStatuses", [])
        if "waiting" in c["state"]
    }


def test_the_same_seed_gives_the_same_cluster_and_history(make_sim):
    a, b = make_sim(seed=11, gpu_nodes=1), make_sim(seed=11, gpu_nodes=1)
    assert a.get("/api/v1/pods") == b.get("/api/v1/pods")
    # nodes advertise their exporters' URLs, which contain each simulator's own port, and their
    # kubelets' own ports
    def nodes(sim):
        return re.sub(rb'"Port":\d+', b'"Port":P', sim.get("/api/v1/nodes")[1].replace(sim.url.encode(), b"URL"))

    assert b'"Port":P' in nodes(a)
    assert nodes(a) == nodes(b)
    for sim in (a, b):
        sim.advance(40 * 15)
    assert a.get("/api/v1/pods") == b.get("/api/v1/pods")
    assert a.get("/api/v1/nodes/node-01/proxy/stats/summary") == b.get(
        "/api/v1/nodes/node-01/proxy/stats/summary"
    )
    assert a.get("/gpu/gpu-01/metrics") == b.get("/gpu/gpu-01/metrics")
    assert a.get("/sim/truth") == b.get("/sim/truth")
    c = make_sim(seed=12, gpu_nodes=1)
    c.advance(40 * 15)
    assert c.get("/api/v1/pods")[1] != a.get("/api/v1/pods")[1]


def test_the_default_scenario_has_every_odd_pod_state(make_sim):
    sim = make_sim()  # --nodes 5 --pods 60, the defaults
    pods = sim.json("/api/v1/pods")["items"]
    assert len(pods) == 60
    crash = [p for p in pods if "CrashLoopBackOff" in waiting(p)]
    assert crash
    cs = crash[0]["status"]["containerStatuses"][0]
    assert cs["restartCount"] > 0 and cs["lastState"]["terminated"]["exitCode"] == 1
    assert crash[0]["status"]["phase"] == "Running" and cs["ready"] is False
    pull = [p for p in pods if waiting(p) & {"ImagePullBackOff", "ErrImagePull"}]
    assert pull and pull[0]["status"]["phase"] == "Pending"
    assert pull[0]["status"]["containerStatuses"][0]["imageID"] == ""
    unsched = [p for p in pods if "nodeName" not in p["spec"]]
    assert unsched
    cond = unsched[0]["status"]["conditions"]
    assert cond == [
        {
            "lastProbeTime": None,
            "lastTransitionTime": cond[0]["lastTransitionTime"],
            "message": cond[0]["message"],
            "reason": "Unschedulable",
            "status": "False",
            "type": "PodScheduled",
        }
    ]
    assert (
        cond[0]["message"].startswith("0/5 nodes are available:")
        and "Insufficient memory" in cond[0]["message"]
    )
    deleting = [p for p in pods if p["metadata"].get("deletionTimestamp")]
    assert deleting and deleting[0]["metadata"]["deletionGracePeriodSeconds"] > 0
    assert [p for p in pods if p["status"]["phase"] == "Failed"]
    # pods come and go: after ten minutes some are gone and jobs have completed
    sim.advance(600)
    truth = sim.json("/sim/truth")
    states = Counter(p["state"] for p in truth["pods"])
    assert states["deleted"] >= 1 and states["running"] > 30


def test_truth_states_follow_the_design_rule_on_the_served_pods(sim):
    for _ in range(6):
        pods = {p["metadata"]["uid"]: p for p in sim.json("/api/v1/pods")["items"]}
        truth = sim.json("/sim/truth")
        for p in truth["pods"]:
            if p["uid"] in pods:
                assert p["state"] == design_state(pods[p["uid"]]), p
            else:
                assert p["state"] == "deleted"
        sim.advance(200)
    assert {p["state"] for p in truth["pods"]} >= {"running", "failed", "pending", "deleted"}


def test_jobs_complete_and_are_cleaned_up_by_their_ttl(make_sim):
    sim = make_sim(nodes=6, pods=120, seed=5)
    seen_succeeded = set()
    for _ in range(30):
        sim.advance(120)
        for p in sim.json("/api/v1/pods")["items"]:
            if p["status"]["phase"] == "Succeeded":
                seen_succeeded.add(p["metadata"]["uid"])
                term = p["status"]["containerStatuses"][0]["state"]["terminated"]
                assert term["exitCode"] == 0 and term["reason"] == "Completed"
                assert p["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert len(seen_succeeded) >= 3
    truth = {p["uid"]: p for p in sim.json("/sim/truth")["pods"]}
    assert any(truth[u]["state"] == "deleted" for u in seen_succeeded)  # the TTL controller removed them


def test_cluster_shape_nodes_namespaces_and_workloads(sim):
    nodes = {n["metadata"]["name"]: n for n in sim.json("/api/v1/nodes")["items"]}
    cp = nodes["cp-1"]
    assert "node-role.kubernetes.io/control-plane" in cp["metadata"]["labels"]
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in cp["spec"]["taints"]
    for n in nodes.values():
        ready = [c for c in n["status"]["conditions"] if c["type"] == "Ready"][0]
        assert ready["status"] == "True" and ready["reason"] == "KubeletReady"
    assert nodes["gpu-01"]["status"]["allocatable"]["nvidia.com/gpu"] == "4"
    assert nodes["jetson-01"]["status"]["nodeInfo"]["architecture"] == "arm64"
    assert nodes["jetson-01"]["metadata"]["annotations"]["kubemon.io/gpu-exporter-kind"] == "jetson"
    assert (
        nodes["jetson-01"]["metadata"]["annotations"]["kubemon.io/gpu-exporter-url"]
        == f"{sim.url}/gpu/jetson-01/metrics"
    )
    namespaces = {ns["metadata"]["name"]: ns for ns in sim.json("/api/v1/namespaces")["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= set(namespaces)
    tenants = {ns["metadata"]["labels"].get("kubemon.io/tenant") for ns in namespaces.values()} - {None}
    assert {"team-a", "physics", "ml-lab"} <= tenants
    assert any(
        "kubemon.io/tenant" not in ns["metadata"]["labels"]
        for name, ns in namespaces.items()
        if not name.startswith("kube") and name != "default"
    )
    pods = sim.json("/api/v1/pods")["items"]
    owners = Counter(
        p["metadata"]["ownerReferences"][0]["kind"] for p in pods if p["metadata"].get("ownerReferences")
    )
    assert {"ReplicaSet", "StatefulSet", "DaemonSet", "Job", "Node"} <= set(owners)
    gpu_pods = [
        p
        for p in pods
        if any("nvidia.com/gpu" in c["resources"].get("limits", {}) for c in p["spec"]["containers"])
    ]
    assert gpu_pods and all(p["spec"]["nodeName"] in ("gpu-01", "jetson-01") for p in gpu_pods)
    requests = [c["resources"].get("requests", {}) for p in pods for c in p["spec"]["containers"]]
    assert any(r.get("cpu", "").endswith("m") for r in requests)
    assert any(r.get("memory", "").endswith(("Mi", "Gi")) for r in requests)
    per_node = Counter(p["spec"].get("nodeName") for p in pods)
    for name, n in nodes.items():
        assert per_node[name] <= int(n["status"]["allocatable"]["pods"])


def test_usage_stays_within_limits(sim):
    pods = {p["metadata"]["uid"]: p for p in sim.json("/api/v1/pods")["items"]}
    checked = 0
    for _ in range(8):
        sim.advance(300)
        pods.update({p["metadata"]["uid"]: p for p in sim.json("/api/v1/pods")["items"]})
        for node in ("node-01", "node-02", "node-03", "gpu-01"):
            for pod in sim.json(f"/api/v1/nodes/{node}/proxy/stats/summary")["pods"]:
                spec = {c["name"]: c for c in pods[pod["podRef"]["uid"]]["spec"]["containers"]}
                for c in pod["containers"]:
                    limits = spec[c["name"]]["resources"].get("limits", {})
                    if "cpu" in limits:
                        cpu = limits["cpu"]
                        nano = int(cpu[:-1]) * 10**6 if cpu.endswith("m") else int(cpu) * 10**9
                        assert c["cpu"]["usageNanoCores"] <= nano
                    if "memory" in limits:
                        mem = limits["memory"]
                        unit = {"Mi": 2**20, "Gi": 2**30}[mem[-2:]]
                        assert c["memory"]["workingSetBytes"] <= int(mem[:-2]) * unit
                    checked += 1
    assert checked > 100


def test_usage_follows_a_daily_curve(make_sim):
    sim = make_sim(step=3600, seed=4)  # hourly steps: two simulated days in 48 steps
    by_hour = Counter()
    for _ in range(48):
        sim.advance(3600)
        hour = int(sim.json("/sim/state")["step_time"][11:13])
        for node in ("node-01", "node-02", "node-03"):
            by_hour[hour] += sim.json(f"/api/v1/nodes/{node}/proxy/stats/summary")["node"]["cpu"][
                "usageNanoCores"
            ]
    ranked = sorted(by_hour.values())
    # busiest hours carry clearly more than the quietest, from the sine and not from noise
    assert sum(ranked[-4:]) > 1.3 * sum(ranked[:4])


def test_a_node_that_goes_not_ready(sim):
    before = sim.json("/api/v1/nodes/node-02/proxy/stats/summary")
    started = {
        (p["podRef"]["uid"], c["name"]): c["startTime"] for p in before["pods"] for c in p["containers"]
    }
    assert started
    sim.control(action="node_not_ready", node="node-02")
    t_down = sim.json("/sim/state")["step_time"]
    node = sim.json("/api/v1/nodes/node-02")
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]
    assert ready["status"] == "Unknown" and ready["reason"] == "NodeStatusUnknown"
    assert {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}.items() <= [
        t for t in node["spec"]["taints"] if t["effect"] == "NoExecute"
    ][0].items()
    status, body = sim.get("/api/v1/nodes/node-02/proxy/stats/summary")
    assert status == 503 and json.loads(body)["reason"] == "ServiceUnavailable"
    sim.advance(150)
    metrics = {n["metadata"]["name"] for n in sim.json("/apis/metrics.k8s.io/v1beta1/nodes")["items"]}
    assert "node-02" not in metrics and "node-01" in metrics
    on_node = sim.json("/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-02")["items"]
    assert on_node and all(
        [c for c in p["status"]["conditions"] if c["type"] == "Ready"][0]["status"] == "False"
        for p in on_node
        if p["status"]["phase"] == "Running"
    )
    state = {n["name"]: n for n in sim.json("/sim/state")["nodes"]}
    assert state["node-02"]["ready"] is False
    t_now = sim.json("/sim/state")["step_time"]
    outage = sim.json(f"/sim/truth?start={t_down}&end={t_now}")
    uids = {p["metadata"]["uid"] for p in on_node}
    assert all(
        p["cpu_core_seconds"] == 0 and p["memory_byte_seconds"] == 0
        for p in outage["pods"]
        if p["uid"] in uids
    )
    sim.control(action="node_ready", node="node-02")
    sim.advance(30)
    after = sim.json("/api/v1/nodes/node-02/proxy/stats/summary")
    assert after["node"]["startTime"] > before["node"]["startTime"]  # it rebooted
    restarted = {
        (p["podRef"]["uid"], c["name"]): c["startTime"] for p in after["pods"] for c in p["containers"]
    }
    common = set(started) & set(restarted)
    assert common and all(restarted[k] > started[k] for k in common)
    assert all(
        after["pods"][i]["containers"][0]["cpu"]["usageCoreNanoSeconds"] < 10**12
        for i in range(len(after["pods"]))
        if after["pods"][i]["containers"]
    )


def test_control_plane_not_ready_is_visible_on_the_node(sim):
    sim.control(action="node_not_ready", node="cp-1")
    cp = [n for n in sim.json("/api/v1/nodes?labelSelector=node-role.kubernetes.io/control-plane")["items"]][
        0
    ]
    assert [c for c in cp["status"]["conditions"] if c["type"] == "Ready"][0]["status"] != "True"
