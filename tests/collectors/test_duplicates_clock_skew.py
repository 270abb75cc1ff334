"""A node's clock 5 minutes ahead or behind: no sample dropped or double-counted (issue 14).

The simulator's ``--clock-skew node-01=±300`` puts that kubelet's every reported time (its
summary's sample and start times, the pod and container status times it writes) 5 minutes off the
cluster's. kubemon stamps a point with its source's own time, so that node's points land 5 minutes
off, and every interval is computed between two samples of the same kubelet. The test runs the
same simulated history twice, once without the skew (the reference) and once with it, and checks:

- every series of every node has the same points, CPU core-seconds and memory byte-seconds as in
  the reference: nothing dropped, nothing counted twice; the skewed node's only moved by the skew;
- no point charges time or CPU that a previous point of its series covered;
- each pod's CPU core-seconds match ``/sim/truth`` over the same window (on the skewed node's
  clock for its pods), and the inventory stored as many pod and node points.
"""

import time
from datetime import UTC, datetime

import pytest

from collectors import cycles
from kubemon.timeseries.schema import CONTAINER, POD, source_identifier
from tests.collectors.test_duplicates import _count, _store_on
from tests.faults.support import double_charged, sim_now

pytestmark = pytest.mark.django_db
SCENARIO = {"seed": 4, "nodes": 4, "pods": 30, "step": 5}
SKEWED = "node-01"
STEPS = 8


def _iso(epoch):
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _series(store):
    """``{(node, namespace, pod, container): (points, core-seconds, byte-seconds, first point's time)}``."""
    statements = [
        'SELECT count("cpu_core_seconds"), sum("cpu_core_seconds"), sum("memory_working_set_bytes_integral") '
        f'FROM {source_identifier(CONTAINER)} GROUP BY "node_name", "namespace", "pod_name", "container_name"',  # noqa: S608
        f'SELECT first("interval_seconds") FROM {source_identifier(CONTAINER)} '  # noqa: S608
        'GROUP BY "node_name", "namespace", "pod_name", "container_name"']
    sums, firsts = store.query_many(statements, epoch="s")

    def key(s):
        return s["tags"]["node_name"], s["tags"]["namespace"], s["tags"]["pod_name"], s["tags"]["container_name"]

    first = {key(s): s["values"][0][0] for s in firsts}
    return {key(s): (*s["values"][0][1:], first[key(s)]) for s in sums}


def _pod_cpu(store, node, start, end):
    found = store.query(
        f'SELECT sum("cpu_core_seconds") FROM {source_identifier(CONTAINER)} '  # noqa: S608
        'WHERE "node_name" = $node AND time > $start AND time <= $end GROUP BY "namespace", "pod_name"',
        params={"node": node, "start": start * 10**9, "end": end * 10**9})
    return {(s["tags"]["namespace"], s["tags"]["pod_name"]): s["values"][0][1] for s in found}


def _run(make_simulator, store, redis, start, **options):
    redis.flushdb()
    simulator = make_simulator(**SCENARIO, start=start, **options)
    kube = simulator.kube()
    for step in range(STEPS + 1):
        simulator.advance(15)
        assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis).ok
        if step % 2 == 0:
            assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis).ok
        if step == 0:  # the first sample of a container is an estimate: the window starts after it
            window_start = sim_now(simulator)
    return simulator, window_start, sim_now(simulator)


def test_a_node_five_minutes_ahead_or_behind_keeps_every_sample_once_and_its_core_hours_match_the_truth(
        make_simulator, store, redis_db, tmp_path):
    start = _iso(int(time.time()) // 60 * 60 - 2 * 3600)
    (tmp_path / "2").mkdir(exist_ok=True)  # the third simulator's kubeconfig
    reference = _store_on(store, "skew_reference")
    _run(make_simulator, reference, redis_db, start)
    expected = _series(reference)
    on_skewed = [key for key in expected if key[0] == SKEWED]
    assert len(on_skewed) >= 3, "the skewed node runs too few containers in this scenario"
    for skew in (300, -300):
        _check_skewed_run(make_simulator, store, redis_db, start, skew, reference, expected)


def _check_skewed_run(make_simulator, store, redis, start, skew, reference, expected):
    skewed_store = _store_on(store, "skew_skewed")
    simulator, window_start, window_end = _run(make_simulator, skewed_store, redis, start,
                                               clock_skew=f"{SKEWED}={skew}")
    got = _series(skewed_store)
    assert got.keys() == expected.keys(), skew
    for key, (points, cpu, memory, first) in expected.items():
        assert got[key][0] == points, (skew, key)  # no sample dropped, none stored twice
        assert got[key][1:3] == pytest.approx((cpu, memory), rel=1e-9), (skew, key)
        assert got[key][3] == first + (skew if key[0] == SKEWED else 0), (skew, key)  # on its kubelet's clock
    assert double_charged(skewed_store) == []
    for measurement, field_name in ((POD, "containers"), (CONTAINER, "interval_seconds")):
        assert _count(skewed_store, measurement, field_name) == _count(reference, measurement, field_name)

    # Each pod's CPU against the truth, its node's clock moved by the skew.
    truth = simulator.get("/sim/truth", start=_iso(window_start), end=_iso(window_end))["pods"]
    simulator.stop()
    checked = 0
    for node, shift in ((SKEWED, skew), ("node-02", 0)):
        charged = _pod_cpu(skewed_store, node, window_start + shift, window_end + shift)
        for pod in truth:
            if pod["node"] != node or pod["cpu_core_seconds"] < 1 or pod["state"] == "deleted":
                continue
            assert charged.get((pod["namespace"], pod["pod"]), 0.0) == pytest.approx(
                pod["cpu_core_seconds"], rel=0.001), (skew, node, pod["pod"])
            checked += node == SKEWED
    assert checked >= 2, skew
