"""The portal as it runs in production: Celery beat sends ``fan.tasks.fan_tick`` every
FAN_TICK_SECONDS through the Redis broker to a real worker process, which decides from the
temperatures in Redis and drives a real fan host (mock pins, its own watchdog thread). Stopping
the portal (SIGTERM to the worker and its beat) leaves the host silent, and it must fail safe
within its heartbeat timeout.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from fan import history
from fanhost.controller import Watchdog
from tests.fan.conftest import set_inventory, set_temperatures
from tests.fanhost.conftest import TOKEN, record_switches, serve

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db, pytest.mark.slow]
HEARTBEAT_TIMEOUT = 4.0


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def fan_host():
    server, host = serve(heartbeat_timeout=HEARTBEAT_TIMEOUT)
    host.switches = record_switches(host, time.time)  # what the host did
    watchdog = Watchdog(host.controller)
    watchdog.start()
    yield host
    watchdog.stop()
    server.shutdown()
    server.server_close()


@pytest.fixture
def portal(fan_host, redis_db, store, influxdb_server, tmp_path):
    """``celery worker -B`` with only the fan's beat entry (every other schedule off)."""
    env = dict(
        os.environ, DJANGO_SETTINGS_MODULE="tests.settings", KUBEMON_TEST_INFLUXDB_URL=influxdb_server.url,
        INFLUXDB_DATABASE=settings.INFLUXDB_DATABASE, REDIS_URL=settings.REDIS_URL, KUBECONFIG="",
        FAN_SERVER_URL=fan_host.url, FAN_TOKEN=TOKEN, FAN_MAXTEMP="70", FAN_DWELL_SECONDS="0",
        FAN_TICK_SECONDS="1", FAN_STALE_SECONDS="60", WARM_QUERY_CACHE_AT="", BILLING_DRAFT_AT="",
        **{f"COLLECT_{name}_SECONDS": "0" for name in ("USAGE", "INVENTORY", "GPU", "ROLLUP", "TEMPERATURE", "SPOOL")},
    )
    log = open(tmp_path / "celery.log", "w")  # noqa: SIM115 (closed below, after the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "kubemon", "worker", "-B", "--pool", "solo", "--loglevel", "INFO",
         "--schedule", str(tmp_path / "celerybeat-schedule"), "--without-heartbeat", "--without-gossip",
         "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(20)
    log.close()


def test_beat_and_a_worker_drive_the_host_and_stopping_them_makes_it_fail_safe_in_time(
        fan_host, portal, redis_db, store, tmp_path):
    set_inventory(redis_db, west={}, north={}, **{"cp-1": {"node-role.kubernetes.io/control-plane": ""}})
    set_temperatures(redis_db, west=60.0, north=55.0, **{"cp-1": 90.0})  # cool (the hot control plane is excluded)
    pin = fan_host.pin
    log = lambda: (tmp_path / "celery.log").read_text()  # noqa: E731
    # The host starts in its fail-safe; the portal's first ticks take it over and stop the fan.
    _wait_for(lambda: not fan_host.controller.state()["failsafe"] and pin(15) == 0, 90, "the portal's first tick")
    assert "fan.tasks.fan_tick" in log()
    set_temperatures(redis_db, west=72.0, north=55.0, **{"cp-1": 90.0})
    _wait_for(lambda: pin(15) == 1.0, 15, "the fan to start at 72 °C")
    assert fan_host.controller.reason == "west at 72.0 °C ≥ 70 °C"
    set_temperatures(redis_db, west=62.0, north=55.0, **{"cp-1": 90.0})
    _wait_for(lambda: pin(15) == 0, 15, "the fan to stop at 62 °C (≤ 63 °C, 90 % of 70)")
    switched = list(fan_host.switches)

    portal.terminate()  # the portal stops: beat and the worker are gone
    stopped = time.monotonic()
    portal.wait(20)
    failed_safe = _wait_for(lambda: fan_host.controller.state()["failsafe"], HEARTBEAT_TIMEOUT + 5, "the fail-safe")
    assert pin(15) == 1.0 and "no heartbeat from the portal" in fan_host.controller.reason
    # a tick may have heartbeaten just before the SIGTERM; the watchdog checks every 0.4 s
    assert failed_safe - stopped <= HEARTBEAT_TIMEOUT + 1.5, failed_safe - stopped

    # What the worker wrote to InfluxDB is what the host did, switch for switch.
    rows = history.changes(store, switched[0][0] - 5, time.time() + 5)
    recorded = [(t, running) for t, running, _speed, mode, _reason in rows if mode in ("auto", "failsafe")]
    transitions = [r for i, r in enumerate(recorded) if i == 0 or r[1] != recorded[i - 1][1]]
    assert [r for _, r in transitions[-len(switched):]] == [r for _, r, _ in switched], (transitions, switched)
    for (t_recorded, _), (t_host, _, _) in zip(transitions[-len(switched):], switched, strict=True):
        assert abs(t_recorded - t_host) < 1.0
