"""A usage cycle killed (SIGKILL) at any phase leaves no double-counted and no lost interval.

Each test forks a child that runs one usage cycle and kills itself at a chosen point; the parent
then goes on collecting as the next Celery delivery would, and compares the namespaces'
CPU core-seconds and memory byte-seconds with the simulator's truth. The child patches the
cycle's own functions to find its phase, so production code has no test hook.
"""

import multiprocessing
import os
import signal
import time

import orjson
import pytest

from collectors import cycles, sampling, usage
from collectors.timeutil import epoch_seconds
from kubemon import keys

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
SCENARIO = {"seed": 5, "nodes": 3, "pods": 24}


def _die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_in_second_summary():
    """Midway: the first node's points are handed to the writer, the other nodes' are not."""
    original = usage.summary_points
    calls = []

    def patched(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            time.sleep(0.5)  # the writer threads send the first node's batches meanwhile
            _die()
        return original(*args, **kwargs)

    usage.summary_points = patched


def _kill_after_state_saved():
    original = sampling.SamplingState.save

    def patched(self, *args, **kwargs):
        original(self, *args, **kwargs)
        _die()

    sampling.SamplingState.save = patched


PHASES = {
    # after fetching: every summary is in, nothing is written
    "after_fetch": lambda: setattr(usage, "summary_points", _die),
    "midway_through_the_writes": _kill_in_second_summary,
    # after writing every point, before the state is saved
    "before_saving_state": lambda: setattr(sampling.SamplingState, "save", _die),
    "after_saving_state": _kill_after_state_saved,
}


def _child(kubeconfig, phase):
    from collectors.kube import KubeClient
    from kubemon.redis import get_redis
    from kubemon.timeseries import get_store, reset_store

    reset_store()
    get_redis().connection_pool.reset()
    store = get_store()
    store.batch_lines = 10  # small batches, so that a run killed midway has written some of them
    PHASES[phase]()
    cycles.run_usage_cycle(kube=KubeClient.from_config(kubeconfig, timeout=10), store=store, redis=get_redis())
    os._exit(0)  # not reached in a killing phase


def _killed_cycle(simulator, phase):
    process = multiprocessing.get_context("fork").Process(target=_child, args=(simulator.kubeconfig, phase))
    process.start()
    process.join(60)
    return process.exitcode


def _per_namespace(store, field, start, end):
    series = store.query(
        f'SELECT sum("{field}") FROM "kubernetes_pod_container" WHERE time > $start AND time <= $end '
        'GROUP BY "namespace"', params={"start": start, "end": end})
    return {s["tags"]["namespace"]: s["values"][0][1] for s in series}


@pytest.mark.parametrize("phase", PHASES)
def test_a_usage_cycle_killed_at_any_phase_neither_double_counts_nor_loses_time(
        phase, make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    kube = simulator.kube()
    start = simulator.get("/sim/state")["now"]
    for _ in range(3):
        simulator.advance(15)
        assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    simulator.advance(15)
    assert _killed_cycle(simulator, phase) == -signal.SIGKILL
    # The dead worker's lock lapses within its lease (tests/test_redis_lock.py); here it is let go at once.
    redis_db.delete(keys.LOCK + "usage")
    for _ in range(3):
        # Celery redelivers the task after the visibility timeout: the kubelets have a newer sample by then.
        simulator.advance(15)
        assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    end = simulator.get("/sim/state")["now"]
    # The running sums of the open hour may miss the killed run's points: readers read it raw.
    doc = orjson.loads(redis_db.get(keys.OPEN_HOUR + str(epoch_seconds(end) // 3600 * 3600)))
    if phase != "after_saving_state":
        assert doc["whole"] is False
    truth = simulator.get("/sim/truth", start=start, end=end)["namespaces"]
    cpu = _per_namespace(store, "cpu_core_seconds", start, end)
    memory = _per_namespace(store, "memory_working_set_bytes_integral", start, end)
    checked = 0
    for namespace, expected in truth.items():
        if expected["cpu_core_seconds"] < 1:
            continue
        assert cpu[namespace] == pytest.approx(expected["cpu_core_seconds"], rel=0.001), namespace
        assert memory[namespace] == pytest.approx(expected["memory_byte_seconds"], rel=0.005), namespace
        checked += 1
    assert checked >= 3
