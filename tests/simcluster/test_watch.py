"""Watch streams over raw HTTP: initial state, resourceVersion, selectors, timeouts, expiry."""

from __future__ import annotations

import http.client
import json
import threading
import time

from .conftest import Http


def stream(sim, path: str, stop_when=None, timeout: float = 15.0) -> tuple[list[dict], float, dict]:
    """Read a watch response line by line; returns (events, seconds until the stream ended, headers)."""
    conn = http.client.HTTPConnection(sim.url.split("//")[1], timeout=timeout)
    t = time.monotonic()
    conn.request("GET", path)
    resp = conn.getresponse()
    assert resp.status == 200
    events = []
    while True:
        line = resp.readline()
        if not line:
            break
        events.append(json.loads(line))
        if stop_when is not None and stop_when(events[-1]):
            break
    elapsed = time.monotonic() - t
    headers = dict(resp.getheaders())
    conn.close()
    return events, elapsed, headers


def test_a_watch_without_resource_version_starts_with_the_current_state(sim):
    listed = sim.json("/api/v1/namespaces/kube-system/pods")["items"]
    events, elapsed, headers = stream(sim, "/api/v1/namespaces/kube-system/pods?watch=1&timeoutSeconds=1")
    assert headers["Transfer-Encoding"] == "chunked"
    assert [e["type"] for e in events] == ["ADDED"] * len(listed)
    assert [e["object"]["metadata"]["name"] for e in events] == [p["metadata"]["name"] for p in listed]
    assert 0.9 < elapsed < 3  # timeoutSeconds ends the stream


def test_a_watch_with_a_selector_follows_a_rolling_replacement(sim):
    pods = sim.json("/api/v1/namespaces/team-a/pods")["items"]
    victim = [
        p
        for p in pods
        if p["metadata"].get("ownerReferences", [{}])[0].get("kind") == "ReplicaSet"
        and p["status"]["phase"] == "Running"
        and "deletionTimestamp" not in p["metadata"]
    ][0]
    app = victim["metadata"]["labels"]["app.kubernetes.io/instance"]
    rv = sim.json("/api/v1/pods")["metadata"]["resourceVersion"]

    def act():
        time.sleep(0.3)
        other = Http(sim.url)
        other.control(action="delete_pod", namespace="team-a", pod=victim["metadata"]["name"])
        other.advance(75)

    threading.Thread(target=act, daemon=True).start()
    path = (
        f"/api/v1/pods?watch=true&resourceVersion={rv}&timeoutSeconds=10"
        f"&labelSelector=app.kubernetes.io/instance%3D{app}"
    )
    events, _, _ = stream(sim, path, stop_when=lambda e: e["type"] == "DELETED")
    assert all(e["object"]["metadata"]["labels"]["app.kubernetes.io/instance"] == app for e in events)
    kinds = [(e["type"], e["object"]["metadata"]["name"] == victim["metadata"]["name"]) for e in events]
    assert kinds[0] == ("MODIFIED", True) and kinds[-1] == ("DELETED", True)
    assert ("ADDED", False) in kinds  # the replacement, from the same ReplicaSet
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


def test_a_watch_resumes_from_a_resource_version_without_gaps(sim):
    rv0 = int(sim.json("/api/v1/pods")["metadata"]["resourceVersion"])
    sim.advance(30 * 15)
    first, _, _ = stream(sim, f"/api/v1/pods?watch=1&resourceVersion={rv0}&timeoutSeconds=1")
    assert first
    mid = int(first[len(first) // 2]["object"]["metadata"]["resourceVersion"])
    second, _, _ = stream(sim, f"/api/v1/pods?watch=1&resourceVersion={mid}&timeoutSeconds=1")
    later = [e for e in first if int(e["object"]["metadata"]["resourceVersion"]) > mid]
    assert second == later


def test_a_watch_from_a_compacted_resource_version_gets_an_error_event(sim):
    rv = sim.json("/api/v1/pods")["metadata"]["resourceVersion"]
    sim.advance(60)
    sim.control(action="compact")
    events, _, _ = stream(sim, f"/api/v1/pods?watch=1&resourceVersion={rv}&timeoutSeconds=5")
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"


def test_a_watch_on_nodes_sees_a_node_go_not_ready(sim):
    rv = sim.json("/api/v1/nodes")["metadata"]["resourceVersion"]

    def act():
        time.sleep(0.3)
        Http(sim.url).control(action="node_not_ready", node="node-03")

    threading.Thread(target=act, daemon=True).start()
    events, _, _ = stream(
        sim,
        f"/api/v1/nodes?watch=1&resourceVersion={rv}&timeoutSeconds=10",
        stop_when=lambda e: e["object"]["metadata"]["name"] == "node-03",
    )
    node = events[-1]["object"]
    assert events[-1]["type"] == "MODIFIED"
    assert [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]["status"] == "Unknown"


def test_a_live_clock_produces_watch_events_without_any_request(make_sim):
    sim = make_sim(manual_clock=False, speed=600)  # a 15 s step every 25 ms of real time
    rv = sim.json("/api/v1/pods")["metadata"]["resourceVersion"]
    events, elapsed, _ = stream(
        sim,
        f"/api/v1/pods?watch=1&resourceVersion={rv}&timeoutSeconds=20",
        stop_when=lambda e: e["type"] in ("ADDED", "DELETED"),
    )
    assert events and elapsed < 20
