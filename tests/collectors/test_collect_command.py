"""``manage.py collect --once`` as an operator runs it: one line per failing part, and an exit
status that says what failed, when InfluxDB or Redis is down."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
CYCLE_LINE = re.compile(r"^(inventory|usage|gpu|temperature|rollup|assign-namespaces): ")


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _collect(simulator, influxdb_url, *args, redis_url=None):
    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        KUBEMON_TEST_INFLUXDB_URL=influxdb_url,
        INFLUXDB_DATABASE=settings.INFLUXDB_DATABASE,
        REDIS_URL=redis_url or settings.REDIS_URL,
        KUBECONFIG=simulator.kubeconfig,
    )
    return subprocess.run([sys.executable, "manage.py", "collect", "--once", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _cycle_lines(stdout):
    return {line.split(":", 1)[0]: line for line in stdout.splitlines() if CYCLE_LINE.match(line)}


def test_with_influxdb_down_the_usage_is_spooled_and_only_the_rollup_fails_in_one_line(
        make_simulator, redis_db, private_influxdb):
    simulator = make_simulator(seed=3, nodes=3, pods=20)
    simulator.advance(15)
    private_influxdb.stop()
    run = _collect(simulator, private_influxdb.url, "--only", "usage,rollup")
    assert "Traceback" not in run.stdout + run.stderr
    lines = _cycle_lines(run.stdout)
    assert lines["usage"].startswith("usage: ok")
    assert "lines spooled" in run.stdout
    assert lines["rollup"] == (f"rollup: FAILED: InfluxDB unavailable at {private_influxdb.url}: "
                               "connection refused")
    assert run.returncode == 4 | 8  # the rollup failed; points were spooled, not lost


def test_with_redis_down_every_part_fails_in_one_line_naming_redis(make_simulator, influxdb_server):
    simulator = make_simulator(seed=3, nodes=3, pods=20)
    simulator.advance(15)
    redis_url = f"redis://127.0.0.1:{_closed_port()}/10"
    run = _collect(simulator, influxdb_server.url, redis_url=redis_url)
    assert "Traceback" not in run.stdout + run.stderr
    lines = _cycle_lines(run.stdout)
    assert set(lines) == {"inventory", "usage", "gpu", "temperature", "rollup"}
    for name, line in lines.items():
        assert line == f"{name}: FAILED: Redis unavailable at {redis_url}: connection refused"
    assert run.returncode == 1 | 4  # collection cycles and the rollup failed


def test_when_every_part_works_the_exit_status_is_zero(make_simulator, redis_db, store, influxdb_server):
    simulator = make_simulator(seed=3, nodes=3, pods=20)
    simulator.advance(15)
    run = _collect(simulator, influxdb_server.url)
    assert run.returncode == 0, run.stdout + run.stderr
    assert all(" ok " in line for line in _cycle_lines(run.stdout).values())


def test_an_unknown_cycle_or_an_unreadable_kubeconfig_is_a_configuration_error(make_simulator, tmp_path):
    simulator = make_simulator(seed=3, nodes=3, pods=20)
    run = _collect(simulator, "http://127.0.0.1:9", "--only", "usage,bogus")
    assert run.returncode == 2
    assert "unknown cycle(s): bogus" in run.stderr
    simulator.kubeconfig = str(tmp_path / "missing-kubeconfig")
    run = _collect(simulator, "http://127.0.0.1:9", "--only", "usage")
    assert "Traceback" not in run.stdout + run.stderr
    assert _cycle_lines(run.stdout)["usage"].startswith(
        f"usage: FAILED: cannot load the Kubernetes configuration from {simulator.kubeconfig}")
    assert run.returncode == 2
