"""A Celery worker SIGKILLed in the middle of a usage task neither double-counts nor loses an
interval (issue 15: "A worker killed mid-cycle double-counts").

The worst instant to die is after the cycle's points are in InfluxDB and before its sampling state
is saved in Redis: the state is then older than the points. This test kills a real worker there,
deterministically and with no test hook in production code:

- the worker reaches InfluxDB through a small HTTP proxy run by this test (``HoldingProxy``, tests/support/workers.py).
  Once armed, the proxy forwards the next write, waits for InfluxDB's answer (the points are
  stored), and then holds that answer back. The worker is left waiting in the cycle's last write
  (``StreamingWrite.close``), which comes after every point and before ``SamplingState.save``, so
  the test kills it exactly there with SIGKILL as soon as the proxy says the write is held.
  A cycle of this cluster (a few hundred lines, fewer than ``INFLUXDB_BATCH_LINES``) is a single
  write request, so the held write carries all of its points; the test checks that they are in
  InfluxDB, and that the cycle never reported. Nothing depends on timing: the worker waits as long
  as the answer is held (well under the client's 10 s timeout), and no delay has to be guessed.
- then, as in production: the broker keeps the unacknowledged message (``acks_late``); the
  kubelets sample again (the clock moves 15 s) before it is redelivered; the dead worker's lock
  lapses within its 5 s lease; a new worker starts and, the message having been invisible for
  longer than ``CELERY_VISIBILITY_TIMEOUT`` (3 s here), restores it on its first poll and runs the
  redelivered task. A few more cycles follow, sent through the broker.

Finally every namespace's CPU core-seconds and memory byte-seconds over the whole run are compared
with ``/sim/truth``. The window starts at the simulator's clock before the first sample (the first
sample of each container stands for the time since then) and ends at its last sample.

Without the in-doubt mark (before commit 6c42730), the redelivered run charged each series the
increase since the older state, so the killed cycle's 15 s were counted twice: +11.9 to +12.9 %
CPU and +12.5 to +12.7 % memory in every namespace (about 1/8: one cycle of the 8 in this run).
"""

import os
import signal
import time

import orjson
import pytest
from django.conf import settings

from collectors import tasks
from kubemon import keys
from tests.support.workers import Workers, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
VISIBILITY_TIMEOUT = 3
REPORT = keys.CYCLE_REPORT + "usage"


@pytest.fixture
def simulator(make_simulator):
    return make_simulator(seed=3, nodes=3, pods=20)


@pytest.fixture
def workers(simulator, proxy, redis_db, tmp_path):
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.settings",
        KUBEMON_TEST_INFLUXDB_URL=proxy.url,
        INFLUXDB_DATABASE=settings.INFLUXDB_DATABASE,
        REDIS_URL=settings.REDIS_URL,
        KUBECONFIG=simulator.kubeconfig,
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
    )
    env.pop("CELERY_BROKER_URL", None)  # the broker is the test's Redis database
    pool = Workers(env, tmp_path / "workers.log")
    yield pool
    pool.stop_all()


def _report(redis, workers, timeout=30):
    raw = wait_for(lambda: redis.get(REPORT), timeout,
                    what=lambda: f"a usage cycle report; worker log:\n{workers.log()}")
    return orjson.loads(raw)


def _cycle(simulator, redis, workers):
    """One usage cycle sent through the broker after the kubelets' next sample."""
    simulator.advance(15)
    redis.delete(REPORT)
    tasks.collect_usage.delay()
    report = _report(redis, workers)
    assert report["ok"] and not report["skipped"], report
    return report


def _per_namespace(store, field, start, end):
    series = store.query(
        f'SELECT sum("{field}") FROM "kubernetes_pod_container" WHERE time > $start AND time <= $end '
        'GROUP BY "namespace"', params={"start": start, "end": end})
    return {s["tags"]["namespace"]: s["values"][0][1] for s in series}


def _points_at(store, when):
    series = store.query('SELECT count("cpu_core_seconds") FROM "kubernetes_pod_container" WHERE time = $t',
                         params={"t": when})
    return series[0]["values"][0][1] if series else 0


def _kill_between_the_writes_and_the_state(simulator, store, redis, proxy, worker, workers):
    """Send a cycle, let its points reach InfluxDB, and SIGKILL the worker before it saves its state."""
    simulator.advance(15)
    sample_time = simulator.get("/sim/state")["now"]
    redis.delete(REPORT)
    proxy.arm()
    tasks.collect_usage.delay()
    assert proxy.held.wait(30), f"the usage task never wrote; worker log:\n{workers.log()}"
    written = _points_at(store, sample_time)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    proxy.release.set()
    assert written > 5, "the killed cycle's points should be in InfluxDB"
    assert redis.get(REPORT) is None, "the killed cycle must not have finished"
    # acks_late: the killed task's message is still in the broker, unacknowledged
    unacked = redis.zrange("unacked_index", 0, -1, withscores=True)
    assert len(unacked) == 1, unacked
    return unacked[0][1]  # when it was delivered (epoch seconds)


def test_a_worker_killed_mid_usage_task_neither_double_counts_nor_loses_an_interval(
        simulator, store, redis_db, proxy, workers):
    start = simulator.get("/sim/state")["now"]
    worker = workers.start()
    for _ in range(3):
        _cycle(simulator, redis_db, workers)

    delivered = _kill_between_the_writes_and_the_state(simulator, store, redis_db, proxy, worker, workers)
    simulator.advance(15)  # the kubelets sample again before the broker redelivers the task
    # The dead worker's lock lapses within its lease, and the message becomes visible again after
    # the visibility timeout: a worker started after both restores it on its first poll.
    wait_for(lambda: not redis_db.exists(keys.LOCK + "usage"), 15, what="the dead worker's lock to lapse")
    wait_for(lambda: time.time() > delivered + VISIBILITY_TIMEOUT + 0.5, 15, what="the visibility timeout")
    workers.start()
    redelivered = _report(redis_db, workers, timeout=40)  # nothing else was sent: this is the killed task
    assert redelivered["ok"] and not redelivered["skipped"], redelivered
    assert redis_db.zcard("unacked_index") == 0

    for _ in range(3):
        _cycle(simulator, redis_db, workers)
    end = simulator.get("/sim/state")["now"]

    truth = simulator.get("/sim/truth", start=start, end=end)["namespaces"]
    cpu = _per_namespace(store, "cpu_core_seconds", start, end)
    memory = _per_namespace(store, "memory_working_set_bytes_integral", start, end)
    errors = {}
    for namespace, expected in truth.items():
        if expected["cpu_core_seconds"] < 1:
            continue
        errors[namespace] = (cpu.get(namespace, 0.0) / expected["cpu_core_seconds"] - 1,
                             memory.get(namespace, 0.0) / expected["memory_byte_seconds"] - 1)
    assert len(errors) >= 3, truth
    summary = ", ".join(f"{ns}: CPU {c:+.3%} memory {m:+.3%}" for ns, (c, m) in sorted(errors.items()))
    assert all(abs(c) <= 0.001 and abs(m) <= 0.005 for c, m in errors.values()), summary
