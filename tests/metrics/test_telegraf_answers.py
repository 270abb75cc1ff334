"""Telegraf-written points are answered with their resource-time, from raw data and from the rollup.

Telegraf's ``kubernetes`` input writes integer fields and none of kubemon's (no
``interval_seconds``, no ``<field>_integral``, no ``cpu_core_seconds``). Their resource-time is
derived from the samples' spacing (docs/api.md, "Samples of other writers"): a sample stands for
the time since the previous sample of its series, so a series whose first sample is at the
window's begin covers (last - first) seconds; the CPU comes from the increase of the kubelet's
cumulative counter ``cpu_usage_core_nanoseconds``.
"""

from datetime import timedelta

import pytest

from collectors.rollup import rollup_window
from kubemon.timeseries import get_store
from kubemon.timeseries.client import InfluxClient
from kubemon.timeseries.schema import HOURLY_POLICY
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate, plan
from metrics.window import Window
from tests.support.base import BaseTestCase, container_series, epoch, hours_ago, uses_store, write

SPACING = 10  # Telegraf's default interval
SAMPLES = 2 * 3600 // SPACING  # two whole hours, the first sample at the window's begin
CPU_NANOCORES = 250_000_000  # 250 millicores
MEMORY = 134_217_728
WORKING_SET = 120_000_000
RSS = 100_000_000


def telegraf_line(pod, stamp, i, tags="host=tg-node-1,"):
    """One kubernetes_pod_container line as Telegraf 1.x writes it: integer fields only."""
    counter = 9_000_000_000 + i * CPU_NANOCORES * SPACING  # the kubelet's cumulative CPU time, in ns
    return (f"kubernetes_pod_container,container_name=app,{tags}namespace=alpha-dev,node_name=node-1,pod_name={pod} "
            f"cpu_usage_nanocores={CPU_NANOCORES}i,cpu_usage_core_nanoseconds={counter}i,"
            f"memory_usage_bytes={MEMORY}i,memory_working_set_bytes={WORKING_SET}i,memory_rss_bytes={RSS}i,"
            "memory_page_faults=1200i,memory_major_page_faults=3i,rootfs_available_bytes=900000000i,"
            "rootfs_capacity_bytes=1000000000i,rootfs_used_bytes=4096i,logsfs_available_bytes=900000000i,"
            f"logsfs_capacity_bytes=1000000000i,logsfs_used_bytes=2048i {stamp}")


def write_telegraf(pod, start, count=SAMPLES, **kwargs):
    lines = [telegraf_line(pod, epoch(start) + i * SPACING, i, **kwargs) for i in range(count)]
    InfluxClient(get_store().url, get_store().database).write_body("\n".join(lines), precision="s")


# metric: (value per sample in the metric's unit, kubemon's web-1 value)
EXPECTED = {
    "cpu/usage_rate": (250.0, 100.0),
    "memory/usage": (float(MEMORY), float(2**27)),
    "memory/working_set": (float(WORKING_SET), 2**27 * 0.9),
}


@uses_store
class TelegrafAnswerTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(3)
        self.window = Window(self.start, self.start + timedelta(hours=2))
        write_telegraf("tg-1", self.start)
        write(container_series("alpha-dev", "web-1", "app", self.start, 480, cpu=100.0))
        rollup_window(self.start, self.start + timedelta(hours=2))

    def by_pod(self, name, window=None, use_rollup=True):
        result = aggregate(METRICS[name], window or self.window, ("namespace", "pod_name"),
                           Selection.one("alpha-dev"), use_rollup=use_rollup)
        return {pod: a for (_, pod), a in result.items()}

    def test_the_whole_hours_are_read_from_the_rollup(self):
        parts = plan(METRICS["memory/usage"], self.window, get_store())
        self.assertEqual(parts, [(HOURLY_POLICY, self.window)])

    def test_telegraf_samples_get_sum_max_samples_integral_and_mean_either_way(self):
        covered = (SAMPLES - 1) * SPACING  # the first sample has no earlier one: it stands for nothing
        for name, (value, _) in EXPECTED.items():
            for use_rollup in (False, True):
                a = self.by_pod(name, use_rollup=use_rollup)["tg-1"]
                where = (name, use_rollup)
                self.assertEqual(a.samples, SAMPLES, where)
                self.assertEqual(a.sum, pytest.approx(value * SAMPLES, rel=1e-12), where)
                self.assertEqual(a.max, pytest.approx(value, rel=1e-12), where)
                self.assertEqual(a.integral, pytest.approx(value * covered, rel=1e-12), where)
                self.assertEqual(a.mean, pytest.approx(value * covered / 7200, rel=1e-12), where)

    def test_kubemon_samples_beside_them_are_unchanged(self):
        for name, (_, value) in EXPECTED.items():
            for use_rollup in (False, True):
                a = self.by_pod(name, use_rollup=use_rollup)["web-1"]
                self.assertEqual(a.samples, 480)
                # Its first sample, at the window's begin, stands for the 15 s before it.
                self.assertEqual(a.integral, pytest.approx(value * 7185, rel=1e-12), (name, use_rollup))
                self.assertEqual(a.mean, pytest.approx(value * 7185 / 7200, rel=1e-12), (name, use_rollup))

    def test_a_ragged_window_counts_each_sample_once_whatever_the_path(self):
        # [begin + 25 min, begin + 2 h): a raw edge, then one hour from the rollup.
        window = Window(self.start + timedelta(minutes=25), self.window.end)
        covered = 7200 - 25 * 60  # every sample inside has its predecessor 10 s before it
        for name, (value, _) in EXPECTED.items():
            fast = self.by_pod(name, window)["tg-1"]
            slow = self.by_pod(name, window, use_rollup=False)["tg-1"]
            self.assertEqual(fast.integral, pytest.approx(value * covered, rel=1e-12), name)
            self.assertEqual(slow.integral, pytest.approx(value * covered, rel=1e-12), name)
            self.assertEqual(fast.samples, slow.samples)

    def test_cpu_time_and_cache_of_telegraf_samples(self):
        increments = SAMPLES - 1
        for use_rollup in (False, True):
            cpu = self.by_pod("cpu/usage", use_rollup=use_rollup)["tg-1"]
            self.assertEqual(cpu.sum, pytest.approx(increments * CPU_NANOCORES * SPACING, rel=1e-12))
            cache = self.by_pod("memory/cache", use_rollup=use_rollup)["tg-1"]
            self.assertEqual(cache.sum, pytest.approx((MEMORY - RSS) * SAMPLES, rel=1e-12))
            self.assertEqual(cache.integral, pytest.approx((MEMORY - RSS) * increments * SPACING, rel=1e-12))

    def test_the_api_answers_telegraf_pods_with_their_integral(self):
        body = {"agg": "pod-by-namespace", "namespace": "alpha-dev",
                "timeBeginInterval": self.window.begin.isoformat(), "timeEndInterval": self.window.end.isoformat()}
        rows = {row["pod_name"]: row for row in self.post_metric("memory/usage", body).json()}
        self.assertEqual(set(rows), {"tg-1", "web-1"})
        covered = (SAMPLES - 1) * SPACING
        self.assertEqual(rows["tg-1"]["integral"], pytest.approx(MEMORY * covered, rel=1e-12))
        self.assertEqual(rows["tg-1"]["mean"], pytest.approx(MEMORY * covered / 7200, rel=1e-12))
        self.assertEqual(rows["tg-1"]["samples"], SAMPLES)
        self.assertEqual(rows["web-1"]["integral"], pytest.approx(2**27 * 7185, rel=1e-12))  # first sample: before
        self.assertNotIn("integral_note", rows["tg-1"])


@uses_store
class MixedSeriesTests(BaseTestCase):
    def test_a_series_mixing_both_kinds_of_points_has_no_integral_and_says_why(self):
        # Telegraf without a host tag writes into kubemon's own series: the two cannot be told apart.
        start = hours_ago(3)
        window = Window(start, start + timedelta(hours=2))
        write(container_series("alpha-dev", "tg-1", "app", start, 480, cpu=100.0))
        write_telegraf("tg-1", start + timedelta(seconds=7), tags="")  # never at a kubemon time
        rollup_window(window.begin, window.end)
        for use_rollup in (False, True):
            a = aggregate(METRICS["memory/usage"], window, ("namespace", "pod_name"), Selection.one("alpha-dev"),
                          use_rollup=use_rollup)[("alpha-dev", "tg-1")]
            self.assertEqual(a.samples, 480 + SAMPLES, use_rollup)
            self.assertIsNone(a.integral, use_rollup)
            self.assertIsNone(a.mean, use_rollup)
            self.assertIn("mix", a.note, use_rollup)
