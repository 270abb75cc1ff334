"""Node-light agents against the real stack: the simulated cluster, the real collectors into
InfluxDB and Redis, kubemon served by uvicorn, and one agent per node with a fake device.

The expected colours come from the simulator's own pods (the test's own small rule over the API
objects), not from kubemon's classification, so the test can catch kubemon getting it wrong.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from collectors import cycles
from fanhost.nodelight import lights
from fanhost.nodelight.agent import Agent
from fanhost.nodelight.device import FakeDevice

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "nodelight-test-token-0123456789"
ERRORS = {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "RunContainerError",
          "InvalidImageName", "CreateContainerError"}


def truth_state(pod):
    """The state a person reads off ``kubectl get pod -o yaml``."""
    if pod["metadata"].get("deletionTimestamp"):
        return "deleting"
    phase = pod["status"].get("phase")
    if phase == "Failed":
        return "failed"
    for status in pod["status"].get("containerStatuses") or []:
        if (status.get("state", {}).get("waiting") or {}).get("reason") in ERRORS:
            return "failed"
    return {"Pending": "pending", "Running": "running", "Succeeded": "succeeded"}.get(phase, "pending")


def expected_leds(pods):
    counts = {}
    for pod in pods:
        state = truth_state(pod)
        counts[state] = counts.get(state, 0) + 1
    return lights.leds({"counts": counts, "stale": False}, "0")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def kubemon_server(tmp_path, redis_db):
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "NODELIGHT_TOKEN": TOKEN}
    log = open(tmp_path / "uvicorn.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "kubemon.asgi:application", "--host", "127.0.0.1",
                                "--port", str(port), "--ws", "websockets", "--lifespan", "off", "--no-access-log",
                                "--timeout-graceful-shutdown", "2"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/healthz", timeout=2)
            break
        except requests.RequestException:
            time.sleep(0.2)
    yield url
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.slow
def test_each_nodes_light_follows_its_pods_as_they_fail_get_deleted_pend_and_run(
        make_simulator, store, redis_db, kubemon_server):
    sim = make_simulator(seed=3, nodes=4, pods=44, namespaces=4)
    kube = sim.kube()
    assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db).ok
    assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    nodes = [n["metadata"]["name"] for n in sim.get("/api/v1/nodes")["items"]]
    agents = {}
    for node in nodes:
        agent = Agent(kubemon_server, node, TOKEN, FakeDevice(), unknown_after=120)
        threading.Thread(target=agent.run, daemon=True).start()
        agents[node] = agent
    seen, states = set(), set()
    try:
        assert _wait_for(lambda: all(a.source == "websocket" for a in agents.values()))
        for step in range(24):
            if step == 3:  # a graceful deletion (Terminating for its grace), where nothing failed: blue
                by_node = {n: sim.get("/api/v1/pods", fieldSelector=f"spec.nodeName={n}")["items"] for n in nodes}
                calm = [n for n in nodes if "failed" not in {truth_state(p) for p in by_node[n]}] + nodes
                victim = next(p for n in calm for p in by_node[n] if p["status"].get("phase") == "Running"
                              and p["metadata"]["namespace"] != "kube-system")
                sim.control(action="delete_pod", namespace=victim["metadata"]["namespace"],
                            pod=victim["metadata"]["name"], grace_seconds=120)
            sim.advance(15)
            assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
            for node, agent in agents.items():
                truth = expected_leds(sim.get("/api/v1/pods", fieldSelector=f"spec.nodeName={node}")["items"])
                assert _wait_for(lambda a=agent, t=truth: a.device.colours == t), (
                    f"step {step}, {node}: the light shows {agent.device.colours}, the pods say {truth}")
                assert agent.source == "websocket"
                seen.update(agent.device.colours)
                states.update(state for state, count in agent.summary["counts"].items() if count)
    finally:
        for agent in agents.values():
            agent.stop()
    # Across the nodes and the steps the lights went through the states a person would look for.
    assert {lights.GREEN, lights.RED, lights.BLUE, lights.YELLOW} <= seen, seen
    assert {"running", "failed", "deleting", "pending"} <= states, states  # the four, pending too


def test_the_http_fallback_answers_the_same_summary_and_a_wrong_token_is_refused(
        make_simulator, store, redis_db, kubemon_server):
    sim = make_simulator(seed=3, nodes=3, pods=30, namespaces=3)
    kube = sim.kube()
    assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    node = sim.get("/api/v1/nodes")["items"][-1]["metadata"]["name"]
    agent = Agent(kubemon_server, node, TOKEN, FakeDevice())
    doc = agent.fetch_http()
    pods = sim.get("/api/v1/pods", fieldSelector=f"spec.nodeName={node}")["items"]
    assert doc["node"] == node and sum(doc["counts"].values()) == len(pods)
    assert agent.device.colours == expected_leds(pods)
    response = requests.get(f"{kubemon_server}/k8s/nodelight/{node}", headers={"Authorization": "Bearer nope"},
                            timeout=5)
    assert response.status_code == 401
    assert requests.get(f"{kubemon_server}/k8s/nodelight/{node}", timeout=5).status_code == 401
    response = requests.get(f"{kubemon_server}/k8s/nodelight/no-such-node",
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert response.status_code == 404
    wrong = Agent(kubemon_server, node, "wrong-token", FakeDevice())
    with pytest.raises(Exception):  # noqa: B017  (the handshake is refused: websockets' InvalidStatus)
        wrong.run_websocket(until=time.monotonic() + 3)
    assert wrong.summary is None and lights.PURPLE in wrong.show()
