"""Fixtures for the simulator suite: simulators started in-process on port 0, and HTTP helpers.

These tests need neither a database nor InfluxDB (tests/conftest.py starts InfluxDB only for the
tests that ask for it), so the simulator suite runs on a machine, or in a CI step, without it.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from simcluster import options_from_namespace, start

START = "2025-01-06T00:00:00Z"  # a Monday, midnight UTC: fixed so that runs are reproducible


class Http:
    """A tiny keep-alive client that returns (status, headers, body) without raising."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.netloc = urlsplit(base_url).netloc
        self.conn = http.client.HTTPConnection(self.netloc, timeout=30)

    def request(self, method: str, path: str, body=None) -> tuple[int, dict, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, dict(resp.getheaders()), resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.netloc, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str) -> tuple[int, bytes]:
        status, _, body = self.request("GET", path)
        return status, body

    def json(self, path: str, expect: int = 200):
        status, body = self.get(path)
        assert status == expect, (path, status, body[:500])
        return json.loads(body)

    def control(self, expect: int = 200, **body):
        status, _, data = self.request("POST", "/sim/control", body)
        assert status == expect, (body, status, data[:500])
        return json.loads(data)

    def advance(self, seconds: float):
        return self.control(action="advance", seconds=seconds)


class Sim:
    def __init__(self, running):
        self.running = running
        self.url = running.url
        self.http = Http(running.url)
        self.cluster = running.sim

    def __getattr__(self, name):
        return getattr(self.http, name)


def _factory(started: list):
    def make(**overrides) -> Sim:
        opts = {"start": START, "manual_clock": True, "quiet": True, "seed": 1}
        opts.update(overrides)
        r = start(options_from_namespace(opts))
        started.append(r)
        return Sim(r)

    return make


@pytest.fixture
def make_sim():
    """Start simulators with option overrides (manual clock, fixed start, quiet by default)."""
    started: list = []
    yield _factory(started)
    for r in started:
        r.stop()


@pytest.fixture(scope="module")
def make_module_sim():
    """Like make_sim, for a simulator shared by a module's tests (expensive runs)."""
    started: list = []
    yield _factory(started)
    for r in started:
        r.stop()


@pytest.fixture
def sim(make_sim) -> Sim:
    """The default scenario (5 nodes, 60 pods) plus one GPU and one Jetson node."""
    return make_sim(nodes=7, pods=70, gpu_nodes=1, jetson_nodes=1)
