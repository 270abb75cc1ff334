"""The fail-safe: full speed before the first heartbeat, when the heartbeat stops, and on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from fanhost.controller import FanController, Watchdog
from fanhost.pins import L293D, mock_factory
from tests.fanhost.conftest import TOKEN, serve

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def controller(timeout=60.0):
    clock = Clock()
    factory = mock_factory()
    return FanController(L293D(factory), timeout, clock=clock), clock, factory


def test_the_fan_runs_full_when_the_portal_falls_silent_for_longer_than_the_timeout():
    c, clock, factory = controller(60)
    c.heartbeat()
    c.stop()
    assert factory.pin("BOARD15").state == 0
    clock.now += 59
    assert c.check() is False and factory.pin("BOARD15").state == 0
    c.heartbeat()  # the portal is alive: the 60 s start again
    clock.now += 60
    assert c.check() is False
    clock.now += 1.5
    assert c.check() is True
    assert factory.pin("BOARD15").state == 1.0
    state = c.state()
    assert state["mode"] == "failsafe" and state["running"] is True and state["speed"] == 1.0
    assert state["reason"] == "no heartbeat from the portal for 62 s (limit 60 s)"


def test_a_heartbeat_ends_the_failsafe_but_leaves_the_fan_running_until_the_portal_decides():
    c, clock, factory = controller(60)
    assert c.state()["failsafe"] is True
    c.heartbeat()
    state = c.state()
    assert state["failsafe"] is False and state["mode"] == "portal" and state["running"] is True
    assert factory.pin("BOARD15").state == 1.0
    c.set_speed(0.4)
    assert factory.pin("BOARD15").state == pytest.approx(0.4)


def test_a_command_counts_as_a_heartbeat():
    c, clock, factory = controller(10)
    c.stop()
    clock.now += 9
    c.set_speed(0.5)
    clock.now += 9
    assert c.check() is False and factory.pin("BOARD15").state == pytest.approx(0.5)


def test_a_timeout_of_zero_turns_the_watchdog_off():
    c, clock, factory = controller(0)
    c.stop()
    clock.now += 10_000
    assert c.check() is False and factory.pin("BOARD15").state == 0


def test_shutdown_leaves_the_fan_on_at_full_speed_and_nothing_can_turn_it_down_afterwards():
    c, clock, factory = controller(60)
    c.heartbeat()
    c.stop()
    state = c.shutdown("SIGTERM")
    assert state["running"] is True and state["mode"] == "failsafe" and state["reason"].startswith("SIGTERM")
    assert (factory.pin("BOARD11").state, factory.pin("BOARD13").state, factory.pin("BOARD15").state) == (1, 0, 1.0)
    c.stop()
    c.set_speed(0.1)
    assert factory.pin("BOARD15").state == 1.0
    assert not c.pins.enable.closed  # the pins are not released: released pins would stop the fan


def test_the_watchdog_thread_fails_safe_over_http_within_the_timeout():
    server, host = serve(heartbeat_timeout=0.6)
    watchdog = Watchdog(host.controller)
    watchdog.start()
    try:
        assert host.call("POST", "/fan/stop")[0] == 200
        assert host.pin(15) == 0
        started = time.monotonic()
        while host.pin(15) == 0 and time.monotonic() - started < 5:
            time.sleep(0.02)
        waited = time.monotonic() - started
        assert host.pin(15) == 1.0
        assert 0.55 <= waited <= 1.0
        assert host.call("GET", "/fan/status", token=None, raw=True)[1] == b'{"message":"FAN ON","status":true}\n'
        assert host.call("GET", "/fan/state")[1]["failsafe"] is True
    finally:
        watchdog.stop()
        server.shutdown()
        server.server_close()


def _start_process(tmp_path, *extra):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    proc = subprocess.Popen([sys.executable, "-m", "fanhost", "--port", "0", "--token-file", str(token_file),
                             "--quiet", *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("fanhost listening on http://127.0.0.1:"), line
    return proc, line.split()[-1]


def test_the_process_on_sigterm_says_the_fan_was_left_on_and_exits_cleanly(tmp_path):
    proc, url = _start_process(tmp_path, "--mock-pins")
    request = urllib.request.Request(url + "/fan/stop", data=b"{}", method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    with urllib.request.urlopen(url + "/fan/status", timeout=5) as response:
        assert response.read() == b'{"message":"FAN OFF","status":false}\n'
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "SIGTERM: fan left running at full speed; pins not released" in stderr


def test_the_process_refuses_to_start_without_a_token(tmp_path):
    result = subprocess.run([sys.executable, "-m", "fanhost", "--port", "0", "--mock-pins"], cwd=ROOT,
                            capture_output=True, text=True, timeout=20, env={**os.environ, "FANHOST_TOKEN": ""})
    assert result.returncode == 2
    assert "no token" in result.stderr and "Traceback" not in result.stderr


def test_the_process_picks_mock_pins_with_a_warning_where_there_is_no_gpio(tmp_path):
    if os.path.exists("/dev/gpiomem") or any(n.startswith("gpiochip") for n in os.listdir("/dev")):
        pytest.skip("this machine has GPIO")
    proc, url = _start_process(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=10)
    assert "no GPIO on this machine" in stderr and "using mock pins" in stderr
