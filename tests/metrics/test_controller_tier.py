"""The controller tier answers allocation per controller with the numbers pod detail gives, and
keeps answering once the pod detail (and the raw owners) are gone."""

from datetime import timedelta

import pytest

from billing.access import AccessScope
from collectors.rollup import audit_rollup, reroll_late_hours, rollup_window
from collectors.tiers import fill_controller_tier
from kubemon import keys
from kubemon.redis import get_redis
from kubemon.timeseries import Point, get_store
from kubemon.timeseries.hours import HOUR
from kubemon.timeseries.schema import HOURLY_POLICY, POD, POD_DAILY_POLICY, RAW_POLICY
from metrics import controllers
from metrics.allocation import _CONTAINER_READS, allocate, allocate_controllers
from metrics.engine import Selection
from metrics.window import Window
from tests.api.test_rollup import varied_usage
from tests.support.base import BaseTestCase, container_series, epoch, hours_ago, uses_store, write

EVERYTHING = Selection.for_scope(AccessScope.all_namespaces())
OWNERS = {("alpha-dev", "web-1"): ("ReplicaSet", "web-7d4b9c8f5"), ("alpha-prod", "api-1"): ("StatefulSet", "api"),
          ("beta-web", "front-1"): ("", ""), ("alpha-dev", "late-1"): ("Job", "late")}
ATTRIBUTES = [name for name, *_ in _CONTAINER_READS]


def inventory(start, hours, owners=OWNERS):
    """A ``kubernetes_pod`` point per pod every 5 minutes, with its owner reference."""
    points = []
    for (namespace, pod), (kind, name) in owners.items():
        for i in range(hours * 12):
            points.append(Point(POD, {"namespace": namespace, "pod_name": pod, "node_name": "node-1"},
                                {"phase": "Running", "owner_kind": kind, "owner_name": name}, epoch(start) + i * 300))
    write(points)


def drop_policy(name):
    store = get_store()
    store.client.query(f'DROP RETENTION POLICY "{name}" ON "{store.database}"', method="POST")


@uses_store
class ControllerTierTests(BaseTestCase):
    """Thirty hours with a midnight inside, three controllers and a pod without one."""

    def setUp(self):
        super().setUp()
        self.start = hours_ago(31)
        varied_usage(self.start, 30)
        inventory(self.start, 30)
        rollup_window(self.start, self.start + timedelta(hours=30))
        self.now = self.start + timedelta(hours=31)
        fill_controller_tier(get_redis(), self.now)
        # Ragged edges: mid-hour on both sides.
        self.window = Window(self.start + timedelta(minutes=20, seconds=7),
                             self.start + timedelta(hours=29, minutes=41))

    def answers(self, window=None, **kwargs):
        return allocate_controllers(window or self.window, EVERYTHING, get_store(), now=self.now, **kwargs)

    def assert_same(self, fast, slow, label=""):
        self.assertEqual(set(fast), set(slow), label)
        for key, a in fast.items():
            for name in ATTRIBUTES:
                self.assertEqual(getattr(a, name), pytest.approx(getattr(slow[key], name), rel=1e-9, abs=1e-9),
                                 (label, key, name))
            for name in ("gpu_request_seconds", "gpu_used_seconds"):
                self.assertEqual(getattr(a, name), pytest.approx(getattr(slow[key], name), rel=1e-9), (label, key))

    def test_it_reads_the_whole_hours_from_the_tier_and_the_edges_from_pod_detail(self):
        spans, pieces = controllers.plan(self.window, get_store(), self.now)
        self.assertEqual(spans, [Window(self.start + HOUR, self.start + timedelta(hours=28))])
        self.assertEqual([p.end - p.begin for p in pieces], [timedelta(minutes=39, seconds=53),
                                                              timedelta(hours=1, minutes=41)])

    def test_it_gives_the_pod_details_numbers_per_controller(self):
        fast, slow = self.answers(), self.answers(tier=False)
        self.assertEqual(set(fast), {("alpha-dev", "deployment", "web"), ("alpha-prod", "statefulset", "api"),
                                     ("beta-web", "", "")})
        self.assert_same(fast, slow)
        # ... which is the per-pod answer summed by owner, as the allocation API always did.
        per_pod = allocate(self.window, "pod", EVERYTHING, now=self.now)
        self.assertEqual(fast[("alpha-dev", "deployment", "web")].cpu_usage_core_seconds,
                         pytest.approx(per_pod[("alpha-dev", "web-1")].cpu_usage_core_seconds, rel=1e-9))

    def test_it_gives_the_same_numbers_over_whole_days_from_the_daily_tier(self):
        window = Window(self.start - timedelta(days=1), self.start + timedelta(hours=29))
        spans, _ = controllers.plan(window, get_store(), self.now)
        self.assertTrue(any(r.policy == "controller_daily" for span in spans for r in controllers._reads(span)))
        self.assert_same(self.answers(window), self.answers(window, tier=False))

    def test_late_data_is_rerolled_into_the_controller_tier(self):
        late_start = self.start + timedelta(hours=3, minutes=10)
        write(container_series("alpha-dev", "late-1", "app", late_start, 200, cpu=500.0))
        late = self.start + timedelta(hours=3)
        self.assertIn(late, audit_rollup(self.now, days=2))
        # While the hour waits for its re-roll it is read from pod detail ...
        spans, _ = controllers.plan(self.window, get_store(), self.now)
        self.assertFalse(any(s.begin <= late < s.end for s in spans))
        self.assert_same(self.answers(), self.answers(tier=False), "pending")
        reroll_late_hours()
        # ... and afterwards from the tier, which has the late pod under its controller.
        spans, _ = controllers.plan(self.window, get_store(), self.now)
        self.assertTrue(any(s.begin <= late < s.end for s in spans))
        fast = self.answers()
        self.assertIn(("alpha-dev", "job", "late"), fast)
        self.assert_same(fast, self.answers(tier=False), "re-rolled")

    def test_a_pod_whose_owner_was_found_later_leaves_no_stale_point(self):
        # The first roll did not know front-1's owner; the inventory's point came late.
        inventory(self.start, 30, {("beta-web", "front-1"): ("DaemonSet", "front")})
        rollup_window(self.start, self.start + timedelta(hours=30))
        fast = self.answers()
        self.assertIn(("beta-web", "daemonset", "front"), fast)
        # The old point under no controller is rewritten as zeros, not left with the pod's sums.
        stale = fast.get(("beta-web", "", ""))
        self.assertFalse(stale and stale.cpu_usage_core_seconds)

    def test_it_keeps_answering_once_pod_detail_and_raw_owners_are_gone(self):
        window = Window(self.start - HOUR, self.start + timedelta(hours=31))  # every sample inside
        before = self.answers(window, tier=False)
        for policy in (HOURLY_POLICY, POD_DAILY_POLICY, RAW_POLICY):
            drop_policy(policy)
        get_store().ensure_database()
        # Pod-level questions answer what remains: nothing ...
        self.assertEqual(allocate(window, "pod", EVERYTHING, now=self.now), {})
        # ... the controller tier answers as pod detail did (asked later: every hour is final).
        later = allocate_controllers(window, EVERYTHING, get_store(), now=self.now + timedelta(hours=5))
        self.assert_same(later, before, "tier alone")

    def test_without_the_marker_pod_detail_answers(self):
        get_redis().delete(keys.CONTROLLER_TIER_SINCE)
        spans, pieces = controllers.plan(self.window, get_store(), self.now)
        self.assertEqual((spans, pieces), ([], [self.window]))
        self.assert_same(self.answers(), self.answers(tier=False))


def test_tier_spans_cut_out_late_hours_and_keep_to_whole_hours():
    from datetime import UTC, datetime

    h = datetime(2026, 3, 1, tzinfo=UTC)
    window = Window(h + timedelta(minutes=5), h + timedelta(hours=6, minutes=1))
    assert controllers.tier_spans(window, None, h + timedelta(hours=9)) == []
    late = [h + timedelta(hours=3)]
    assert controllers.tier_spans(window, h + timedelta(hours=2), h + timedelta(hours=9), late) == [
        Window(h + timedelta(hours=2), h + timedelta(hours=3)), Window(h + timedelta(hours=4), h + timedelta(hours=6))]
    spans = controllers.tier_spans(window, h, h + timedelta(hours=5))
    assert spans == [Window(h + HOUR, h + timedelta(hours=5))]
    assert controllers.pod_pieces(window, spans) == [Window(window.begin, h + HOUR),
                                                     Window(h + timedelta(hours=5), window.end)]
