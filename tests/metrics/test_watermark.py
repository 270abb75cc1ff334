"""The rollup's watermark for a tenant's question: the newest hour of its own series."""

from datetime import timedelta

from billing.access import AccessScope
from collectors.rollup import rollup_window
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate, rollup_watermark
from metrics.window import Window
from tests.support.base import BaseTestCase, assert_same_aggregates, container_series, hours_ago, uses_store, write


@uses_store
class TenantWatermarkTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(6)
        # alpha-dev stopped two hours before beta-web, whose hours the rollup has reached since.
        write(container_series("alpha-dev", "web-1", "app", self.start + timedelta(seconds=5), 3 * 240))
        write(container_series("beta-web", "front-1", "app", self.start + timedelta(seconds=9), 5 * 240, cpu=300.0))
        rollup_window(self.start, self.start + timedelta(hours=6))
        self.window = Window(self.start, self.start + timedelta(hours=6))

    def test_a_tenants_watermark_is_the_newest_hour_of_its_namespaces(self):
        metric = METRICS["cpu/usage_rate"]
        everything = rollup_watermark(self.store(), metric, self.window)
        alpha = rollup_watermark(self.store(), metric, self.window, Selection.one("alpha-dev"))
        self.assertEqual(everything, self.start + timedelta(hours=5))
        self.assertEqual(alpha, self.start + timedelta(hours=3))

    def test_its_answers_are_the_raw_ones(self):
        for namespace in ("alpha-dev", "beta-web"):
            selection = Selection.one(namespace)
            for name in ("cpu/usage_rate", "memory/working_set"):
                fast = aggregate(METRICS[name], self.window, ("namespace", "pod_name"), selection)
                slow = aggregate(METRICS[name], self.window, ("namespace", "pod_name"), selection, use_rollup=False)
                assert_same_aggregates(self, fast, slow, (namespace, name))
        everything = Selection.for_scope(AccessScope.all_namespaces())
        fast = aggregate(METRICS["cpu/usage_rate"], self.window, ("namespace",), everything)
        slow = aggregate(METRICS["cpu/usage_rate"], self.window, ("namespace",), everything, use_rollup=False)
        assert_same_aggregates(self, fast, slow, "everything")

    def store(self):
        from kubemon.timeseries import get_store

        return get_store()
