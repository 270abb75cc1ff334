"""Per-namespace questions over a window older than the whole pod detail (the hourly rollup and
raw data expired) are answered from the namespace tier, with the numbers pod detail gave."""

from datetime import timedelta

from billing.access import AccessScope
from collectors.rollup import rollup_window
from collectors.tiers import fill_namespace_tier
from kubemon.redis import get_redis
from kubemon.timeseries import get_store
from kubemon.timeseries.schema import HOURLY_POLICY, POD_DAILY_POLICY, RAW_POLICY
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate
from metrics.window import Window
from tests.api.test_rollup import varied_usage
from tests.support.base import BaseTestCase, assert_same_aggregates, hours_ago, uses_store

EVERYTHING = Selection.for_scope(AccessScope.all_namespaces())


@uses_store
class PastPodDetailTests(BaseTestCase):
    def test_a_window_older_than_the_hourly_rollup_reads_the_namespace_tier(self):
        start = hours_ago(31)
        varied_usage(start, 30)
        rollup_window(start, start + timedelta(hours=30))
        fill_namespace_tier(get_redis(), start + timedelta(hours=31))
        window = Window(start - timedelta(hours=1), start + timedelta(hours=31))  # every sample inside
        names = ("cpu/usage_rate", "memory/working_set", "cpu/usage", "gpu/utilization")
        before = {name: aggregate(METRICS[name], window, ("namespace",), EVERYTHING) for name in names}
        store = get_store()
        for policy in (HOURLY_POLICY, POD_DAILY_POLICY, RAW_POLICY):
            store.client.query(f'DROP RETENTION POLICY "{policy}" ON "{store.database}"', method="POST")
        store.ensure_database()
        for name in names:
            with self.subTest(name):
                assert_same_aggregates(self, aggregate(METRICS[name], window, ("namespace",), EVERYTHING),
                                       before[name], name)
        # Per pod, what remains of the pod detail: nothing.
        self.assertEqual(aggregate(METRICS["cpu/usage_rate"], window, ("namespace", "pod_name"), EVERYTHING), {})
