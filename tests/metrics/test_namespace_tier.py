"""The namespace tier answers totals per namespace with the numbers raw data and the hourly rollup give."""

from datetime import timedelta

from billing.access import AccessScope
from collectors.rollup import audit_rollup, reroll_late_hours, rollup_window
from collectors.tiers import fill_namespace_tier
from kubemon import keys
from kubemon.redis import get_redis
from kubemon.timeseries import get_store
from kubemon.timeseries.schema import HOURLY_POLICY, NAMESPACE_DAILY_POLICY, NAMESPACE_POLICY, RAW_POLICY
from kubemon.timeseries.tiers import namespace_tier_since
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate, plan
from metrics.window import Window
from tests.api.test_rollup import ROLLUP_METRICS, varied_usage
from tests.support.base import BaseTestCase, assert_same_aggregates, container_series, hours_ago, uses_store, write

EVERYTHING = Selection.for_scope(AccessScope.all_namespaces())


@uses_store
class NamespaceTierTests(BaseTestCase):
    audit_days = 2
    def setUp(self):
        super().setUp()
        self.start = hours_ago(31)
        varied_usage(self.start, 30)
        rollup_window(self.start, self.start + timedelta(hours=30))
        # The first rollup run after the upgrade: the tier is filled back over the older hours.
        self.now = self.start + timedelta(hours=31)
        fill_namespace_tier(get_redis(), self.now)
        # Ragged edges, a midnight inside: mid-hour and mid-day on both sides.
        self.window = Window(self.start + timedelta(minutes=20, seconds=7),
                             self.start + timedelta(hours=29, minutes=41))

    def assert_same(self, fast, slow, label):
        assert_same_aggregates(self, fast, slow, label)

    def test_totals_per_namespace_read_whole_hours_from_the_namespace_tier(self):
        parts = plan(METRICS["cpu/usage_rate"], self.window, get_store(), group_tags=("namespace",))
        self.assertEqual({policy for policy, _ in parts}, {NAMESPACE_POLICY, RAW_POLICY})
        self.assertEqual(sum((w.end - w.begin for _, w in parts), timedelta()), self.window.end - self.window.begin)
        per_pod = plan(METRICS["cpu/usage_rate"], self.window, get_store(), group_tags=("namespace", "pod_name"))
        self.assertIn(HOURLY_POLICY, {policy for policy, _ in per_pod})

    def test_every_rollup_metric_gives_the_raw_numbers_from_the_namespace_tier(self):
        for name in ROLLUP_METRICS:
            with self.subTest(name):
                fast = aggregate(METRICS[name], self.window, ("namespace",), EVERYTHING)
                slow = aggregate(METRICS[name], self.window, ("namespace",), EVERYTHING, use_rollup=False)
                self.assert_same(fast, slow, name)

    def test_one_namespace_and_a_tenants_namespaces_read_the_tier_too(self):
        for selection in (Selection.one("alpha-dev"), Selection(namespaces=("alpha-prod", "beta-web"))):
            fast = aggregate(METRICS["memory/working_set"], self.window, ("namespace",), selection)
            slow = aggregate(METRICS["memory/working_set"], self.window, ("namespace",), selection, use_rollup=False)
            self.assert_same(fast, slow, selection)

    def test_late_data_is_rerolled_into_the_namespace_tier(self):
        late_start = self.start + timedelta(hours=3, minutes=10)
        write(container_series("alpha-dev", "late-1", "app", late_start, 200, cpu=500.0))
        # Another writer's points: the rollup's audit finds the hours they landed in.
        self.assertIn(self.start + timedelta(hours=3), audit_rollup(self.now, days=self.audit_days))
        reroll_late_hours()
        for name in ("cpu/usage_rate", "memory/working_set", "cpu/usage"):
            fast = aggregate(METRICS[name], self.window, ("namespace",), EVERYTHING)
            slow = aggregate(METRICS[name], self.window, ("namespace",), EVERYTHING, use_rollup=False)
            self.assert_same(fast, slow, name)

    def test_a_tier_rebuilt_from_scratch_gives_the_same_answers(self):
        before = aggregate(METRICS["cpu/usage_rate"], self.window, ("namespace",), EVERYTHING)
        store = get_store()
        store.client.query(f'DROP RETENTION POLICY "{NAMESPACE_POLICY}" ON "{store.database}"', method="POST")
        store.ensure_database()
        get_redis().delete(keys.NAMESPACE_TIER_SINCE)
        # Without the marker, the hourly rollup answers.
        self.assert_same(aggregate(METRICS["cpu/usage_rate"], self.window, ("namespace",), EVERYTHING), before,
                         "hourly")
        rollup_window(self.now - timedelta(hours=3), self.now)  # the next rollup run
        since = fill_namespace_tier(get_redis(), self.now)
        self.assertLessEqual(since, self.start)
        self.assertEqual(namespace_tier_since(get_redis()), since)
        self.assert_same(aggregate(METRICS["cpu/usage_rate"], self.window, ("namespace",), EVERYTHING), before,
                         "rebuilt")


@uses_store
class NamespaceDailyTierTests(NamespaceTierTests):
    """Three days of data: whole final UTC days are read from the daily namespace tier."""

    audit_days = 4

    def setUp(self):
        BaseTestCase.setUp(self)
        self.start = hours_ago(80)
        varied_usage(self.start, 76)
        rollup_window(self.start, self.start + timedelta(hours=76))
        self.now = self.start + timedelta(hours=77)
        fill_namespace_tier(get_redis(), self.now)
        self.window = Window(self.start + timedelta(minutes=20, seconds=7),
                             self.start + timedelta(hours=75, minutes=41))

    def test_totals_per_namespace_read_whole_hours_from_the_namespace_tier(self):
        parts = plan(METRICS["cpu/usage_rate"], self.window, get_store(), group_tags=("namespace",))
        self.assertEqual({policy for policy, _ in parts}, {NAMESPACE_DAILY_POLICY, NAMESPACE_POLICY, RAW_POLICY})
        self.assertEqual(sum((w.end - w.begin for _, w in parts), timedelta()), self.window.end - self.window.begin)
        daily = [w for policy, w in parts if policy == NAMESPACE_DAILY_POLICY]
        self.assertEqual([w.end - w.begin for w in daily], [timedelta(days=2)])


@uses_store
class NamespaceTierFillingTests(BaseTestCase):
    def test_once_filled_the_tier_is_not_looked_for_again(self):
        start = hours_ago(5)
        write(container_series("alpha-dev", "web-1", "app", start, 240 * 4))
        rollup_window(start, start + timedelta(hours=4))
        now = start + timedelta(hours=5)
        redis = get_redis()
        since = fill_namespace_tier(redis, now)
        self.assertLessEqual(since, start)
        store = get_store()
        store.client.query(f'DROP RETENTION POLICY "{HOURLY_POLICY}" ON "{store.database}"', method="POST")
        # Without the flag the next run would ask the (now missing) hourly rollup again.
        self.assertEqual(fill_namespace_tier(redis, now, store=store), since)
        redis.delete(keys.NAMESPACE_TIER_FILLED)
        with self.assertRaises(Exception):  # noqa: B017  (InfluxDB's error for the missing policy)
            fill_namespace_tier(redis, now, store=store)
