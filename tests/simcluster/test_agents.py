"""Temperature agents pushing to a receiver, and the fan host's effect on node temperatures."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

PUSH = re.compile(r"^/base/k8s/collect/(?P<token>[^/]+)/temperature$")


class Receiver:
    """A tiny HTTP server recording every request path (the kubemon push endpoint's stand-in)."""

    def __init__(self, answer: dict | None = None):
        self.paths: list[str] = []
        self.answer = answer or {}
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                outer.paths.append(self.path)
                body = json.dumps(outer.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def wait_for(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def pushes(receiver) -> list[tuple[str, str, int]]:
    out = []
    for path in list(receiver.paths):
        parts = urlsplit(path)
        m = PUSH.match(parts.path)
        assert m, path
        q = parse_qs(parts.query)
        assert set(q) == {"node", "value"} and re.fullmatch(r"\d+", q["value"][0])
        out.append((m.group("token"), q["node"][0], int(q["value"][0])))
    return out


def test_temperature_agents_push_millidegrees_for_every_ready_node(make_sim, receiver):
    sim = make_sim(push_temperatures_to=receiver.url + "/base/", token="s3cret/token")
    nodes = [n["name"] for n in sim.json("/sim/state")["nodes"]]
    wait_for(lambda: len(receiver.paths) >= len(nodes))  # the first round, at start
    sim.advance(5)
    wait_for(lambda: len(receiver.paths) >= 2 * len(nodes))
    got = pushes(receiver)
    assert {t for t, _, _ in got} == {"s3cret%2Ftoken"}  # the token is one path segment
    assert Counter_of(got) == {n: 2 for n in nodes}
    state = {n["name"]: n["temperature_celsius"] for n in sim.json("/sim/state")["nodes"]}
    for _, node, value in got:
        assert 20_000 < value < 95_000
        assert abs(value / 1000 - state[node]) < 0.01
    # a node that is down has no agent running
    sim.control(action="node_not_ready", node="node-01")
    sim.advance(5)
    wait_for(lambda: len(receiver.paths) >= 3 * len(nodes) - 1)
    time.sleep(0.3)
    assert Counter_of(pushes(receiver))["node-01"] == 2
    assert sim.json("/sim/state")["temperature_push"]["failed"] == 0


def Counter_of(got):  # noqa: N802 (reads like the collections class it wraps)
    from collections import Counter

    return dict(Counter(node for _, node, _ in got))


def test_time_jumps_give_one_round_not_a_replay(make_sim, receiver):
    sim = make_sim(push_temperatures_to=receiver.url + "/base", token="t")
    n = len(sim.json("/sim/state")["nodes"])
    wait_for(lambda: len(receiver.paths) >= n)
    sim.advance(3600)
    wait_for(lambda: len(receiver.paths) >= 2 * n)
    time.sleep(0.5)
    assert len(receiver.paths) == 2 * n


def test_pushes_are_rate_limited_at_high_speed(make_sim, receiver):
    sim = make_sim(manual_clock=False, speed=200, push_temperatures_to=receiver.url + "/base", token="t")
    n = len(sim.json("/sim/state")["nodes"])
    time.sleep(1.5)
    rounds = len(receiver.paths) / n
    # 200x speed would be 40 rounds/s at one per 5 simulated seconds; the cap is 4 per second
    assert 2 <= rounds <= 4 * 1.5 + 2


def test_a_receiver_that_is_down_does_not_disturb_the_simulator(make_sim):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nothing listens once the socket is closed
    sim = make_sim(push_temperatures_to=f"http://127.0.0.1:{dead}", token="t")
    wait_for(lambda: sim.json("/sim/state")["temperature_push"]["failed"] >= 5)
    sim.advance(60)
    assert sim.get("/api/v1/pods")[0] == 200
    push = sim.json("/sim/state")["temperature_push"]
    assert push["sent"] == 0 and push["last_error"]


def test_nodes_run_cooler_with_the_fan_on(make_sim):
    on, off = (
        Receiver({"status": True, "message": "FAN ON"}),
        Receiver({"status": False, "message": "FAN OFF"}),
    )
    try:
        cooled = make_sim(seed=9, fan_url=on.url)
        warm = make_sim(seed=9, fan_url=off.url)
        nofan = make_sim(seed=9)
        for sim in (cooled, warm, nofan):
            sim.advance(40 * 15)
        assert on.paths and all(p == "/fan/status" for p in on.paths)
        t_on = {n["name"]: n["temperature_celsius"] for n in cooled.json("/sim/state")["nodes"]}
        t_off = {n["name"]: n["temperature_celsius"] for n in warm.json("/sim/state")["nodes"]}
        t_none = {n["name"]: n["temperature_celsius"] for n in nofan.json("/sim/state")["nodes"]}
        assert t_off == t_none  # no fan host means no fan
        for name in t_on:
            assert t_on[name] < t_off[name] - 5, name
        # the same load on both (the fan does not change usage)
        assert cooled.get("/sim/truth") == warm.get("/sim/truth")
        # and what exporters show follows the node temperature
        page = cooled.get("/node-exporter/node-01/metrics")[1].decode()
        assert f'node_thermal_zone_temp{{type="cpu-thermal",zone="0"}} {t_on["node-01"]:.3f}' in page
        assert cooled.json("/sim/state")["fan"] == {"url": on.url, "running": True}
    finally:
        on.close()
        off.close()


def test_temperature_follows_load(make_sim):
    sim = make_sim(nodes=6, pods=90, seed=2)
    sim.advance(20 * 15)
    before = {n["name"]: n for n in sim.json("/sim/state")["nodes"]}
    assert before["node-01"]["cpu_usage_cores"] > 0.5
    sim.control(action="node_not_ready", node="node-01")  # its load drops to nothing
    sim.advance(20 * 15)
    after = {n["name"]: n for n in sim.json("/sim/state")["nodes"]}
    assert after["node-01"]["temperature_celsius"] < before["node-01"]["temperature_celsius"] - 10
    assert all(
        after["node-01"]["temperature_celsius"] < after[name]["temperature_celsius"]
        for name in after
        if name != "node-01"
    )
