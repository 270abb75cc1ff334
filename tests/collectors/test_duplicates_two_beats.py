"""Two ``celery beat`` processes started by mistake, firing every collection task twice, into one
real worker: 0 duplicate points, 0 double-charged core-hours (issue 14).

The simulator's clock is moved on 5 s every 5 s of wall time (a real clock, on the test's
terms); the beats send the usage and GPU tasks every 5 s and the inventory every 10 s, each
twice, to a solo worker reading the Redis broker, as production runs them. Afterwards:

- both beats sent every task (their logs), so the worker ran each cycle about twice per slot;
- no series of any cycle has two points closer than its schedule (a second run that stamped its
  points anew would leave a near-duplicate beside the first);
- no container point charges time or CPU an earlier point of its series covered;
- no namespace is charged more CPU than ``/sim/truth`` over the same kubelet samples.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from kubemon.timeseries.schema import CONTAINER, GPU, NODE, POD, source_identifier
from tests.faults.support import CPU_TOLERANCE, describe, double_charged, truth_errors

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db, pytest.mark.slow]
STEP = 5
SECONDS = 60


def _celery(args, env, log_path):
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "celery", "-A", "kubemon", *args], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)


def _spacings(store, measurement, field_name, tags):
    """The smallest spacing, in seconds, between two points of one series, per series."""
    group = ", ".join(f'"{tag}"' for tag in tags)
    series = store.query(f'SELECT "{field_name}" FROM {source_identifier(measurement)} GROUP BY {group}',  # noqa: S608
                         epoch="s")
    smallest = {}
    for item in series:
        times = sorted(row[0] for row in item["values"])
        if len(times) > 1:
            smallest[tuple(item["tags"].values())] = min(b - a for a, b in zip(times, times[1:], strict=False))
    return smallest


def test_two_beats_firing_every_task_twice_store_each_point_once_and_charge_no_hour_twice(
        make_simulator, store, redis_db, influxdb_server, tmp_path):
    simulator = make_simulator(seed=11, nodes=4, pods=26, gpu_nodes=1, jetson_nodes=1, step=STEP)
    simulator.advance(STEP)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", KUBEMON_TEST_INFLUXDB_URL=influxdb_server.url,
               INFLUXDB_DATABASE=settings.INFLUXDB_DATABASE, REDIS_URL=settings.REDIS_URL,
               KUBECONFIG=simulator.kubeconfig, COLLECT_USAGE_SECONDS=str(STEP), COLLECT_GPU_SECONDS=str(STEP),
               COLLECT_INVENTORY_SECONDS=str(2 * STEP), COLLECT_ROLLUP_SECONDS="0", COLLECT_TEMPERATURE_SECONDS="0",
               COLLECT_SPOOL_SECONDS="0", WARM_QUERY_CACHE_AT="", BILLING_DRAFT_AT="", COLLECT_USAGE_SHARDS="1")
    worker = _celery(["worker", "--pool", "solo", "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip",
                      "--without-mingle"], env, tmp_path / "worker.log")
    beats = [_celery(["beat", "--loglevel", "INFO", "--schedule", str(tmp_path / f"beat-{n}")], env,
                     tmp_path / f"beat-{n}.log") for n in (1, 2)]
    try:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            time.sleep(STEP)
            simulator.advance(STEP)
        for beat in beats:
            beat.terminate()
            beat.wait(20)
        time.sleep(2 * STEP)  # the worker finishes what the beats sent
    finally:
        for process in (*beats, worker):
            if process.poll() is None:
                process.terminate()
                process.wait(20)
    for n in (1, 2):
        log = (tmp_path / f"beat-{n}.log").read_text()
        for task in ("collect-usage", "collect-gpu", "collect-inventory"):
            assert log.count(f"Sending due task {task} ") >= SECONDS // (4 * STEP), (n, task, log[-2000:])

    containers = _spacings(store, CONTAINER, "interval_seconds", ("namespace", "pod_name", "container_name"))
    assert len(containers) >= 20, (tmp_path / "worker.log").read_text()[-3000:]
    assert min(containers.values()) >= STEP
    for measurement, field_name, tags, every in (
            (POD, "containers", ("namespace", "pod_name"), 2 * STEP),
            (NODE, "capacity_pods", ("node_name",), 2 * STEP),
            (GPU, "utilization_percent", ("uuid",), STEP)):
        spacings = _spacings(store, measurement, field_name, tags)
        assert spacings and min(spacings.values()) >= every, (measurement, sorted(spacings.items())[:5])
    assert double_charged(store) == []

    times = sorted({row[0] for item in store.query(f'SELECT "interval_seconds" FROM {source_identifier(CONTAINER)}',  # noqa: S608
                                                   epoch="s") for row in item["values"]})
    errors = truth_errors(simulator, store, times[1], times[-1])  # after each container's first (estimated) sample
    assert errors and all(cpu <= CPU_TOLERANCE for cpu, _ in errors.values()), describe(errors)
