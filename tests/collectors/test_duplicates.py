"""Every collector run twice for the same slot, and two beats firing the same tasks: 0 duplicate
points, 0 double-charged core-hours (issue 14).

Celery is at-least-once, an operator may run ``manage.py collect --once`` beside the workers, and
a second ``celery beat`` started by mistake fires every task twice. Each cycle must then rewrite
the very points of the first run (same series, same timestamp: InfluxDB keeps one) and charge no
interval twice. These tests run the cycles in-process on the simulator's manual clock, with every
run doubled within its slot, and check three things against what a single run stores:

- the points stored per cycle and measurement are exactly those one run of each reported (a
  second run that stamped its points a moment later would add near-duplicates and show here);
- no container point charges time or CPU that a previous point of its series covered
  (``tests.faults.support.double_charged``);
- every namespace's CPU core-seconds and memory byte-seconds, raw and rolled up, and its GPU-hours,
  are within the accuracy bounds of ``/sim/truth``; and the rollup, run twice, sums exactly the raw.
"""

import time

import pytest

from collectors import cycles
from collectors.temperature import QUEUE_KEY
from kubemon.timeseries.schema import CONTAINER, GPU, HOURLY_POLICY, NODE, POD, TEMPERATURE, source_identifier
from tests.faults.support import describe, double_charged, per_namespace, sim_now, truth_errors

pytestmark = pytest.mark.django_db
SCENARIO = {"seed": 11, "nodes": 4, "pods": 26, "gpu_nodes": 1, "jetson_nodes": 1, "step": 5}
STEPS = 8  # two simulated minutes at the beat's 15 s


def _count(store, measurement, field_name, policy="raw"):
    series = store.query(f'SELECT count("{field_name}") FROM {source_identifier(measurement, policy)}')  # noqa: S608
    return series[0]["values"][0][1] if series else 0


def _stored(store):
    return {"usage": _count(store, CONTAINER, "cpu_core_seconds"),
            "usage_nodes": _count(store, NODE, "interval_seconds"),
            "inventory_pods": _count(store, POD, "containers"),
            "inventory_nodes": _count(store, NODE, "capacity_pods"),
            "gpu": _count(store, GPU, "utilization_percent"),
            "temperature": _count(store, TEMPERATURE, "celsius")}


class _Reported:
    """What the first run of each cycle in each slot said it wrote: what a single beat stores."""

    def __init__(self):
        self.counts = dict.fromkeys(("usage", "usage_nodes", "inventory_pods", "inventory_nodes", "gpu"), 0)

    def add(self, name, report):
        assert report.ok and not report.skipped, report.as_dict()
        points = report.points
        if name == "usage":
            self.counts["usage"] += points.get(CONTAINER, 0)
            self.counts["usage_nodes"] += points.get(NODE, 0)
        elif name == "inventory":
            self.counts["inventory_pods"] += points.get(POD, 0)
            self.counts["inventory_nodes"] += points.get(NODE, 0)
        elif name == "gpu":
            self.counts["gpu"] += points.get(GPU, 0)


def _run_doubled(simulator, store, redis, order):
    """``STEPS`` beats of 15 s; in each, the cycles due run in ``order(due, step)``, which names every
    cycle twice. Returns the first runs' reported counts and the window ``(start, end)``."""
    kube = simulator.kube()
    run = {"usage": cycles.run_usage_cycle, "gpu": cycles.run_gpu_cycle, "inventory": cycles.run_inventory_cycle}
    reported = _Reported()
    # A warm-up beat: a container's first sample ever is an estimate (one nominal period), so the
    # window compared with the truth starts at it.
    simulator.advance(15)
    for name in ("usage", "gpu", "inventory"):
        reported.add(name, run[name](kube=kube, store=store, redis=redis))
    start = sim_now(simulator)
    for step in range(1, STEPS + 1):
        simulator.advance(15)
        due = ["usage", "gpu"] + (["inventory"] if step % 2 == 0 else [])
        seen = set()
        for name in order(due, step):
            report = run[name](kube=kube, store=store, redis=redis)
            if name not in seen:
                reported.add(name, report)
                seen.add(name)
            else:
                assert report.ok, report.as_dict()
    return reported.counts, start, sim_now(simulator)


def _sums(store):
    """Every namespace's resource-time over the whole run, raw and rolled up, and the GPU's."""
    everything = (0, 2**62)
    sums = {}
    for field_name in ("cpu_core_seconds", "memory_working_set_bytes_integral", "resource_requests_gpu_integral"):
        sums[field_name] = per_namespace(store, field_name, *everything)
        sums["hourly " + field_name] = per_namespace(store, field_name, *everything, policy=HOURLY_POLICY)
    series = store.query(f'SELECT sum("utilization_percent_integral") FROM {source_identifier(GPU)} '  # noqa: S608
                         'GROUP BY "namespace"')
    sums["gpu utilization_percent_integral"] = {s["tags"]["namespace"]: s["values"][0][1] for s in series}
    return sums


def _store_on(store, database):
    from kubemon.timeseries import TimeseriesStore
    from kubemon.timeseries.client import InfluxClient

    client = InfluxClient(store.url, database)
    client.drop_database()
    client.ensure_database()
    return TimeseriesStore(client, spool=store.spool, backlog=store.backlog, dead_letters=store.dead_letters)


def _one_run(make_simulator, store, redis, order, start):
    redis.flushdb()
    simulator = make_simulator(**SCENARIO, start=start)  # the same history to the nanosecond
    reported, start, end = _run_doubled(simulator, store, redis, order)
    # The rollup, run twice for the same slot (a second beat's, or a redelivery).
    for _ in range(2):
        assert cycles.run_rollup_cycle(store=store, redis=redis).ok
    assert double_charged(store) == []  # no point covers time or CPU an earlier one of its series did
    errors = truth_errors(simulator, store, start, end)
    simulator.stop()
    return reported, _stored(store), _sums(store), errors


def test_every_cycle_run_twice_for_the_same_slot_or_by_two_beats_stores_each_point_once_and_charges_no_hour_twice(
        make_simulator, store, redis_db):
    """Two runs of one simulated history: each cycle once (the reference), and each twice, in a row
    in odd beats and as two beats a moment apart in even ones (the second beat's usage lands
    after the first's GPU and inventory runs, its inventory before its GPU)."""
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(int(time.time()) // 60 * 60 - 2 * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    runs = {}
    for name, database, order in (
            ("once", "dup_once", lambda due, step: due),
            ("twice", "dup_twice", lambda due, step: [cycle for cycle in due for _ in range(2)] if step % 2
             else due + list(reversed(due)))):
        runs[name] = _one_run(make_simulator, _store_on(store, database), redis_db, order, start)
    reported, stored, sums, errors = runs["once"]
    assert reported == {k: stored[k] for k in reported}
    assert reported["usage"] > 100 and reported["inventory_pods"] > 100 and reported["gpu"] > 0
    assert sum(sums["cpu_core_seconds"].values()) > 0 and sums["hourly cpu_core_seconds"]
    assert sums["resource_requests_gpu_integral"] and sums["gpu utilization_percent_integral"]
    # The rollup sums exactly the raw points.
    for field_name in ("cpu_core_seconds", "memory_working_set_bytes_integral"):
        assert sums["hourly " + field_name] == pytest.approx(sums[field_name], rel=1e-9)
    # Outside the pods a rolling update deleted (their last seconds are unobservable, docs/reliability.md)
    # CPU is the truth's.
    assert sum(abs(cpu) <= 0.001 for cpu, _ in errors.values()) >= 3, describe(errors)
    got_reported, got_stored, got_sums, got_errors = runs["twice"]
    assert got_stored == stored  # 0 duplicate points
    assert got_reported == reported
    for key, per_namespace_sums in sums.items():  # 0 double-charged core-hours
        assert got_sums[key] == pytest.approx(per_namespace_sums, rel=1e-9), key
    assert got_errors.keys() == errors.keys()
    for namespace, (cpu, memory) in errors.items():
        assert got_errors[namespace] == pytest.approx((cpu, memory), abs=1e-12), namespace


def test_a_temperature_flush_rerun_after_its_write_stores_each_reading_once(store, redis_db):
    """The flush removes lines only after InfluxDB took them; a flush that died in between (or a
    second beat's flush) writes them again: the same lines, the same points."""
    stamp = int(time.time()) - 600
    lines = [f"{TEMPERATURE},node_name=rpi-{n},sensor=cpu,source=push celsius={40 + n}.5 {stamp + n}"
             for n in range(5)]
    redis_db.rpush(QUEUE_KEY, *lines)
    assert cycles.run_temperature_flush(store=store, redis=redis_db).points == {TEMPERATURE: 5}
    redis_db.rpush(QUEUE_KEY, *lines)  # as if the first flush had died before trimming the queue
    assert cycles.run_temperature_flush(store=store, redis=redis_db).points == {TEMPERATURE: 5}
    assert cycles.run_temperature_flush(store=store, redis=redis_db).points == {TEMPERATURE: 0}
    assert _stored(store)["temperature"] == 5
    total = store.query(f'SELECT sum("celsius") FROM {source_identifier(TEMPERATURE)}')  # noqa: S608
    assert total[0]["values"][0][1] == pytest.approx(sum(40.5 + n for n in range(5)))

