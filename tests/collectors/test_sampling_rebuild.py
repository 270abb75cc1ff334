"""A Redis restarted empty loses no CPU: the sampling state is rebuilt from InfluxDB's last points."""

import pytest

from collectors import cycles
from kubemon import keys

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
SCENARIO = {"seed": 7, "nodes": 5, "pods": 40, "gpu_nodes": 1, "jetson_nodes": 1}


def _usage_steps(simulator, kube, store, redis, steps):
    for _ in range(steps):
        simulator.advance(15)
        assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis).ok


def _cpu_per_namespace(store, start, end):
    series = store.query(
        'SELECT sum("cpu_core_seconds") FROM "kubernetes_pod_container" WHERE time > $start AND time <= $end '
        'GROUP BY "namespace"', params={"start": start, "end": end})
    return {s["tags"]["namespace"]: s["values"][0][1] for s in series if s["tags"]["namespace"]}


def test_a_redis_restarted_empty_loses_no_cpu(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    kube = simulator.kube()
    simulator.advance(15)
    assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok  # the first sight of every series
    start = simulator.get("/sim/state")["now"]
    _usage_steps(simulator, kube, store, redis_db, 3)
    # Redis restarts: the cycle of the step while it is down fails (none is run here), and Redis
    # comes back without any cycle's sampling state (the source time and the rest are kept).
    simulator.advance(15)
    redis_db.delete(keys.SAMPLING_STATE + "usage", keys.SAMPLING_STATE + "gpu")
    _usage_steps(simulator, kube, store, redis_db, 2)
    end = simulator.get("/sim/state")["now"]
    truth = simulator.get("/sim/truth", start=start, end=end)["namespaces"]
    cpu = _cpu_per_namespace(store, start, end)
    charged = {ns: cpu.get(ns, 0.0) / expected["cpu_core_seconds"] - 1 for ns, expected in truth.items()
               if expected["cpu_core_seconds"] >= 1}
    assert len(charged) >= 5
    # Before the state was rebuilt from InfluxDB, the step Redis was down for went uncharged: about -16.7 %.
    assert all(abs(error) < 0.001 for error in charged.values()), charged
