"""``aggregate=controller`` of the allocation API from the controller tier: the answer pod detail
gives while it exists, and still the answer once the pod detail and the raw owners are gone."""

from datetime import timedelta

import pytest

from collectors.rollup import rollup_window
from collectors.tiers import fill_controller_tier
from kubemon import keys
from kubemon.redis import get_redis
from kubemon.timeseries import get_store
from kubemon.timeseries.schema import HOURLY_POLICY, POD_DAILY_POLICY, RAW_POLICY
from metrics import controllers
from metrics.window import Window, format_time
from tests.api.test_allocation_api import AllocationCase, small_cluster
from tests.support.base import BaseTestCase, hours_ago, uses_store

NUMBERS = ("cpuCoreHours", "cpuCoreRequestAverage", "cpuCoreUsageAverage", "cpuCost", "ramByteHours",
           "ramByteUsageAverage", "ramCost", "gpuHours", "gpuCost", "gpuEfficiency", "pvByteHours", "totalCost",
           "totalEfficiency")


@uses_store
class ControllerTierAllocationTests(AllocationCase):
    def setUp(self):
        BaseTestCase.setUp(self)
        # Old enough that an hour after h2 is final (the rollup no longer rewrites it).
        self.h0 = hours_ago(8)
        self.h2 = self.h0 + timedelta(hours=2)
        small_cluster(self.h0)
        rollup_window(self.h0, self.h2 + timedelta(seconds=1))
        fill_controller_tier(get_redis(), self.h2 + timedelta(hours=3))

    def assert_same_sets(self, fast, slow):
        self.assertEqual(set(fast), set(slow))
        for name, row in fast.items():
            self.assertEqual(row["properties"], slow[name]["properties"], name)
            for field in NUMBERS:
                self.assertEqual(row[field], pytest.approx(slow[name][field], rel=1e-6, abs=1e-5), (name, field))

    def test_it_answers_from_the_tier_with_the_pod_details_numbers(self):
        spans, _ = controllers.plan(Window(self.h0, self.h2), get_store(), self.h0 + timedelta(hours=8))
        self.assertEqual(spans, [Window(self.h0, self.h2)])
        for aggregate in ("controller", "namespace,controllerKind", "tenant,controller"):
            with self.subTest(aggregate):
                [fast] = self.sets(aggregate=aggregate)
                get_redis().delete(keys.CONTROLLER_TIER_SINCE)  # without the marker: pod detail
                [slow] = self.sets(aggregate=aggregate)
                fill_controller_tier(get_redis(), self.h2 + timedelta(hours=3))
                self.assert_same_sets(fast, slow)
        [data] = self.sets(aggregate="controller")
        self.assertEqual(set(data), {"deployment:web", "statefulset:trainer", "daemonset:agent", "__unallocated__"})
        self.assertEqual(data["statefulset:trainer"]["gpuHours"], pytest.approx(2.0, abs=1e-5))

    def test_it_still_answers_once_pod_detail_is_gone(self):
        # The sample at h2 stands for the 15 s before it: a window ending at h2 shares it out from
        # raw data (gone with the pod detail), one ending an hour later holds it whole.
        window = f"{format_time(self.h0)},{format_time(self.h2 + timedelta(hours=1))}"
        [before] = self.sets(aggregate="namespace,controller", window=window)
        store = get_store()
        for policy in (HOURLY_POLICY, POD_DAILY_POLICY, RAW_POLICY):
            store.client.query(f'DROP RETENTION POLICY "{policy}" ON "{store.database}"', method="POST")
        store.ensure_database()
        [after] = self.sets(aggregate="namespace,controller", window=window)
        self.assert_same_sets(after, before)
        # Per pod, what remains of the pod detail: nothing.
        [pods] = self.sets(aggregate="pod", window=window)
        self.assertEqual(pods, {})
