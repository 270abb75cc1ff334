"""Late data is never dropped from long windows: hours written after their rollup are re-rolled.

Reproduction from the outside tester: an hour of points for a new pod lands 4 hours back, after
the rollup has summed that hour; a 2-hour window ending after it must count the pod exactly as a
window read from raw data does, whether the points came from the spool's replay after an outage
(which knows which hours it wrote) or from another writer (found by the rollup's audit).
"""

from datetime import timedelta

import pytest
from django.test import override_settings

from billing.access import AccessScope
from collectors.cycles import run_rollup_cycle
from collectors.rollup import rollup_window
from kubemon.timeseries import get_store
from kubemon.timeseries.client import InfluxClient
from kubemon.timeseries.spool import RedisSpool
from kubemon.timeseries.store import TimeseriesStore
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate
from metrics.window import Window
from tests.support.base import BaseTestCase, container_series, hours_ago, uses_store, write

CPU = METRICS["cpu/usage_rate"]
EVERYTHING = Selection.for_scope(AccessScope.all_namespaces())


def _cpu_by_pod(window, use_rollup=True):
    result = aggregate(CPU, window, ("namespace", "pod_name"), EVERYTHING, use_rollup=use_rollup)
    return {key: round(a.integral, 6) for key, a in result.items()}


@uses_store
class LateDataTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(6)
        write(container_series("alpha-dev", "web-1", "app", self.start, 6 * 240, cpu=200.0))
        rollup_window(self.start, self.start + timedelta(hours=6))
        self.late_hour = hours_ago(4)
        self.late = container_series("beta-web", "late-1", "app", self.late_hour, 240, cpu=300.0)
        # [h-5, h-3): two whole hours the rollup has finished, one of them late.
        self.window = Window(hours_ago(5), hours_ago(3))

    def assert_the_late_pod_counts_fully(self):
        fast = _cpu_by_pod(self.window)
        raw = _cpu_by_pod(self.window, use_rollup=False)
        self.assertEqual(fast, raw)
        # 300 millicores for one hour, in millicore-seconds
        self.assertAlmostEqual(fast[("beta-web", "late-1")], 300.0 * 3600, delta=1e-6)
        whole = _cpu_by_pod(Window(hours_ago(5), hours_ago(0)))
        self.assertAlmostEqual(whole[("beta-web", "late-1")], 300.0 * 3600, delta=1e-6)

    def test_points_another_writer_adds_to_a_rolled_up_hour_are_found_by_the_audit_and_re_rolled(self):
        write(self.late)
        run_rollup_cycle()  # the first run of a worker audits; later ones every ROLLUP_AUDIT_SECONDS
        self.assert_the_late_pod_counts_fully()

    def test_a_window_never_reads_an_hour_the_rollup_has_not_finished(self):
        # Replayed points mark their hours; until the rollup re-rolls them they are read raw.
        store = get_store()
        store.backlog.mark_lines(store.serialize(self.late), "s")
        write(self.late)
        self.assert_the_late_pod_counts_fully()

    @override_settings(ROLLUP_AUDIT_SECONDS=0)
    def test_points_replayed_from_the_spool_are_re_rolled_with_no_audit(self):
        store = get_store()
        spool = RedisSpool(store.backlog.redis, "kubemon:test:late-spool")
        down = TimeseriesStore(InfluxClient("http://127.0.0.1:9", store.database, timeout=1), spool=spool,
                               retries=0, backlog=store.backlog)
        report = down.write(self.late)
        self.assertEqual(report.spooled, len(self.late))
        up = TimeseriesStore(store.client, spool=spool, backlog=store.backlog)
        self.assertEqual(up.replay(), len(self.late))
        self.assertEqual(store.backlog.pending(), [self.late_hour])
        run_rollup_cycle()
        self.assertEqual(store.backlog.pending(), [])
        self.assert_the_late_pod_counts_fully()


@pytest.mark.django_db
def test_the_day_cache_forgets_a_day_whose_hours_are_re_rolled(store):
    day_start = hours_ago(24).replace(hour=0)  # yesterday: final for the day cache, inside the audit
    write(container_series("alpha-dev", "web-1", "app", day_start, 24 * 240, cpu=100.0))
    rollup_window(day_start, day_start + timedelta(days=1))
    window = Window(day_start, day_start + timedelta(days=1))
    before = _cpu_by_pod(window)  # fills the day cache
    write(container_series("beta-web", "late-1", "app", day_start + timedelta(hours=5), 240, cpu=300.0))
    run_rollup_cycle()
    after = _cpu_by_pod(window)
    assert ("beta-web", "late-1") not in before
    assert after[("beta-web", "late-1")] == pytest.approx(300.0 * 3600)
    assert after == _cpu_by_pod(window, use_rollup=False)


@pytest.mark.django_db
@override_settings(ROLLUP_AUDIT_SECONDS=0)
def test_an_outage_longer_than_the_rollup_horizon_replayed_gives_the_same_30_day_answer_as_no_outage(store):
    start = hours_ago(30 * 24)
    series = container_series("alpha-dev", "web-1", "app", start, 30 * 24 * 12, interval=300, cpu=100.0)
    outage_from = hours_ago(6)
    before = [p for p in series if p.timestamp < outage_from.timestamp()]
    during = [p for p in series if p.timestamp >= outage_from.timestamp()]
    write(before)
    spool = RedisSpool(store.backlog.redis, "kubemon:test:outage-spool")
    down = TimeseriesStore(InfluxClient("http://127.0.0.1:9", store.database, timeout=1), spool=spool, retries=0)
    assert down.write(during).spooled == len(during)
    # The rollup kept running through the six hours: it summed them without the spooled points.
    rollup_window(start, hours_ago(0))
    run_rollup_cycle()
    assert TimeseriesStore(store.client, spool=spool, backlog=store.backlog).replay(budget=60) == len(during)
    run_rollup_cycle()
    # The first sample, at `start`, stands for the 300 s before it: the month begins there.
    month = Window(start - timedelta(seconds=300), hours_ago(0))
    answer = aggregate(CPU, month, ("namespace",), EVERYTHING)[("alpha-dev",)]
    assert answer.samples == len(series)
    assert answer.integral == pytest.approx(100.0 * 300 * len(series), rel=1e-12)
    assert _cpu_by_pod(month) == _cpu_by_pod(month, use_rollup=False)
