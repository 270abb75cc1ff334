"""Gaps in the sampling are charged up to a limit and reported as coverage, on any source clock."""

from datetime import datetime, timedelta

import pytest
from django.test import override_settings

from collectors import cycles
from collectors.sampling import SamplingState


def _state_after_cycles(every, cycles_seen=5, cap=300, nominal=15):
    """A state that saw one series at each of the last cycles, ``every`` source seconds apart."""
    state = SamplingState(cap_seconds=cap, nominal_seconds=nominal)
    for n in range(cycles_seen):
        state.advance("c/ns/pod/app", 1000 + n * every, start=0, counter=float(n))
        state.cycles.append(1000 + n * every)
    return SamplingState({**state.entries, "~cycles": state.cycles}, cap_seconds=cap, nominal_seconds=nominal)


def test_a_gap_up_to_the_limit_is_charged_from_the_sample_after_it_and_reported():
    state = _state_after_cycles(every=15)
    last = 1000 + 4 * 15
    sample = state.advance("c/ns/pod/app", last + 75, start=0, counter=10.0)
    assert (sample.interval, sample.gap, sample.unobserved) == (75, 60, 0)
    # The next sample is back to the usual spacing: no gap.
    assert state.advance("c/ns/pod/app", last + 90, start=0, counter=11.0).gap == 0


def test_time_beyond_the_gap_limit_is_not_charged_but_reported_as_unobserved():
    state = _state_after_cycles(every=15)
    sample = state.advance("c/ns/pod/app", 1000 + 4 * 15 + 400, start=0, counter=10.0)
    assert (sample.interval, sample.gap, sample.unobserved) == (300, 285, 100)
    assert sample.increment == 6.0  # the counter's increase is exact whatever the gap


def test_on_a_source_clock_sixty_times_faster_the_usual_spacing_is_no_gap():
    # 15 s of the collector's are 900 s of a simulated clock at --speed 60: the old cap (30 s)
    # charged 30 of every 900 seconds of memory and GPU time.
    state = _state_after_cycles(every=900)
    sample = state.advance("c/ns/pod/app", 1000 + 5 * 900, start=0, counter=10.0)
    assert (sample.interval, sample.gap, sample.unobserved) == (900, 0, 0)
    assert state.cap == 300 * 60


def test_a_rerun_over_the_sample_after_a_gap_reports_the_same_gap():
    state = _state_after_cycles(every=15)
    first = state.advance("c/ns/pod/app", 1000 + 4 * 15 + 75, start=0, counter=10.0)
    assert state.advance("c/ns/pod/app", 1000 + 4 * 15 + 75, start=0, counter=10.0) == first


def _iso(text, plus_seconds=0):
    return (datetime.fromisoformat(text) + timedelta(seconds=plus_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.slow
@pytest.mark.django_db
def test_a_sixty_second_gap_is_charged_and_the_api_reports_it_as_coverage(client, make_simulator, store, redis_db):
    simulator = make_simulator(seed=11, nodes=4, pods=30)
    kube = simulator.kube()
    simulator.advance(15)
    assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db).ok
    assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    start = simulator.get("/sim/state")["now"]
    for step in range(60):
        # The collector misses four beats in the middle: one sample 75 s after the one before.
        simulator.advance(75 if step == 30 else 15)
        if step % 2 == 0:
            assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db).ok
        assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    end = simulator.get("/sim/state")["now"]
    truth = simulator.get("/sim/truth", start=start, end=end)["namespaces"]
    body = {"agg": "all-namespace", "excludeNamespaces": [], "timeBeginInterval": _iso(start),
            "timeEndInterval": _iso(end, 1)}
    headers = {"HTTP_X_USERNAME": "billing", "HTTP_X_PASSWORD": "secret"}
    with override_settings(API_USERNAME="billing", API_PASSWORD="secret"):
        answers = {metric: {row["namespace_name"]: row for row in client.post(
            f"/api/{metric}", body, content_type="application/json", **headers).json()}
            for metric in ("coverage/gap_seconds", "coverage/charged_seconds", "coverage/unobserved_seconds",
                           "cpu/usage_rate", "memory/working_set")}
    checked = 0
    for namespace, expected in truth.items():
        if expected["cpu_core_seconds"] < 1:
            continue
        gap, charged = answers["coverage/gap_seconds"][namespace], answers["coverage/charged_seconds"][namespace]
        containers = round(charged["sum"] / (end_minus_start := (datetime.fromisoformat(end)
                                                                  - datetime.fromisoformat(start)).total_seconds()))
        assert containers >= 1
        # Each container that ran through it reports the gap's 60 s beyond the usual 15.
        assert gap["sum"] == pytest.approx(60 * containers, rel=0.35), namespace
        assert answers["coverage/unobserved_seconds"].get(namespace, {"sum": 0})["sum"] == 0
        assert charged["sum"] == pytest.approx(containers * end_minus_start, rel=0.35)
        assert answers["cpu/usage_rate"][namespace]["integral"] / 1000 == pytest.approx(
            expected["cpu_core_seconds"], rel=0.001)
        assert answers["memory/working_set"][namespace]["integral"] == pytest.approx(
            expected["memory_byte_seconds"], rel=0.005), namespace
        checked += 1
    assert checked >= 3
