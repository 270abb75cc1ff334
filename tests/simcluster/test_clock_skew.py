"""``--clock-skew NODE=SECONDS``: one node's kubelet clock ahead of (or behind) the cluster's.

A kubelet stamps everything it reports with its own clock: the summary's sample times and start
times, the timestamps metrics-server passes on, and the pod and container status times it writes
to the API server. The simulated history and its truth stay on the simulated clock.
"""

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = {"nodes": 4, "pods": 30, "seed": 4}


def _epoch(text):
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def _pods_on(sim, node):
    items = sim.json(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{node}")["items"]
    return {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in items}


def _status_times(pod):
    times = [pod["status"]["startTime"]]
    for status in pod["status"].get("containerStatuses", []):
        for state in (status["state"], status.get("lastState") or {}):
            for detail in state.values():
                times += [detail[key] for key in ("startedAt", "finishedAt") if key in detail]
    return [_epoch(t) for t in times]


@pytest.mark.parametrize("skew", [300, -300])
def test_a_skewed_nodes_kubelet_reports_every_time_on_its_own_clock(make_sim, skew):
    plain = make_sim(**SCENARIO)
    skewed = make_sim(**SCENARIO, clock_skew=[f"node-01={skew}"])
    for sim in (plain, skewed):
        sim.advance(600)
    step_time = _epoch(skewed.json("/sim/state")["step_time"])

    summary = skewed.json("/api/v1/nodes/node-01/proxy/stats/summary")
    plain_summary = plain.json("/api/v1/nodes/node-01/proxy/stats/summary")
    assert _epoch(summary["node"]["cpu"]["time"]) == step_time + skew
    assert _epoch(summary["node"]["startTime"]) == _epoch(plain_summary["node"]["startTime"]) + skew
    assert summary["pods"], "node-01 runs no pod in this scenario"
    for pod, plain_pod in zip(summary["pods"], plain_summary["pods"], strict=True):
        assert _epoch(pod["cpu"]["time"]) == step_time + skew
        assert _epoch(pod["startTime"]) == _epoch(plain_pod["startTime"]) + skew
        for container, plain_container in zip(pod["containers"], plain_pod["containers"], strict=True):
            assert _epoch(container["startTime"]) == _epoch(plain_container["startTime"]) + skew
            # the counters are the simulated history's, which the skew does not change
            assert container["cpu"]["usageCoreNanoSeconds"] == plain_container["cpu"]["usageCoreNanoSeconds"]
    other = skewed.json("/api/v1/nodes/node-02/proxy/stats/summary")
    assert _epoch(other["node"]["cpu"]["time"]) == step_time

    # the status times the kubelet writes to the API server, on node-01 only
    skewed_pods, plain_pods = _pods_on(skewed, "node-01"), _pods_on(plain, "node-01")
    assert skewed_pods.keys() == plain_pods.keys()
    for key, pod in skewed_pods.items():
        assert _status_times(pod) == [t + skew for t in _status_times(plain_pods[key])], key
    for key, pod in _pods_on(skewed, "node-02").items():
        assert _status_times(pod) == _status_times(_pods_on(plain, "node-02")[key]), key

    metrics = skewed.json("/apis/metrics.k8s.io/v1beta1/nodes")["items"]
    stamps = {item["metadata"]["name"]: _epoch(item["timestamp"]) for item in metrics}
    assert stamps["node-01"] == step_time + skew and stamps["node-02"] == step_time

    # the truth is the simulated history's, the same with or without the skew
    assert skewed.json("/sim/truth")["namespaces"] == plain.json("/sim/truth")["namespaces"]


@pytest.mark.parametrize("args,message", [
    (["--clock-skew", "node-01"], "--clock-skew takes NODE=SECONDS"),
    (["--clock-skew", "node-01=5m"], "--clock-skew takes NODE=SECONDS"),
    (["--clock-skew", "node-01=90000"], "at most a day"),
    (["--clock-skew", "no-such-node=300"], "--clock-skew: no node named 'no-such-node'"),
])
def test_a_bad_clock_skew_exits_with_a_message_and_no_traceback(args, message):
    proc = subprocess.run([sys.executable, "-m", "simcluster", "--port", "0", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
