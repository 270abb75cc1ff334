"""The production path: tasks sent through the Redis broker to a real Celery worker process."""

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from django.conf import settings

from collectors import tasks
from collectors.temperature import QUEUE_KEY
from kubemon import keys

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def worker(redis_db, store, influxdb_server, make_simulator):
    simulator = make_simulator(seed=3, nodes=3, pods=20)
    simulator.advance(15)
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.settings",
        KUBEMON_TEST_INFLUXDB_URL=influxdb_server.url,
        INFLUXDB_DATABASE=settings.INFLUXDB_DATABASE,
        REDIS_URL=settings.REDIS_URL,
        KUBECONFIG=simulator.kubeconfig,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "kubemon", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    yield process
    process.terminate()
    process.wait(20)


def _wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_usage_cycle_sent_through_the_broker_writes_points(worker, redis_db, store):
    tasks.collect_usage.delay()
    raw = _wait_for(lambda: redis_db.get(keys.CYCLE_REPORT + "usage"))
    report = orjson.loads(raw)
    assert report["ok"] and report["points"]["kubernetes_pod_container"] > 5
    assert report["written"] == sum(report["points"].values())
    count = store.query('SELECT count("cpu_core_seconds") FROM "kubernetes_pod_container"')
    assert count[0]["values"][0][1] == report["points"]["kubernetes_pod_container"]


def test_queued_temperatures_are_flushed_by_the_worker(worker, redis_db, store):
    now = int(time.time())
    redis_db.rpush(QUEUE_KEY, f"node_temperature,node_name=rpi-1,sensor=cpu,source=push celsius=48.5 {now}")
    tasks.flush_temperatures.delay()
    _wait_for(lambda: redis_db.llen(QUEUE_KEY) == 0)
    series = _wait_for(lambda: store.query('SELECT "celsius" FROM "node_temperature"'))
    assert series[0]["values"][0][1] == 48.5
