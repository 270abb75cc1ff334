"""A statement of a period older than the pod detail (``INFLUXDB_HOURLY_RETENTION``): its lines
from the namespace tier (CPU, memory, storage) and the controller tier (GPUs by model) are the
ones pod detail gave. (Idle and node-label rules need pod detail: docs/operations.md, "Retention".)"""

from datetime import timedelta

from django.test import override_settings

from billing.models import PriceList
from billing.statements import draft
from collectors.rollup import rollup_window
from collectors.tiers import fill_controller_tier, fill_namespace_tier
from kubemon.redis import get_redis
from kubemon.timeseries import get_store
from kubemon.timeseries.schema import HOURLY_POLICY, POD_DAILY_POLICY, RAW_POLICY
from metrics import controllers
from metrics.window import Window
from tests.metrics.test_allocation import SmallCluster
from tests.support.base import BaseTestCase, uses_store


@uses_store
class StatementPastPodDetailTests(SmallCluster, BaseTestCase):
    def setUp(self):
        super().setUp()
        # Three hours: the last sample (at h0 + 2 h) lies in the third hour's rollup point.
        self.start, self.end = self.h0, self.h0 + timedelta(hours=3)
        rollup_window(self.start, self.end)
        now = self.end + timedelta(hours=2)
        fill_namespace_tier(get_redis(), now)
        fill_controller_tier(get_redis(), now)
        PriceList.objects.create(
            name="standard", currency="EUR", effective_start=self.h0 - timedelta(days=3), cpu_core_hour="2.50",
            memory_gib_hour="0.75", gpu_hour="1.50", gpu_model_rates={"NVIDIA H100 80GB HBM3": "4.10"},
            storage_gib_month="0.10")

    def lines(self, tenant):
        statement = draft(tenant, self.start, self.end)
        return statement.total, {(x.namespace, x.resource, x.gpu_model): (x.quantity, x.cost, x.request_average,
                                                                           x.usage_average)
                                 for x in statement.lines.all()}

    def test_a_statement_past_the_pod_detail_has_the_lines_pod_detail_gave(self):
        before = {tenant.slug: self.lines(tenant) for tenant in (self.alpha, self.beta)}
        self.assertIn(("alpha-prod", "gpu", "NVIDIA H100 80GB HBM3"), before["alpha"][1])
        self.assertIn(("beta-web", "gpu", "unknown"), before["beta"][1])
        store = get_store()
        for policy in (HOURLY_POLICY, POD_DAILY_POLICY, RAW_POLICY):
            store.client.query(f'DROP RETENTION POLICY "{policy}" ON "{store.database}"', method="POST")
        store.ensure_database()
        # Pod detail kept an hour: the period is older than it, so GPUs come from the controller tier.
        with override_settings(INFLUXDB_HOURLY_RETENTION="1h"):
            spans, _ = controllers.past_detail(Window(self.start, self.end), store, self.end + timedelta(hours=2))
            self.assertEqual(spans, [Window(self.start, self.end)])
            after = {tenant.slug: self.lines(tenant) for tenant in (self.alpha, self.beta)}
        self.assertEqual(after, before)
