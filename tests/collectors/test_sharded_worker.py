"""The sharded usage and GPU cycles through the Redis broker: a real Celery worker runs the
dispatch and then each shard's task (collectors/tasks.py)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from django.conf import settings

from collectors import tasks
from kubemon import keys

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db, pytest.mark.slow]
GPU_SCENARIO = {"seed": 3, "nodes": 5, "pods": 24, "gpu_nodes": 2, "jetson_nodes": 1}


@pytest.fixture
def sharded_worker(request, redis_db, store, influxdb_server, make_simulator):
    simulator = make_simulator(**getattr(request, "param", {"seed": 3, "nodes": 4, "pods": 24}))
    simulator.advance(15)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", KUBEMON_TEST_INFLUXDB_URL=influxdb_server.url,
               INFLUXDB_DATABASE=settings.INFLUXDB_DATABASE, REDIS_URL=settings.REDIS_URL,
               KUBECONFIG=simulator.kubeconfig, COLLECT_USAGE_SHARDS="2")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "kubemon", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    yield process
    process.terminate()
    process.wait(20)


def _report(redis_db, name):
    deadline, report = time.monotonic() + 60, None
    while time.monotonic() < deadline and report is None:
        raw = redis_db.get(keys.CYCLE_REPORT + name)
        report = orjson.loads(raw) if raw else None
        time.sleep(0.2)
    assert report is not None, f"the sharded {name} cycle never finished"
    return report


def test_a_sharded_usage_cycle_sent_through_the_broker_runs_one_task_per_shard(sharded_worker, redis_db, store):
    tasks.collect_usage.delay()
    report = _report(redis_db, "usage")
    assert report["ok"] and report["shards"] == {"count": 2, "failed": [], "skipped": []}
    for label in ("1of2", "2of2"):
        shard = orjson.loads(redis_db.get(keys.CYCLE_REPORT + f"usage/{label}"))
        assert shard["ok"] and shard["points"]["kubernetes_pod_container"] > 0
    count = store.query('SELECT count("cpu_core_seconds") FROM "kubernetes_pod_container"')
    assert count[0]["values"][0][1] == report["points"]["kubernetes_pod_container"] > 5
    assert orjson.loads(redis_db.get(keys.CYCLE_REPORT + "usage/dispatch"))["points"]["shards"] == 2


@pytest.mark.parametrize("sharded_worker", [GPU_SCENARIO], indirect=True)
def test_a_sharded_gpu_cycle_sent_through_the_broker_runs_one_task_per_shard(sharded_worker, redis_db, store):
    tasks.collect_gpu.delay()
    report = _report(redis_db, "gpu")
    assert report["ok"] and report["shards"] == {"count": 2, "failed": [], "skipped": []}, report
    assert orjson.loads(redis_db.get(keys.CYCLE_REPORT + "gpu/dispatch"))["points"]["shards"] == 2
    shard_points = [orjson.loads(redis_db.get(keys.CYCLE_REPORT + f"gpu/{label}"))["points"].get("gpu", 0)
                    for label in ("1of2", "2of2")]
    count = store.query('SELECT count("interval_seconds") FROM "gpu"')
    # Two DCGM nodes' GPUs and the Jetson's, each written once, in one shard or the other.
    assert count[0]["values"][0][1] == report["points"]["gpu"] == sum(shard_points) >= 3
    assert len(orjson.loads(redis_db.get(keys.GPU_LATEST))) == report["points"]["gpu"]
