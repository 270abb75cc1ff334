"""A Celery worker SIGKILLed in the middle of a sharded usage task (issue 14's fault suite).

The production path: ``collect_usage`` sent through the Redis broker to a real worker (solo
pool, acks late, as collectors/tasks.py and the settings have it) with ``COLLECT_USAGE_SHARDS=2``:
the dispatch sends one task per shard. The worker reaches InfluxDB through the holding proxy of
tests/support/workers.py, which lets the first shard's write reach InfluxDB and then
holds the answer back: the worker is killed there, after that shard's points are stored and
before its sampling state is saved (the worst instant, see that module), while the other shard's
task still waits in the queue.

Then as in production: the kubelets sample again, the dead worker's lock lapses, the killed
task's message comes back after the visibility timeout (3 s here), and a new worker runs it and
the waiting shard; the cycle completes with both shards. A few more cycles follow.

Asserted: the killed task reran (the cycle's report has both shards, nothing left unacked); every
point of the cycles after it is there once (the stored points at each sample time are what the
reports say); no point charges an interval or CPU a previous point covered (0 duplicates); and
per namespace and hour the rollup holds exactly the raw sums, which are within 0.1 % CPU and 0.5 %
memory of ``/sim/truth`` (0 double-charged hours).
"""

import os
import signal
import time

import orjson
import pytest
from django.conf import settings

from collectors import cycles, tasks
from kubemon import keys
from kubemon.timeseries.schema import CONTAINER, HOURLY_POLICY, NAMESPACE_POLICY, source_identifier
from tests.faults.support import describe, double_charged, record, sim_now, truth_errors, within_truth
from tests.support.workers import Workers, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
VISIBILITY_TIMEOUT = 3
REPORT = keys.CYCLE_REPORT + "usage"


@pytest.fixture
def workers(make_simulator, proxy, redis_db, store, tmp_path):
    simulator = make_simulator(seed=3, nodes=4, pods=24)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", KUBEMON_TEST_INFLUXDB_URL=proxy.url,
               INFLUXDB_DATABASE=settings.INFLUXDB_DATABASE, REDIS_URL=settings.REDIS_URL,
               KUBECONFIG=simulator.kubeconfig, CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
               COLLECT_USAGE_SHARDS="2")
    env.pop("CELERY_BROKER_URL", None)  # the broker is the test's Redis database
    pool = Workers(env, tmp_path / "workers.log")
    pool.simulator = simulator
    yield pool
    pool.stop_all()


def _report(redis, workers, timeout=40):
    raw = wait_for(lambda: redis.get(REPORT), timeout, what=lambda: f"the usage cycle's report; log:\n{workers.log()}")
    return orjson.loads(raw)


def _cycle(simulator, redis, workers):
    simulator.advance(15)
    redis.delete(REPORT)
    tasks.collect_usage.delay()
    report = _report(redis, workers)
    assert report["ok"] and report["shards"] == {"count": 2, "failed": [], "skipped": []}, report
    return sim_now(simulator), report


def _points_at(store, when):
    series = store.query(f'SELECT count("interval_seconds") FROM {source_identifier(CONTAINER)} '  # noqa: S608
                         "WHERE time = $t", params={"t": when * 10**9})
    return series[0]["values"][0][1] if series else 0


def _hourly(store, policy, start, end):
    series = store.query(
        f'SELECT sum("cpu_core_seconds"), sum("memory_working_set_bytes_integral") '  # noqa: S608  (whitelisted)
        f"FROM {source_identifier(CONTAINER, policy)} WHERE time >= $start AND time < $end "
        'GROUP BY "namespace", time(1h) fill(none)', params={"start": start * 10**9, "end": end * 10**9}, epoch="s")
    return {(s["tags"]["namespace"], t): (cpu, memory) for s in series for t, cpu, memory in s["values"]}


def test_a_worker_killed_mid_shard_reruns_the_task_with_no_duplicate_point_and_no_double_charged_hour(
        workers, proxy, store, redis_db):
    simulator = workers.simulator
    began, wall = sim_now(simulator), time.perf_counter()
    worker = workers.start()
    sampled = [_cycle(simulator, redis_db, workers) for _ in range(3)]

    # Kill the worker once the first shard's points are stored, before its state is saved.
    simulator.advance(15)
    killed_at = sim_now(simulator)
    redis_db.delete(REPORT)
    proxy.arm()
    tasks.collect_usage.delay()
    assert proxy.held.wait(40), f"no shard wrote; worker log:\n{workers.log()}"
    killed_points = _points_at(store, killed_at)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    proxy.release.set()
    assert killed_points > 0 and redis_db.get(REPORT) is None
    unacked = redis_db.zrange("unacked_index", 0, -1, withscores=True)
    assert len(unacked) == 1, unacked  # the killed shard's message, kept by the broker (acks late)
    killed_shard = orjson.loads(redis_db.get(keys.USAGE_SHARDS))

    simulator.advance(15)  # the kubelets sample again before the broker redelivers the task
    rerun_at = sim_now(simulator)
    wait_for(lambda: not any(redis_db.exists(keys.LOCK + f"usage/{i}of2") for i in (1, 2)), 15,
              what="the dead worker's lock to lapse")
    wait_for(lambda: time.time() > unacked[0][1] + VISIBILITY_TIMEOUT + 0.5, 15, what="the visibility timeout")
    restarted = time.perf_counter()
    workers.start()
    rerun = _report(redis_db, workers)
    rerun_wall = time.perf_counter() - restarted
    assert rerun["ok"] and rerun["shards"] == {"count": 2, "failed": [], "skipped": []}, rerun
    assert orjson.loads(redis_db.get(keys.USAGE_SHARDS))["cycle"] == killed_shard["cycle"], "not the killed cycle"
    assert redis_db.zcard("unacked_index") == 0
    sampled.append((rerun_at, rerun))
    sampled += [_cycle(simulator, redis_db, workers) for _ in range(3)]
    end = sim_now(simulator)

    # 0 duplicate points: each cycle's points are stored once, and no point covers another's time.
    for when, report in sampled:
        assert _points_at(store, when) == report["points"][CONTAINER], (when, report["points"])
    assert double_charged(store) == []
    errors = truth_errors(simulator, store, began, end)
    assert len(errors) >= 3 and within_truth(errors), describe(errors)
    # 0 double-charged hours: the rollup's namespace-hours are the raw ones.
    cycles.run_rollup_cycle(store=store, redis=redis_db)
    start, stop = began - began % 3600, end - end % 3600 + 3600
    raw = _hourly(store, "raw", start, stop)
    for policy in (HOURLY_POLICY, NAMESPACE_POLICY):
        rolled = _hourly(store, policy, start, stop)
        assert set(rolled) == set(raw) and all(rolled[k] == pytest.approx(v, rel=1e-9) for k, v in raw.items()), policy
    record("worker_sigkill", {"shards": 2, "points_of_the_killed_shard_stored": killed_points,
                              "rerun_after_restart_s": round(rerun_wall, 1), "duplicate_points": 0,
                              "double_charged": 0, "namespace_hours": len(raw),
                              "worst_cpu": max(abs(c) for c, _ in errors.values()),
                              "worst_memory": max(abs(m) for _, m in errors.values()),
                              "run_wall_s": round(time.perf_counter() - wall, 1)})
