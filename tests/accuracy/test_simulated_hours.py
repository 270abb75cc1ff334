"""Issue 15's "Done when", short: simulated hours with churn and crash loops at a 15 s cadence.

One run (tests/support/accuracy.py) of two simulated hours on a small cluster with a 5 s
simulator step, so crash loops, restarts and job ends fall between the samples, and a 60 s gap
(no cycle at all) 90 minutes in: the first hour is outside the gap, the second holds it. Every
figure is read as ``POST /api/<metric>`` with ``agg=all-namespace`` reads it, once from raw data
and once from the hourly rollup, and compared with ``/sim/truth``. The six-hour version is
``bench/bench_accuracy.py`` (docs/reliability.md).
"""

import pytest

from tests.support import accuracy
from tests.support.simulator import Simulator

pytestmark = pytest.mark.slow
SAMPLED_GAUGE_TOLERANCE = 0.02
SCENARIO = accuracy.Scenario(hours=2, seed=7, nodes=5, pods=40, gpu_nodes=1, jetson_nodes=1, step=5, gap_at=90)


@pytest.fixture(scope="module")
def run(influxdb, tmp_path_factory):
    """The run's results (collected once for the module's tests)."""
    from kubemon.redis import get_redis
    from kubemon.timeseries import get_store, reset_store

    redis = get_redis()
    redis.flushdb()
    reset_store()
    store = get_store()
    store.drop_database()
    store.ensure_database()
    simulators = []

    def start_simulator(**options):
        simulators.append(Simulator(tmp_path_factory.mktemp("simulator"), **options))  # our --start wins
        return simulators[-1]

    try:
        result, _ = accuracy.run(SCENARIO, start_simulator, store, redis)
        yield result
    finally:
        for simulator in simulators:
            simulator.stop()
        redis.flushdb()
        reset_store()


def _outside_gap(result):
    times = accuracy.Times(**result["times"])
    hours = {accuracy.iso(h) for h in times.hours()} - {accuracy.iso(h) for h in times.gap_hours()}
    assert hours, "the scenario leaves no hour outside the gap"
    return hours


def _over(rows, tolerance):
    return [f"{r['group']} {r['where']}: {r['rel'] * 100:+.4f} %" for r in rows if accuracy.bad(r, tolerance)]


def test_every_cycle_ran_and_the_rollup_answers_the_whole_window(run):
    assert run["failure_count"] == 0, run["failures"]
    assert run["timings"]["skipped_for_gap"] == accuracy.GAP_SECONDS // accuracy.CADENCE - 1
    assert run["rollup_share"] == {name: 1.0 for name in accuracy.RESOURCES}
    assert run["late_hours_pending"] == []
    checked = run["hourly"]["raw"]["cpu"]
    assert len({r["group"] for r in checked}) >= 5
    assert any(r["group"] for r in run["pods"]["cpu"] if "worker-broken" in r["group"]), "no crash loop"


def test_the_rollup_gives_the_same_numbers_as_raw_data(run):
    for name in accuracy.RESOURCES:
        raw = {(r["group"], r["where"]): r["measured"] for r in run["hourly"]["raw"][name]}
        rolled = {(r["group"], r["where"]): r["measured"] for r in run["hourly"]["rollup"][name]}
        assert rolled.keys() == raw.keys(), name
        for key, value in raw.items():
            assert rolled[key] == pytest.approx(value, rel=1e-9), (name, key)


@pytest.mark.parametrize("source", list(accuracy.SOURCES))
@pytest.mark.parametrize("resource", list(accuracy.RESOURCES))
def test_every_namespace_hour_outside_the_gap_is_within_tolerance(run, resource, source):
    """CPU within 0.1 % of the truth, memory and GPU-hours within 0.5 %, for every namespace and
    hour outside the gap's hour; the hours are ``[h, h+1h)``, so this is also the window's total
    outside the gap.

    GPU *utilisation* (``gpu_used``) is a gauge sampled at every third simulator step, with
    nothing cumulative on the DCGM or Jetson page to make it exact: an hour of it carries a
    sampling error of up to about 1.5 % per namespace (bench/bench_accuracy.py), so it is held to
    ``SAMPLED_GAUGE_TOLERANCE`` here, which still catches a GPU charged to no one or twice.
    """
    tolerance = SAMPLED_GAUGE_TOLERANCE if resource == "gpu_used" else accuracy.RESOURCES[resource].tolerance
    rows = accuracy.hourly_rows(run, source, resource, _outside_gap(run))
    assert rows
    assert _over(rows, tolerance) == [], "\n" + accuracy.table(run)


def test_the_gap_is_reported_as_coverage_and_what_is_charged_stays_in_bounds(run):
    """The API's ``coverage/*`` metrics (docs/api.md, "Coverage") report gap or unobserved time in
    the gap's hour and none in any other hour; in the gap's hour a namespace is charged no more
    than the truth and at least the share of it that was seen at the usual spacing (each within
    the resource's tolerance)."""
    if not run["coverage_in_api"]:
        # GUARD: the coverage/* metrics are being added to the API (issue 15). Until then this test
        # cannot check the gap; remove this guard once they exist.
        pytest.xfail("the API has no coverage/* metrics yet (issue 15)")
    times = accuracy.Times(**run["times"])
    gap_hours = {accuracy.iso(h) for h in times.gap_hours()}
    for source in accuracy.SOURCES:
        for hour in {accuracy.iso(h) for h in times.hours()}:
            counts = run["coverage"][source][hour]
            missed = {ns: c["gap"] + c["unobserved"] for ns, c in counts.items()}
            if hour in gap_hours:
                assert sum(missed.values()) > 0, (source, hour, counts)
            else:
                assert missed == dict.fromkeys(counts, 0.0), (source, hour, counts)
        for name, resource in accuracy.RESOURCES.items():
            for row in run["hourly"][source][name]:
                if row["where"] not in gap_hours:
                    continue
                share = accuracy.observed_share(run["coverage"][source][row["where"]].get(
                    row["group"], dict.fromkeys(accuracy.COVERAGE, 0.0)))
                low = row["truth"] * share * (1 - resource.tolerance)
                assert low <= row["measured"] <= row["truth"] * (1 + resource.tolerance), (source, name, row, share)
