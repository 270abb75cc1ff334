"""deploy/entrypoint.py outside a container: web, worker and beat started in this virtualenv as
the image starts them, against a simulated cluster read kubelet by kubelet (the default mode)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.py"
DATABASE = "kubemon_d1_entrypoint"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _base_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBELET_", "DJANGO_", "KUBEMON_"))}
    secret = tmp_path / "secret-key"
    secret.write_text("entrypoint-test-" + "x" * 40 + "\n")
    env.update(DJANGO_SETTINGS_MODULE="kubemon.settings", SECRET_KEY_FILE=str(secret),
               KUBEMON_STATE_DIR=str(tmp_path / "state"), PYTHONUNBUFFERED="1", **extra)
    env.pop("SECRET_KEY", None)
    return env


def _run(env, *args, timeout=60):
    return subprocess.run([sys.executable, str(ENTRYPOINT), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_a_secret_left_as_the_templates_placeholder_stops_the_start(tmp_path):
    env = _base_env(tmp_path)
    Path(env["SECRET_KEY_FILE"]).write_text("change-me-to-50-random-characters\n")
    done = _run(env, "migrate")
    assert done.returncode != 0
    assert "SECRET_KEY is still the Secret template's placeholder" in done.stderr


def test_an_unknown_role_is_named(tmp_path):
    done = _run(_base_env(tmp_path), "scheduler")
    assert done.returncode != 0 and "unknown command 'scheduler'" in done.stderr


def _database_url():
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    return base, f"{base}/{DATABASE}"


def _psql(url, sql):
    subprocess.run(["psql", url, "-q", "-c", sql], check=True, capture_output=True, timeout=60)


@pytest.fixture
def fresh_database():
    base, url = _database_url()
    if not base.startswith("postgres"):
        pytest.skip("needs PostgreSQL")
    _psql(f"{base}/postgres", f"DROP DATABASE IF EXISTS {DATABASE}")
    _psql(f"{base}/postgres", f"CREATE DATABASE {DATABASE}")
    yield url
    _psql(f"{base}/postgres", f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def _start_simulator(tmp_path):
    args = [sys.executable, "-m", "simcluster", "--port", "0", "--nodes", "4", "--pods", "30", "--speed", "3",
            "--kubeconfig", str(tmp_path / "kubeconfig"), "--kubelet-ca", str(tmp_path / "kubelet-ca.crt"),
            "--quiet"]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if "listening on" in line:
            return process
    raise RuntimeError("the simulator did not start")


def _stop(processes):
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
@pytest.mark.django_db
def test_web_worker_and_beat_start_from_the_entrypoint_and_collect(tmp_path, influxdb, redis_db, fresh_database):
    port = _free_port()
    redis_url = os.environ["REDIS_URL"]
    env = _base_env(
        tmp_path, DATABASE_URL=fresh_database, REDIS_URL=redis_url, INFLUXDB_URL=influxdb.url,
        INFLUXDB_DATABASE="kubemon_d1_entrypoint", CHANNELS_PREFIX="kubemon-d1-entrypoint",
        KUBECONFIG=str(tmp_path / "kubeconfig"), KUBELET_CA_FILE=str(tmp_path / "kubelet-ca.crt"),
        PORT=str(port), KUBEMON_BIND="127.0.0.1", KUBEMON_MIGRATE="true", WEB_SERVE_STATIC="true",
        COLLECT_USAGE_SECONDS="5", WORKER_CONCURRENCY="1", LOG_LEVEL="WARNING",
    )
    logs = {role: open(tmp_path / f"{role}.log", "w") for role in ("web", "worker", "beat")}
    processes = [_start_simulator(tmp_path)]
    try:
        for role in ("web", "worker", "beat"):
            processes.append(subprocess.Popen([sys.executable, str(ENTRYPOINT), role], env=env,
                                              stdout=logs[role], stderr=subprocess.STDOUT))
        health = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        assert health is not None, (tmp_path / "web.log").read_text()[-3000:]
        assert health.status_code == 200, health.text
        assert {health.json()[k]["status"] for k in ("database", "redis", "influxdb")} == {"ok"}
        assert _run(env, "healthcheck", "web").returncode == 0
        # the migrations ran in the web role: the login page needs the session and user tables
        assert requests.get(f"http://127.0.0.1:{port}/web/login/", timeout=10).status_code == 200
        # beat schedules, the worker collects: kubelet summaries read directly (only nodes/stats)
        counted = 0
        while time.monotonic() < deadline + 60 and not counted:
            time.sleep(2)
            answer = requests.get(influxdb.url + "/query", timeout=10, params={
                "db": "kubemon_d1_entrypoint",
                "q": 'SELECT count("cpu_usage_core_nanoseconds") FROM "raw"."kubernetes_pod_container"'}).json()
            series = (answer.get("results") or [{}])[0].get("series")
            counted = series[0]["values"][0][1] if series else 0
        assert counted > 10, (tmp_path / "worker.log").read_text()[-3000:]
        assert all(process.poll() is None for process in processes)
    finally:
        _stop(processes[1:])
        _stop(processes[:1])
        for log in logs.values():
            log.close()
