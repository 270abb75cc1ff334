"""Containers that crash, restart or complete between two samples keep the CPU and time they used.

The kubelet reports only the current instance's counter; the pod's cgroup counter keeps counting
across restarts, and the pod's status says when the last instance finished.
"""

from datetime import UTC, datetime

import pytest

from collectors.podspec import ContainerSpec, PodInfo
from collectors.sampling import SamplingState
from collectors.usage import UsageResult, summary_points
from kubemon.timeseries.schema import CONTAINER

MIB = 1 << 20


def _iso(epoch):
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _container(name, time, start, cpu_seconds, working_set=100 * MIB):
    return {"name": name, "startTime": _iso(start),
            "cpu": {"time": _iso(time), "usageNanoCores": 500_000_000, "usageCoreNanoSeconds": int(cpu_seconds * 1e9)},
            "memory": {"time": _iso(time), "workingSetBytes": working_set}}


def _summary(time, pod_cpu_seconds, *containers, pod="worker"):
    pods = [] if pod_cpu_seconds is None else [{
        "podRef": {"namespace": "physics", "name": pod, "uid": "u1"}, "startTime": _iso(0),
        "containers": list(containers),
        "cpu": {"time": _iso(time), "usageNanoCores": 0, "usageCoreNanoSeconds": int(pod_cpu_seconds * 1e9)},
    }]
    return {"node": {"nodeName": "node-1", "cpu": {"time": _iso(time)}}, "pods": pods}


def _pods(finished=None, requests_millicpu=250, finished_from=None):
    spec = ContainerSpec(requests_millicpu=requests_millicpu, requests_memory=64 * MIB, finished=finished,
                         finished_from=finished_from)
    info = PodInfo("physics", "worker", "u1", "node-1", "Running", "running", "", "ReplicaSet", "worker", _iso(0),
                   {"app": spec})
    return {("physics", "worker"): info}


def _points(summary, state, pods):
    result = UsageResult()
    summary_points(summary, pods, state, result, list(pods.values()))
    return [p for p in result.points if p.measurement == CONTAINER]


@pytest.fixture
def state():
    """A state that saw the container at t=1000 with 10 CPU-seconds (its pod's counter too)."""
    state = SamplingState(cap_seconds=30, nominal_seconds=15)
    _points(_summary(985, 2.5, _container("app", 985, 0, 2.5)), state, _pods())
    _points(_summary(1000, 10.0, _container("app", 1000, 0, 10.0)), state, _pods())
    return state


def test_a_container_that_crashed_and_restarted_between_samples_keeps_its_cpu(state):
    # It used 2 s more until it crashed at 1005, restarted at 1010 and used 1.5 s by 1015.
    later = _summary(1015, 13.5, _container("app", 1015, 1010, 1.5))
    (point,) = _points(later, state, _pods(finished=1005))
    assert point.fields["cpu_core_seconds"] == pytest.approx(3.5)
    # It ran 1000-1005 and 1010-1015: the back-off in between ran nothing.
    assert point.fields["interval_seconds"] == 10
    assert point.fields["memory_working_set_bytes_integral"] == 100 * MIB * 10
    assert point.fields["cpu_allocated_core_seconds"] == pytest.approx(3.5)


def test_a_rerun_over_the_same_samples_writes_the_same_points(state):
    later = _summary(1015, 13.5, _container("app", 1015, 1010, 1.5))
    first = _points(later, state, _pods(finished=1005))
    again = _points(later, state, _pods(finished=1005))
    assert [p.fields for p in again] == [p.fields for p in first]


def test_a_container_in_its_back_off_gets_a_closing_point_with_what_only_its_pod_counted(state):
    # Crashed at 1005 after 2 s more; still in its back-off at the 1015 sample.
    (closing,) = _points(_summary(1015, 12.0), state, _pods(finished=1005))
    assert closing.fields["cpu_core_seconds"] == pytest.approx(2.0)
    assert closing.fields["interval_seconds"] == 5
    assert closing.fields["memory_working_set_bytes_integral"] == 100 * MIB * 5
    assert closing.fields["resource_requests_millicpu_units_integral"] == 250 * 5
    assert "memory_working_set_bytes" not in closing.fields  # no gauge: means and counts stay as they were
    # Nothing more at the next sample of the back-off, and the next instance starts from its own start.
    assert _points(_summary(1030, 12.0), state, _pods(finished=1005)) == []
    (restarted,) = _points(_summary(1045, 13.0, _container("app", 1045, 1040, 1.0)), state, _pods(finished=1005))
    assert (restarted.fields["cpu_core_seconds"], restarted.fields["interval_seconds"]) == (pytest.approx(1.0), 5)


def test_an_instance_that_started_and_crashed_unseen_adds_no_time_to_the_next_one(state):
    # Crashed at 1000 (closed at 1015), then an instance ran 1100-1110 between samples and crashed,
    # then the next one started at 1395: the pod status names only the unseen one's end.
    assert _points(_summary(1015, 10.0), state, _pods(finished=1000, finished_from=0))
    later = _summary(1400, 11.5, _container("app", 1400, 1395, 0.5))
    (point,) = _points(later, state, _pods(finished=1110, finished_from=1100))
    assert point.fields["interval_seconds"] == 5  # not the 95 s from the closed sample to 1110
    assert point.fields["cpu_core_seconds"] == pytest.approx(1.5)  # the unseen run's CPU, from the pod's counter


def test_an_instance_that_ran_unseen_during_a_back_off_is_charged_to_the_next_one(state):
    assert _points(_summary(1015, 10.0), state, _pods(finished=1000))  # crashed at 1000: closed
    # An instance ran 1100-1110 (1.5 s of CPU) between the samples of 1105 and 1120... unseen.
    assert _points(_summary(1120, 11.5), state, _pods(finished=1110, finished_from=1100)) == []
    (point,) = _points(_summary(1135, 12.0, _container("app", 1135, 1130, 0.5)), state,
                       _pods(finished=1110, finished_from=1100))
    assert point.fields["cpu_core_seconds"] == pytest.approx(2.0)


def test_a_pod_whose_job_completed_between_samples_is_charged_up_to_its_finish(state):
    # The kubelet no longer reports the pod; the API says its container finished at 1006.
    (closing,) = _points(_summary(1015, None), state, _pods(finished=1006))
    assert closing.fields["interval_seconds"] == 6
    # Its CPU in those 6 s is estimated from the last interval's mean rate: 7.5 s in 15 s.
    assert closing.fields["cpu_core_seconds"] == pytest.approx(0.5 * 6)
    assert _points(_summary(1030, None), state, _pods(finished=1006)) == []


def test_a_pod_without_a_restart_charges_only_its_containers_counters(state):
    # The pod's counter is a little ahead (the pause container): that is not the container's.
    (point,) = _points(_summary(1015, 17.6, _container("app", 1015, 0, 17.5)), state, _pods())
    assert point.fields["cpu_core_seconds"] == pytest.approx(7.5)


@pytest.mark.slow
@pytest.mark.django_db
def test_crash_loops_and_jobs_between_samples_are_charged_as_the_simulator_counted(make_simulator, store, redis_db):
    """Half an hour at a 5 s simulation step, sampled every 15 s: crash loops restart and jobs
    end between samples. The code before the pod counter and closing points lost 0.6-0.8 % of
    the CPU of the namespaces with crash loops and jobs."""
    from collectors import cycles

    simulator = make_simulator(seed=4, nodes=4, pods=60, step=5)
    kube = simulator.kube()
    simulator.advance(15)
    assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db).ok
    assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    # From here on, every running container has a previous sample (the first ones stand for the time
    # since their start, which may lie before the window).
    start = simulator.get("/sim/state")["now"]
    for step in range(1, 121):
        simulator.advance(15)
        if step % 2 == 0:
            assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db).ok
        assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    end = simulator.get("/sim/state")["now"]
    truth = simulator.get("/sim/truth", start=start, end=end)["namespaces"]
    sums = store.query(
        'SELECT sum("cpu_core_seconds"), sum("memory_working_set_bytes_integral") FROM "kubernetes_pod_container" '
        'WHERE time > $start AND time <= $end GROUP BY "namespace"', params={"start": start, "end": end})
    charged = {s["tags"]["namespace"]: s["values"][0][1:] for s in sums}
    for namespace, expected in truth.items():
        if expected["cpu_core_seconds"] < 1:
            continue
        cpu, memory = charged[namespace]
        # What is left is the estimate of a job's last seconds after its last sample (docs/architecture.md).
        assert cpu == pytest.approx(expected["cpu_core_seconds"], rel=0.0025), namespace
        assert memory == pytest.approx(expected["memory_byte_seconds"], rel=0.005), namespace
