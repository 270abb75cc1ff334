"""A statement of a period older than the pod detail (``INFLUXDB_HOURLY_RETENTION``): its lines
from the namespace tier (CPU, memory, storage) and the controller tier (GPUs by model) are the
ones pod detail gave, and so is the operator's idle of whole days (node capacity from the node
tier). (Node-label price rules need pod detail: docs/operations.md, "Retention".)"""

from datetime import timedelta
from decimal import Decimal as D

from django.test import override_settings

from billing.models import PriceList
from billing.statements import draft
from collectors.rollup import rollup_window
from collectors.tiers import fill_controller_tier, fill_namespace_tier, fill_node_tier
from kubemon.redis import get_redis
from kubemon.timeseries import get_store
from kubemon.timeseries.hours import DAY, floor_day
from kubemon.timeseries.schema import HOURLY_POLICY, POD_DAILY_POLICY, RAW_POLICY
from metrics import controllers
from metrics.window import Window
from tests.metrics.test_allocation import GIB, SmallCluster, node_points, sample
from tests.support.base import BaseTestCase, epoch, hours_ago, uses_store, write


def drop_pod_detail():
    store = get_store()
    for policy in (HOURLY_POLICY, POD_DAILY_POLICY, RAW_POLICY):
        store.client.query(f'DROP RETENTION POLICY "{policy}" ON "{store.database}"', method="POST")
    store.ensure_database()


def price_list(since):
    return PriceList.objects.create(
        name="standard", currency="EUR", effective_start=since, cpu_core_hour="2.50", memory_gib_hour="0.75",
        gpu_hour="1.50", gpu_model_rates={"NVIDIA H100 80GB HBM3": "4.10"}, storage_gib_month="0.10")


def statement_lines(tenant, start, end, **kwargs):
    statement = draft(tenant, start, end, **kwargs)
    return statement.total, {(x.namespace, x.resource, x.gpu_model): (x.quantity, x.cost, x.request_average,
                                                                       x.usage_average)
                             for x in statement.lines.all()}


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
        price_list(self.h0 - timedelta(days=3))

    def lines(self, tenant):
        return statement_lines(tenant, self.start, self.end)

    def test_a_statement_past_the_pod_detail_has_the_lines_pod_detail_gave(self):
        before = {tenant.slug: self.lines(tenant) for tenant in (self.alpha, self.beta)}
        self.assertIn(("alpha-prod", "gpu", "NVIDIA H100 80GB HBM3"), before["alpha"][1])
        self.assertIn(("beta-web", "gpu", "unknown"), before["beta"][1])
        drop_pod_detail()
        store = get_store()
        # Pod detail kept an hour: the period is older than it, so GPUs come from the controller tier.
        with override_settings(INFLUXDB_HOURLY_RETENTION="1h"):
            spans, _ = controllers.past_detail(Window(self.start, self.end), store, self.end + timedelta(hours=2))
            self.assertEqual(spans, [Window(self.start, self.end)])
            after = {tenant.slug: self.lines(tenant) for tenant in (self.alpha, self.beta)}
        self.assertEqual(after, before)


@uses_store
class IdlePastPodDetailTests(BaseTestCase):
    """Two hours of a web pod on node-1 (4 cores) and an idle gpu-1 (8 cores, 8 GPUs), three days ago."""

    def setUp(self):
        super().setUp()
        self.day = floor_day(hours_ago(0)) - DAY * 3
        h0 = self.day + timedelta(hours=10)
        write([sample("alpha-dev", "web", epoch(h0) + i * 15, 300.0, GIB) for i in range(1, 481)])
        write(node_points("node-1", h0, 480) + node_points("gpu-1", h0, 480, millicores=8000, gpus=8))
        rollup_window(self.day, self.day + DAY)
        now = hours_ago(0)
        for fill in (fill_namespace_tier, fill_controller_tier, fill_node_tier):
            fill(get_redis(), now)
        price_list(self.day - DAY)

    def test_the_operators_idle_of_a_day_past_the_pod_detail_is_the_one_pod_detail_gave(self):
        before = statement_lines(None, self.day, self.day + DAY, idle="keep")
        idle = {key: value for key, value in before[1].items() if key[0] == "__idle__"}
        self.assertEqual(idle[("__idle__", "cpu", "")][0], 24 - D("0.6"))  # 12 cores x 2 h - 0.3 x 2 h
        drop_pod_detail()
        with override_settings(INFLUXDB_HOURLY_RETENTION="1h"):
            after = statement_lines(None, self.day, self.day + DAY, idle="keep")
        self.assertEqual(after, before)
