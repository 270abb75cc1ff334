"""The pod tier (``pod_daily``) answers totals per pod with the numbers raw data and the hourly rollup give."""

from datetime import timedelta

from billing.access import AccessScope
from collectors.rollup import audit_rollup, reroll_late_hours, rollup_window
from collectors.tiers import fill_pod_tier
from kubemon import keys
from kubemon.redis import get_redis
from kubemon.timeseries import get_store
from kubemon.timeseries.hours import DAY, floor_day
from kubemon.timeseries.schema import HOURLY_POLICY, POD_DAILY_POLICY, RAW_POLICY
from kubemon.timeseries.tiers import pod_tier_span
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate, plan
from metrics.window import Window
from tests.api.test_rollup import ROLLUP_METRICS, varied_usage
from tests.support.base import BaseTestCase, assert_same_aggregates, container_series, hours_ago, uses_store, write

EVERYTHING = Selection.for_scope(AccessScope.all_namespaces())
PER_POD = ("namespace", "pod_name")


@uses_store
class PodTierTests(BaseTestCase):
    """Three days of data: the whole final UTC days of a per-pod question come from the pod tier."""

    def setUp(self):
        super().setUp()
        self.start = hours_ago(80)
        varied_usage(self.start, 76)
        rollup_window(self.start, self.start + timedelta(hours=76))
        # The first rollup run after the upgrade: the tier is filled back over the older days.
        self.now = self.start + timedelta(hours=77)
        fill_pod_tier(get_redis(), self.now)
        # Ragged edges: mid-hour and mid-day on both sides.
        self.window = Window(self.start + timedelta(minutes=20, seconds=7),
                             self.start + timedelta(hours=75, minutes=41))

    def assert_same_as_raw(self, name, selection=EVERYTHING):
        fast = aggregate(METRICS[name], self.window, PER_POD, selection)
        slow = aggregate(METRICS[name], self.window, PER_POD, selection, use_rollup=False)
        assert_same_aggregates(self, fast, slow, name)

    def test_totals_per_pod_read_whole_final_days_from_the_pod_tier(self):
        parts = plan(METRICS["cpu/usage_rate"], self.window, get_store(), group_tags=PER_POD)
        self.assertEqual({policy for policy, _ in parts}, {POD_DAILY_POLICY, HOURLY_POLICY, RAW_POLICY})
        self.assertEqual(sum((w.end - w.begin for _, w in parts), timedelta()), self.window.end - self.window.begin)
        daily = [w for policy, w in parts if policy == POD_DAILY_POLICY]
        self.assertEqual([w.end - w.begin for w in daily], [timedelta(days=2)])
        self.assertTrue(all(w.begin == floor_day(w.begin) for w in daily))

    def test_every_rollup_metric_gives_the_raw_numbers_per_pod(self):
        for name in ROLLUP_METRICS:
            with self.subTest(name):
                self.assert_same_as_raw(name)

    def test_one_namespaces_pods_read_the_tier_too(self):
        self.assert_same_as_raw("memory/working_set", Selection.one("alpha-dev"))

    def test_late_data_is_rerolled_into_the_pod_tier(self):
        late_start = self.start + timedelta(hours=30, minutes=10)  # inside a day the tier holds
        write(container_series("alpha-dev", "web-1", "late", late_start, 200, cpu=500.0))
        self.assertIn(self.start + timedelta(hours=30), audit_rollup(self.now, days=4))
        reroll_late_hours()
        for name in ("cpu/usage_rate", "memory/working_set", "cpu/usage"):
            self.assert_same_as_raw(name)

    def test_a_tier_rebuilt_from_scratch_gives_the_same_answers(self):
        before = aggregate(METRICS["cpu/usage_rate"], self.window, PER_POD, EVERYTHING)
        store = get_store()
        store.client.query(f'DROP RETENTION POLICY "{POD_DAILY_POLICY}" ON "{store.database}"', method="POST")
        store.ensure_database()
        redis = get_redis()
        redis.delete(keys.POD_TIER_SPAN, keys.POD_TIER_FILLED)
        # Without the marker, the hourly rollup answers.
        assert_same_aggregates(self, aggregate(METRICS["cpu/usage_rate"], self.window, PER_POD, EVERYTHING),
                               before, "hourly")
        since, until = fill_pod_tier(redis, self.now)
        self.assertLessEqual(since, self.start)
        self.assertEqual(pod_tier_span(redis), (since, until))
        assert_same_aggregates(self, aggregate(METRICS["cpu/usage_rate"], self.window, PER_POD, EVERYTHING),
                               before, "rebuilt")


@uses_store
class PodTierSpanTests(BaseTestCase):
    def test_the_tier_grows_by_the_days_that_become_final(self):
        start = hours_ago(60)
        write(container_series("alpha-dev", "web-1", "app", start, 240 * 56, interval=15))
        rollup_window(start, start + timedelta(hours=56))
        redis = get_redis()
        first_now = start + timedelta(hours=30)
        since, until = fill_pod_tier(redis, first_now)
        self.assertLessEqual(since, start)
        later = start + timedelta(hours=57)
        _, grown = fill_pod_tier(redis, later)
        self.assertEqual(grown, floor_day(later - timedelta(hours=3)))
        self.assertGreaterEqual(grown - until, DAY)
        whole = Window(floor_day(start) + DAY, grown)
        parts = plan(METRICS["cpu/usage_rate"], whole, get_store(), group_tags=PER_POD)
        self.assertIn(POD_DAILY_POLICY, {policy for policy, _ in parts})
        fast = aggregate(METRICS["cpu/usage_rate"], whole, PER_POD, EVERYTHING)
        slow = aggregate(METRICS["cpu/usage_rate"], whole, PER_POD, EVERYTHING, use_rollup=False)
        assert_same_aggregates(self, fast, slow, "grown")

    def test_once_filled_the_tier_is_not_looked_for_again(self):
        start = hours_ago(5)
        write(container_series("alpha-dev", "web-1", "app", start, 240 * 4))
        rollup_window(start, start + timedelta(hours=4))
        now = start + timedelta(hours=5)
        redis = get_redis()
        span = fill_pod_tier(redis, now)
        store = get_store()
        store.client.query(f'DROP RETENTION POLICY "{HOURLY_POLICY}" ON "{store.database}"', method="POST")
        self.assertEqual(fill_pod_tier(redis, now, store=store), span)
