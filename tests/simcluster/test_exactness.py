"""/sim/truth against what a collector can compute from the served samples.

The test plays a collector that samples every node's kubelet summary and GPU page once per step
and integrates the way DESIGN §4 says (CPU from counter deltas, reset-aware; memory and GPU as
value × interval). Along the way it deletes a pod and takes a node down and up again, so counter
resets, new pods and gone pods are all exercised. Its own parsing is deliberately separate from
the simulator's code.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime, timedelta
from fractions import Fraction

import pytest

STEP = 15
STEPS = 48
LINE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="([^"]*)"')


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def prom(text: str) -> list[tuple[str, dict, float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, line
        out.append((m.group("name"), dict(LABEL.findall(m.group("labels") or "")), float(m.group("value"))))
    return out


class Collector:
    """Integrates per pod: CPU core-ns from counters, memory byte-s, GPU-s requested and used."""

    def __init__(self, sim, t0: datetime):
        self.sim = sim
        self.t0 = t0
        # (pod uid, container) -> (startTime, CPU counter, (page faults, major faults, log bytes))
        self.last: dict[tuple[str, str], tuple] = {}
        self.pod_counters: dict[str, tuple[int, int, int]] = {}  # pod uid -> (cpu, rx, tx)
        self.cpu = defaultdict(int)
        self.mem = defaultdict(int)
        self.gpu_req = defaultdict(int)
        self.gpu_used = defaultdict(int)  # percent-seconds
        self.steps: dict[str, list] = defaultdict(lambda: [[0, 0, 0, 0] for _ in range(STEPS + 1)])
        self.restarts_seen = 0
        self.new_containers = 0
        self.names: dict[tuple[str, str], str] = {}  # (namespace, pod) -> uid

    def sample(self, i: int, charge: bool) -> None:
        t_i = self.t0 + timedelta(seconds=i * STEP)
        nodes = self.sim.json("/api/v1/nodes")["items"]
        pods = self.sim.json("/api/v1/pods")["items"]
        gpus_of = {
            p["metadata"]["uid"]: sum(
                int(c["resources"].get("limits", {}).get("nvidia.com/gpu", 0))
                for c in p["spec"]["containers"]
            )
            for p in pods
        }
        for p in pods:
            self.names[(p["metadata"]["namespace"], p["metadata"]["name"])] = p["metadata"]["uid"]
        for node in nodes:
            name = node["metadata"]["name"]
            ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]["status"] == "True"
            status, body = self.sim.get(f"/api/v1/nodes/{name}/proxy/stats/summary")
            if not ready:
                assert status == 503
                continue
            assert status == 200, body[:300]
            summary = json.loads(body)
            assert ts(summary["node"]["cpu"]["time"]) == t_i
            jetson_pods = []
            for pod in summary["pods"]:
                uid = pod["podRef"]["uid"]
                cnt = (
                    pod["cpu"]["usageCoreNanoSeconds"],
                    pod["network"]["rxBytes"],
                    pod["network"]["txBytes"],
                )
                if uid in self.pod_counters:
                    # pod-level counters live as long as the pod sandbox: they never go back
                    assert all(a >= b for a, b in zip(cnt, self.pod_counters[uid], strict=True)), (uid, cnt)
                self.pod_counters[uid] = cnt
                for c in pod["containers"]:
                    assert ts(c["cpu"]["time"]) == t_i
                    key = (uid, c["name"])
                    counter = c["cpu"]["usageCoreNanoSeconds"]
                    prev = self.last.get(key)
                    mem = c["memory"]
                    faults = (mem["pageFaults"], mem["majorPageFaults"], c["logs"]["usedBytes"])
                    if prev is not None and prev[0] == c["startTime"]:
                        delta = counter - prev[1]
                        assert delta >= 0, (key, prev, counter)
                        assert all(a >= b for a, b in zip(faults, prev[2], strict=True)), (key, faults, prev)
                    else:
                        if prev is not None:
                            self.restarts_seen += 1
                        if charge:
                            # first sight of this container instance: it started within the interval
                            assert ts(c["startTime"]) >= t_i - timedelta(seconds=STEP), (key, c["startTime"])
                            self.new_containers += 1
                        delta = counter
                    self.last[key] = (c["startTime"], counter, faults)
                    if charge:
                        assert delta == c["cpu"]["usageNanoCores"] * STEP  # constant rate over the step
                        ws = c["memory"]["workingSetBytes"]
                        self.cpu[uid] += delta
                        self.mem[uid] += ws * STEP
                        self.steps[uid][i][0] += c["cpu"]["usageNanoCores"]
                        self.steps[uid][i][1] += ws
                if gpus_of.get(uid) and pod["containers"]:
                    jetson_pods.append(uid)
            kind = node["metadata"]["annotations"].get("kubemon.io/gpu-exporter-kind")
            if kind and charge:
                url = node["metadata"]["annotations"]["kubemon.io/gpu-exporter-url"]
                assert url.startswith(self.sim.url)
                status, text = self.sim.get(url[len(self.sim.url) :])
                assert status == 200
                rows = prom(text.decode())
                if kind == "dcgm":
                    for metric, labels, value in rows:
                        if metric == "DCGM_FI_DEV_GPU_UTIL" and labels.get("pod"):
                            uid = self.names[(labels["namespace"], labels["pod"])]
                            self.gpu_req[uid] += STEP
                            self.gpu_used[uid] += int(value) * STEP
                            self.steps[uid][i][2] += 1
                            self.steps[uid][i][3] += int(value)
                else:
                    # the Jetson exporter has no pod labels: the node's one GPU belongs to the pod
                    # that requests it and ran during the step
                    util = [v for m, lab, v in rows if m == "gpu_usage_gpu"][0]
                    assert len(jetson_pods) <= 1
                    for uid in jetson_pods:
                        self.gpu_req[uid] += STEP
                        self.gpu_used[uid] += int(util) * STEP
                        self.steps[uid][i][2] += 1
                        self.steps[uid][i][3] += int(util)


@pytest.fixture(scope="module")
def run(make_module_sim):
    sim = make_module_sim(nodes=8, pods=90, gpu_nodes=1, jetson_nodes=1, seed=7, step=STEP)
    state = sim.json("/sim/state")
    t0 = ts(state["start"])
    col = Collector(sim, t0)
    col.sample(0, charge=False)
    victim = [
        p for p in sim.json("/api/v1/namespaces/team-a/pods")["items"] if p["status"]["phase"] == "Running"
    ][0]["metadata"]["name"]
    truths = {}
    for i in range(1, STEPS + 1):
        sim.advance(STEP)
        col.sample(i, charge=True)
        # incidents happen after the collector's sample of t_i: a node that dies takes with it
        # the stats of the step that was not yet collected (usage that really happened but that
        # nobody can observe any more)
        if i == 5:
            sim.control(action="delete_pod", namespace="team-a", pod=victim)
        if i == 20:
            sim.control(action="node_not_ready", node="node-02")
        if i == 27:
            sim.control(action="node_ready", node="node-02")
        if i == 30:
            truths["live"] = sim.json(
                f"/sim/truth?start={rfc(t0)}&end={rfc(t0 + timedelta(seconds=30 * STEP))}"
            )
    return sim, col, t0, truths


def test_truth_equals_the_integral_of_sampled_summaries(run):
    sim, col, t0, _ = run
    truth = sim.json("/sim/truth")
    assert truth["start"] == rfc(t0)
    assert truth["end"] == rfc(t0 + timedelta(seconds=STEPS * STEP))
    seen = 0
    for p in truth["pods"]:
        uid = p["uid"]
        # CPU: the counter deltas, in core-nanoseconds, give bit-for-bit the same float
        assert p["cpu_core_seconds"] == col.cpu[uid] / 10**9, p
        assert p["memory_byte_seconds"] == float(col.mem[uid]), p
        assert p["gpu_seconds_requested"] == float(col.gpu_req[uid]), p
        assert p["gpu_seconds_used"] == col.gpu_used[uid] / 100, p
        seen += col.cpu[uid] > 0
    assert seen > 40
    # every pod the collector charged is in the truth, and the totals add up
    assert set(col.cpu) <= {p["uid"] for p in truth["pods"]}
    assert truth["total"]["cpu_core_seconds"] == sum(col.cpu.values()) / 10**9
    assert truth["total"]["memory_byte_seconds"] == float(sum(col.mem.values()))
    assert truth["total"]["gpu_seconds_requested"] > 0
    assert truth["total"]["gpu_seconds_used"] == sum(col.gpu_used.values()) / 100
    by_ns = defaultdict(int)
    for p in truth["pods"]:
        by_ns[p["namespace"]] += col.mem[p["uid"]]
    for ns, v in truth["namespaces"].items():
        assert v["memory_byte_seconds"] == float(by_ns[ns])


def test_the_run_exercised_restarts_new_pods_and_a_node_outage(run):
    sim, col, _, _ = run
    assert col.restarts_seen >= 3  # the node reboot at least restarts its containers
    assert col.new_containers >= 3  # the replacement of the deleted pod, restarts, new job runs
    truth = sim.json("/sim/truth")
    states = {p["state"] for p in truth["pods"]}
    assert "deleted" in states


def test_truth_of_a_partial_window_is_exact(run):
    sim, col, t0, _ = run
    a = t0 + timedelta(seconds=3 * STEP + 7.5)
    b = t0 + timedelta(seconds=31 * STEP - 4.25)
    truth = sim.json(f"/sim/truth?start={rfc(a)}&end={rfc(b)}")
    assert ts(truth["start"]) == a and ts(truth["end"]) == b
    lo = Fraction(int((a - t0).total_seconds() * 4), 4)
    hi = Fraction(int((b - t0).total_seconds() * 4), 4)
    checked = 0
    for p in truth["pods"]:
        series = col.steps.get(p["uid"])
        if series is None:
            continue
        want = [Fraction(0)] * 4
        for i in range(1, STEPS + 1):
            overlap = min(hi, i * STEP) - max(lo, (i - 1) * STEP)
            if overlap > 0:
                for j in range(4):
                    want[j] += series[i][j] * overlap
        assert p["cpu_core_seconds"] == pytest.approx(float(want[0] / 10**9), rel=1e-12, abs=1e-12)
        assert p["memory_byte_seconds"] == pytest.approx(float(want[1]), rel=1e-12)
        assert p["gpu_seconds_requested"] == pytest.approx(float(want[2]), rel=1e-12)
        assert p["gpu_seconds_used"] == pytest.approx(float(want[3] / 100), rel=1e-12)
        checked += 1
    assert checked > 40


def test_truth_of_a_past_window_does_not_change_as_time_goes_on(run):
    sim, _, t0, truths = run
    # at step 30 the window's end was the live boundary; now it is recomputed from checkpoints
    again = sim.json(f"/sim/truth?start={rfc(t0)}&end={rfc(t0 + timedelta(seconds=30 * STEP))}")
    live = {p["uid"]: p for p in truths["live"]["pods"]}
    for p in again["pods"]:
        if p["uid"] in live:
            before = dict(live[p["uid"]], state=None)
            assert dict(p, state=None) == before
        else:  # created after step 30
            assert p["cpu_core_seconds"] == 0 and p["memory_byte_seconds"] == 0
    assert again["total"] == truths["live"]["total"]


def test_metrics_api_reports_the_same_step_as_the_summary(sim):
    sim.advance(7 * 15 + 4)
    summary = sim.json("/api/v1/nodes/node-01/proxy/stats/summary")
    metrics = sim.json("/apis/metrics.k8s.io/v1beta1/pods")
    by_pod = {(m["metadata"]["namespace"], m["metadata"]["name"]): m for m in metrics["items"]}
    compared = 0
    for pod in summary["pods"]:
        if not pod["containers"]:
            continue
        m = by_pod[(pod["podRef"]["namespace"], pod["podRef"]["name"])]
        assert m["timestamp"] == pod["containers"][0]["cpu"]["time"]
        assert m["window"] == "15s"
        for c, mc in zip(pod["containers"], m["containers"], strict=True):
            assert mc["name"] == c["name"]
            cpu = mc["usage"]["cpu"]
            assert (0 if cpu == "0" else int(cpu[:-1])) == c["cpu"]["usageNanoCores"]
            assert cpu == "0" or cpu.endswith("n")
            mem = mc["usage"]["memory"]
            assert mem.endswith("Ki") and int(mem[:-2]) * 1024 == c["memory"]["workingSetBytes"]
            compared += 1
    assert compared >= 5
    nodes = sim.json("/apis/metrics.k8s.io/v1beta1/nodes")
    n1 = [n for n in nodes["items"] if n["metadata"]["name"] == "node-01"][0]
    assert int(n1["usage"]["cpu"][:-1]) == summary["node"]["cpu"]["usageNanoCores"]
    assert int(n1["usage"]["memory"][:-2]) * 1024 == summary["node"]["memory"]["workingSetBytes"]


def test_truth_rejects_bad_windows(sim):
    status, body = sim.get("/sim/truth?start=yesterday")
    assert status == 400 and b"RFC 3339" in body
    status, body = sim.get("/sim/truth?start=2025-01-06T00:10:00Z&end=2025-01-06T00:05:00Z")
    assert status == 400 and b"empty window" in body
    status, body = sim.get("/sim/truth?start=2025-01-06T00:00:00")  # no zone
    assert status == 400


def test_truth_window_is_clipped_to_what_was_simulated(sim):
    sim.advance(100)
    truth = sim.json("/sim/truth?start=2024-12-31T00:00:00Z&end=2030-01-01T00:00:00Z")
    assert truth["start"] == "2025-01-06T00:00:00Z"
    assert truth["end"] == "2025-01-06T00:01:30Z"  # the last completed 15 s boundary
