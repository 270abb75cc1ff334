"""A fan host on mock pins, served in-process on a free port (no Django, no services)."""

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from fanhost.controller import FanController
from fanhost.pins import L293D, mock_factory
from fanhost.server import HostState, make_server

TOKEN = "test-token-0123456789abcdef"


@dataclass
class Host:
    url: str
    factory: object
    controller: FanController
    state: HostState

    def pin(self, board):
        """The mock pin's state: 0/1 for IN1 and IN2, the PWM duty for ENABLE."""
        return self.factory.pin(f"BOARD{board}").state

    def call(self, method, path, body=None, token=TOKEN, raw=False):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        return status, (payload if raw else json.loads(payload))


def serve(heartbeat_timeout=60.0, legacy_control=False, clock=None, panel=None, wall=None):
    """``clock``: the watchdog's (monotonic by default); ``wall``: the one ``since`` is stamped with."""
    factory = mock_factory()
    pins = L293D(factory)
    kwargs = {"clock": clock} if clock else {}
    if wall:
        kwargs["wall"] = wall
    controller = FanController(pins, heartbeat_timeout, **kwargs)
    state = HostState(controller, TOKEN, legacy_control=legacy_control, quiet=True, panel=panel)
    server = make_server(state, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, Host(f"http://127.0.0.1:{server.server_address[1]}", factory, controller, state)


def record_switches(host, clock):
    """``[(clock(), running, reason)]`` of every on or off the host's controller makes from now on."""
    switches = []
    apply = host.controller._apply

    def recording_apply(speed, reason):
        was = host.controller.running
        apply(speed, reason)
        if host.controller.running != was:
            switches.append((clock(), host.controller.running, reason))

    host.controller._apply = recording_apply
    return switches


@pytest.fixture
def host():
    server, h = serve()
    yield h
    server.shutdown()
    server.server_close()
    h.controller.pins.close()


@pytest.fixture
def legacy_host():
    server, h = serve(legacy_control=True)
    yield h
    server.shutdown()
    server.server_close()
    h.controller.pins.close()
