"""Long windows read the hourly rollup for whole hours and raw data for the edges: same answer either way."""

from datetime import UTC, datetime, timedelta

import pytest

from billing.access import AccessScope
from collectors.rollup import rollup_window
from kubemon.timeseries import Point, get_store
from kubemon.timeseries.schema import HOURLY_POLICY, INTEGRAL_FIELDS, RAW_POLICY
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate, plan
from metrics.window import Window
from tests.support.base import (
    BaseTestCase,
    assert_same_aggregates,
    container_series,
    epoch,
    hourly_container_point,
    hours_ago,
    uses_store,
    write,
)

ROLLUP_METRICS = [name for name, metric in METRICS.items() if metric.rollup]


def varied_usage(start, hours):
    """Four pods whose usage changes every sample, over ``hours`` hours, with a gap and a late starter."""
    count = hours * 240
    points = []
    points += container_series("alpha-dev", "web-1", "app", start, count, cpu=lambda i: 100 + (i * 7) % 90,
                               memory=lambda i: 2**27 + (i * 4099) % 2**20)
    points += container_series("alpha-dev", "web-1", "sidecar", start, count, cpu=lambda i: 5 + i % 3)
    points += container_series("alpha-prod", "api-1", "app", start + timedelta(minutes=95), count - 380,
                               cpu=lambda i: 300 + (i * 13) % 50, interval=15)
    points += container_series("beta-web", "front-1", "app", start, count // 2, interval=30,
                               cpu=lambda i: 400 - i % 17, memory=lambda i: 2**28 - i * 1024)
    tags = {"node_name": "gpu-1", "gpu": "0", "uuid": "GPU-0", "model_name": "A100", "namespace": "alpha-dev",
            "pod_name": "train-0", "container_name": "tf"}
    for i in range(count):
        fields = {"utilization_percent": float(i % 101), "memory_used_bytes": float(2**30 + i * 2**20),
                  "power_watts": 100.0 + i % 50, "temperature_celsius": 60.0, "interval_seconds": 15.0}
        for name in INTEGRAL_FIELDS["gpu"]:
            fields[name + "_integral"] = fields[name] * 15.0
        points.append(Point("gpu", tags, fields, epoch(start) + i * 15))
    write(points)


@uses_store
class RollupEquivalenceTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(7)
        varied_usage(self.start, 6)
        rollup_window(self.start, self.start + timedelta(hours=6))
        # A window with ragged edges on both sides around five whole hours.
        self.window = Window(self.start + timedelta(minutes=20, seconds=7), self.start + timedelta(hours=5, minutes=41))

    def test_the_plan_reads_whole_hours_from_the_rollup(self):
        parts = plan(METRICS["cpu/usage_rate"], self.window, get_store())
        self.assertEqual(parts[0], (HOURLY_POLICY, Window(self.start + timedelta(hours=1),
                                                          self.start + timedelta(hours=5))))
        self.assertEqual({p for p, _ in parts[1:]}, {RAW_POLICY})
        self.assertEqual(sum((w.end - w.begin for _, w in parts), timedelta()), self.window.end - self.window.begin)

    def test_every_rollup_metric_gives_the_same_numbers_either_way(self):
        selection = Selection.for_scope(AccessScope.all_namespaces())
        for name in ROLLUP_METRICS:
            for tags in (("namespace",), ("namespace", "pod_name")):
                fast = aggregate(METRICS[name], self.window, tags, selection)
                slow = aggregate(METRICS[name], self.window, tags, selection, use_rollup=False)
                assert_same_aggregates(self, fast, slow, name)

    def test_the_api_answers_the_same_through_both_paths(self):
        body = {"agg": "all-pod", "timeBeginInterval": self.window.begin.isoformat(),
                "timeEndInterval": self.window.end.isoformat()}
        fast = self.post_metric("memory/usage", body, who="global").json()
        with self.settings(API_ROLLUP_SETTLE_SECONDS=10**9):  # nothing old enough: raw data only
            slow = self.post_metric("memory/usage", body, who="global").json()
        self.assertEqual(len(fast), 3)
        for a, b in zip(fast, slow, strict=True):
            self.assertEqual(a["integral"], pytest.approx(b["integral"], rel=1e-12))
            self.assertEqual(a["samples"], b["samples"])


@uses_store
class RollupOnlyTests(BaseTestCase):
    def test_hours_past_raw_retention_come_from_the_rollup(self):
        # Only hourly points, 40 days ago: there is no raw data to fall back on.
        day = hours_ago(24 * 40)
        write([hourly_container_point("alpha-dev", "old-1", "app", day + timedelta(hours=h), samples=240,
                                      interval=15, cpu=250.0, memory=2**30) for h in range(24)], policy="hourly")
        body = {"agg": "pod-by-namespace", "namespace": "alpha-dev",
                "timeBeginInterval": day.strftime("%Y-%m-%d %H:%M:%S"),
                "timeEndInterval": (day + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")}
        row = self.post_metric("cpu/usage_rate", body).json()[0]
        self.assertEqual(row["pod_name"], "old-1")
        self.assertAlmostEqual(row["integral"], 250.0 * 86400)
        self.assertAlmostEqual(row["mean"], 250.0)
        self.assertEqual(row["max"], 250.0)
        self.assertEqual(row["samples"], 240 * 24)

    def test_without_a_rollup_the_raw_data_still_answers(self):
        start = hours_ago(4)
        # Samples stand for the 15 s before them: the first one at start + 15 s covers the window's start.
        write(container_series("alpha-dev", "web-1", "app", start + timedelta(seconds=15), 240 * 3, cpu=100.0))
        window = Window(start, start + timedelta(hours=3))
        self.assertEqual(plan(METRICS["cpu/usage_rate"], window, get_store()), [(RAW_POLICY, window)])
        result = aggregate(METRICS["cpu/usage_rate"], window, ("namespace",), Selection.one("alpha-dev"))
        self.assertAlmostEqual(result[("alpha-dev",)].integral, 100.0 * 3 * 3600)

    def test_recent_hours_are_read_raw_until_they_settle(self):
        now = datetime.now(UTC)
        window = Window(hours_ago(3, now), now)
        write([hourly_container_point("alpha-dev", "p", "c", hours_ago(h, now), 240, 15, 1.0, 1.0)
               for h in range(4)], policy="hourly")
        parts = plan(METRICS["cpu/usage_rate"], window, get_store(), now=now)
        hourly = [w for p, w in parts if p == HOURLY_POLICY]
        settled = now - timedelta(seconds=600)
        self.assertTrue(all(w.end <= settled for w in hourly))
