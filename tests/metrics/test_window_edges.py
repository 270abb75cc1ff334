"""A sample stands for (t - interval, t]: a window takes only the part of it inside the window.

Against the simulated cluster and its /sim/truth: windows that cut samples in two, and hours
that begin on a sample, give each namespace exactly its own CPU-seconds and memory byte-seconds.
"""

from datetime import datetime, timedelta

import pytest

from billing.access import AccessScope
from collectors import cycles
from metrics.catalogue import METRICS
from metrics.engine import aggregate
from metrics.selection import Selection
from metrics.window import Window

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
EVERYTHING = Selection.for_scope(AccessScope.all_namespaces())


def _at(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def run(make_simulator, store, redis_db):
    simulator = make_simulator(seed=5, nodes=4, pods=30)
    kube = simulator.kube()
    start = _at(simulator.get("/sim/state")["now"])
    for step in range(60):  # 15 simulated minutes, a sample every 15 s
        simulator.advance(15)
        if step % 2 == 0:
            cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db)
        assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    return simulator, start


def _check(simulator, window):
    truth = simulator.get("/sim/truth", start=window.begin.isoformat().replace("+00:00", "Z"),
                          end=window.end.isoformat().replace("+00:00", "Z"))["namespaces"]
    cpu = aggregate(METRICS["cpu/usage_rate"], window, ("namespace",), EVERYTHING)
    memory = aggregate(METRICS["memory/working_set"], window, ("namespace",), EVERYTHING)
    checked = 0
    for namespace, expected in truth.items():
        if expected["cpu_core_seconds"] < 0.5:
            continue
        assert cpu[(namespace,)].integral == pytest.approx(expected["cpu_core_seconds"] * 1000, rel=0.001), namespace
        assert memory[(namespace,)].integral == pytest.approx(expected["memory_byte_seconds"], rel=0.001), namespace
        checked += 1
    assert checked >= 3


def test_windows_that_cut_samples_in_two_charge_only_the_part_inside(run):
    simulator, start = run
    cuts = [start, start + timedelta(seconds=100), start + timedelta(minutes=7, seconds=7),
            start + timedelta(minutes=15)]
    for begin, end in zip(cuts, cuts[1:], strict=False):
        _check(simulator, Window(begin, end))


def test_a_window_that_begins_on_a_sample_does_not_take_the_interval_before_it(run):
    simulator, start = run
    # Samples are at start + 15 s, + 30 s, ...: this window begins on one and ends on another.
    _check(simulator, Window(start + timedelta(minutes=5), start + timedelta(minutes=10)))
