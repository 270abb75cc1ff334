"""Redis restarted in the middle of a usage cycle (issue 14's fault suite).

The run has a ``redis-server`` of its own (tests/faults/support.py): kubemon's locks, sampling
state, sources' clock and spool live there. Halfway through a usage cycle (its first node's
points handed to the writers, the second node's summary being parsed) the server stops; the rest
of that beat (the cycle's writes, its state save, the GPU and inventory cycles) meets a Redis that
is gone. The server then starts again on the same port, and the beat goes on.

Three ways for Redis to come back:

- ``aof-clean``: a clean shutdown (SIGTERM) with the append-only file, as kubemon's deployments
  run Redis (deploy/compose.yaml, deploy/kubernetes): everything written before is back,
  including the dead cycle's in-doubt mark (collectors/sampling.py);
- ``aof-crash``: SIGKILL with the append-only file (``appendfsync everysec``: the process's
  writes are in the OS's page cache, so a process crash keeps them);
- ``empty``: no persistence, as ``make services`` runs Redis: it comes back empty, and the
  sampling state is rebuilt from InfluxDB's last points (collectors/staterebuild.py). Its
  simulated clock starts at the wall clock, as a real cluster's does: with Redis empty, the
  rebuild's look-back is taken from the wall clock.

Each asserts that the cycle fails cleanly (a report naming Redis, no exception), that the next
cycles resume, that no point charges an interval (or CPU) a previous point covered, and that
every namespace's CPU and memory are within 0.1 % and 0.5 % of ``/sim/truth``.
"""

import signal
import time
from datetime import UTC, datetime

import pytest
from django.test import override_settings

from collectors import usage
from kubemon import keys
from kubemon.redis import get_redis, reset_redis
from kubemon.timeseries import get_store, reset_store
from kubemon.timeseries.schema import CONTAINER, source_identifier
from tests.faults.support import (
    Beat,
    RedisServer,
    describe,
    double_charged,
    fixed_start,
    record,
    sim_now,
    truth_errors,
    within_truth,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
MODES = {"aof-clean": (True, signal.SIGTERM), "aof-crash": (True, signal.SIGKILL), "empty": (False, signal.SIGTERM)}


@pytest.fixture(params=list(MODES))
def own_redis(request, influxdb):
    appendonly, sig = MODES[request.param]
    server = RedisServer(appendonly=appendonly).start()
    with override_settings(REDIS_URL=server.url):
        reset_redis()
        reset_store()
        store = get_store()
        store.drop_database()
        store.ensure_database()
        # Small write batches, so the first node's points reach InfluxDB while the cycle still parses.
        store.batch_lines = 5
        yield request.param, sig, server, get_redis(), store
        reset_redis()
        reset_store()
    server.cleanup()


def _points_at(store, when):
    series = store.query(f'SELECT count("interval_seconds") FROM {source_identifier(CONTAINER)} '  # noqa: S608
                         "WHERE time = $t", params={"t": when * 10**9})
    return series[0]["values"][0][1] if series else 0


def test_redis_restarted_mid_cycle_fails_that_cycle_cleanly_and_charges_no_interval_twice(
        own_redis, make_simulator, monkeypatch):
    mode, sig, server, redis, store = own_redis
    options = {"seed": 5, "nodes": 3, "pods": 24, "start": fixed_start(hour=10)}
    if mode == "empty":
        options["start"] = datetime.fromtimestamp(int(time.time()) - 30, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    simulator = make_simulator(**options)
    beat = Beat(simulator, store, redis)
    began = sim_now(simulator)
    wall = time.perf_counter()
    assert all(r.ok for r in beat.steps(4))
    full = _points_at(store, beat.now)

    original, calls = usage.summary_points, []

    def stop_redis_on_the_second_node(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            time.sleep(0.5)  # the writers send the first node's batches meanwhile
            server.stop(sig)
        return original(*args, **kwargs)

    monkeypatch.setattr(usage, "summary_points", stop_redis_on_the_second_node)
    failed = beat.step()
    monkeypatch.setattr(usage, "summary_points", original)
    failed_at = beat.now
    assert not failed.ok and failed.failure == "redis", failed.as_dict()
    written = _points_at(store, failed_at)
    assert 0 < written < full, (written, full)

    server.start()
    restarted = time.perf_counter()
    if mode != "empty":
        assert redis.exists(keys.SAMPLING_IN_DOUBT + "usage"), "the dead cycle's in-doubt mark did not survive"
    # The beat's next usage cycle comes 15 s later; by then the dead cycle's lock has lapsed (5 s lease).
    deadline = time.monotonic() + 10
    while redis.exists(keys.LOCK + "usage") and time.monotonic() < deadline:
        time.sleep(0.1)
    lock_lapsed = time.perf_counter() - restarted
    resumed = beat.steps(4)
    assert all(r.ok and not r.skipped for r in resumed), [r.as_dict() for r in resumed if not r.ok]
    assert not redis.exists(keys.SAMPLING_IN_DOUBT + "usage")
    end = beat.now

    assert double_charged(store) == []
    errors = truth_errors(simulator, store, began, end)
    assert len(errors) >= 3 and within_truth(errors), describe(errors)
    record(f"redis_restart_{mode}", {
        "points_of_the_dead_cycle_written": f"{written} of {full}", "double_charged": 0,
        "lock_free_after_restart_s": round(lock_lapsed, 1),
        "worst_cpu": max(abs(c) for c, _ in errors.values()), "worst_memory": max(abs(m) for _, m in errors.values()),
        "run_wall_s": round(time.perf_counter() - wall, 1),
    })
