"""Chart series: at most ~1,000 points, whole-hour steps read from the rollup with the raw numbers."""

from datetime import UTC, datetime, timedelta

import pytest

from collectors.rollup import audit_rollup, rollup_window
from collectors.tiers import fill_namespace_tier
from kubemon.redis import get_redis
from kubemon.timeseries import Point, get_store
from kubemon.timeseries.schema import (
    HOURLY_POLICY,
    INTEGRAL_FIELDS,
    NAMESPACE_POLICY,
    RAW_POLICY,
    TEMPERATURE,
    source_identifier,
)
from metrics.catalogue import METRICS
from metrics.selection import Selection
from metrics.series import MAX_POINTS, bucket_span, choose_step, metric_series, node_allocatable, node_charts
from metrics.window import Window, to_ns
from tests.api.test_rollup import varied_usage
from tests.support.base import (
    BaseTestCase,
    container_fields,
    container_series,
    epoch,
    hours_ago,
    network_series,
    uses_store,
    write,
)

HOUR = timedelta(hours=1)


def node_points(node, start, count, interval=15):
    """A node's usage samples (CPU and memory varying), its inventory, and a temperature sensor."""
    points = []
    for i in range(count):
        cpu = 1.5e9 + (i * 7919) % 10**9  # nanocores
        memory = 4 * 2**30 + (i * 4099) % 2**28
        fields = {"cpu_usage_nanocores": int(cpu), "memory_working_set_bytes": int(memory),
                  "memory_usage_bytes": int(memory * 1.1), "interval_seconds": float(interval)}
        for name in INTEGRAL_FIELDS["kubernetes_node"]:
            fields[name + "_integral"] = fields[name] * interval
        points.append(Point("kubernetes_node", {"node_name": node}, fields, epoch(start) + i * interval))
        if i % 2 == 0:
            points.append(Point("kubernetes_node", {"node_name": node},
                                {"allocatable_millicpu_cores": 8000, "allocatable_memory_bytes": 32 * 2**30,
                                 "allocatable_gpu": 1.0, "ready": True}, epoch(start) + i * interval + 1))
            points.append(Point("node_temperature", {"node_name": node, "sensor": "cpu", "source": "push"},
                                {"celsius": 40.0 + i % 20}, epoch(start) + i * interval))
    return points


class StepTests(BaseTestCase):
    def test_no_window_gets_more_than_the_point_cap(self):
        end = datetime(2026, 3, 7, 10, 17, 3, tzinfo=UTC)
        spans = [timedelta(minutes=1), HOUR, 6 * HOUR, timedelta(days=1), timedelta(days=7),
                 timedelta(days=30), timedelta(days=90), timedelta(days=400), timedelta(days=5000),
                 timedelta(days=7, seconds=1), timedelta(hours=4, minutes=10, seconds=9)]
        for span in spans:
            window = Window(end - span, end)
            step = choose_step(window)
            self.assertLessEqual(bucket_span(window, step)[1], MAX_POINTS, span)

    def test_the_picker_ranges_get_the_finest_steps_that_fit(self):
        end = datetime(2026, 3, 7, 10, 17, 3, tzinfo=UTC)
        expected = {HOUR: 15, 6 * HOUR: 30, timedelta(days=1): 120, timedelta(days=7): 900,
                    timedelta(days=30): 3600}
        for span, step in expected.items():
            self.assertEqual(choose_step(Window(end - span, end)), step, span)


@uses_store
class NodeChartTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(7)
        write(node_points("node-1", self.start, 6 * 240))
        rollup_window(self.start, self.start + 6 * HOUR)
        self.window = Window(self.start + timedelta(minutes=20, seconds=7), self.start + timedelta(hours=5, minutes=41))

    def test_an_hourly_step_reads_the_rollup_and_gives_the_raw_means(self):
        fast = node_charts("node-1", self.window, ("cpu", "memory"), step=3600)
        slow = node_charts("node-1", self.window, ("cpu", "memory"), step=3600, use_rollup=False)
        self.assertIn(HOURLY_POLICY, fast["cpu"].tiers)
        self.assertEqual(slow["cpu"].tiers, (RAW_POLICY,))
        for kind in ("cpu", "memory"):
            self.assertEqual(fast[kind].times, slow[kind].times)
            a, b = fast[kind].lines, slow[kind].lines
            self.assertEqual(set(a), set(b))
            for line in a:
                self.assertEqual(len(a[line]), 6)  # the partial first hour, 4 whole ones, the partial last
                self.assertEqual(a[line], pytest.approx(b[line], rel=1e-9))

    def test_cpu_is_in_cores_and_memory_in_bytes(self):
        cpu = node_charts("node-1", self.window, ("cpu",), step=3600, use_rollup=False)["cpu"]
        values = [v for v in cpu.lines["usage"] if v is not None]
        self.assertTrue(values)
        self.assertTrue(all(1.5 <= v <= 2.5 for v in values), values)
        self.assertEqual(cpu.unit, "cores")

    def test_a_short_window_has_one_point_per_sample(self):
        window = Window(self.start + HOUR, self.start + 2 * HOUR)
        charts = node_charts("node-1", window)
        self.assertEqual(charts["cpu"].step, 15)
        self.assertEqual(len(charts["cpu"].times), 240)
        self.assertEqual(sum(v is not None for v in charts["cpu"].lines["usage"]), 240)
        # The sensor pushes every other sample: its line has a value every 30 s, a gap between.
        temperature = charts["temperature"].lines["cpu"]
        self.assertEqual(sum(v is not None for v in temperature), 120)
        self.assertEqual(charts["temperature"].tiers, (RAW_POLICY,))

    def test_a_node_without_gpus_or_sensors_has_no_lines(self):
        charts = node_charts("node-2", self.window)
        for kind, series in charts.items():
            self.assertEqual(series.lines, {}, kind)
            self.assertLessEqual(len(series.times), MAX_POINTS)

    def test_the_latest_allocatable_is_read_for_the_chart_scale(self):
        found = node_allocatable("node-1", self.start + 3 * HOUR)
        self.assertEqual(found, {"cpu_cores": 8.0, "memory_bytes": 32 * 2**30, "gpus": 1.0})
        self.assertEqual(node_allocatable("elsewhere", self.start + 3 * HOUR)["cpu_cores"], None)


@uses_store
class TemperatureRollupTests(BaseTestCase):
    """Node temperatures in the hourly rollup (mean, maximum and count per sensor and hour), so a
    node's temperature chart reaches past the raw retention (30 days) as its CPU chart does."""

    def setUp(self):
        super().setUp()
        self.start = hours_ago(30)
        points = node_points("node-1", self.start, 6 * 240)
        points += [Point(TEMPERATURE, {"node_name": "node-1", "sensor": "gpu0", "source": "node-exporter"},
                         {"celsius": 55.0 + (i * 7) % 13}, epoch(self.start) + i * 60) for i in range(6 * 60)]
        write(points)
        rollup_window(self.start, self.start + 6 * HOUR)

    def hourly(self, policy, columns):
        statement = (f"SELECT {columns} FROM {source_identifier(TEMPERATURE, policy)} "  # noqa: S608
                     "WHERE time >= $b AND time < $e GROUP BY time(1h), \"sensor\" fill(none)")
        found = {}
        for series in get_store().query(statement, params={"b": to_ns(self.start), "e": to_ns(self.start + 6 * HOUR)},
                                        epoch="s"):
            for row in series["values"]:
                found[(series["tags"]["sensor"], row[0])] = tuple(row[1:])
        return found

    def test_the_rollup_keeps_each_sensors_hourly_mean_maximum_and_count(self):
        raw = self.hourly(RAW_POLICY, 'sum("celsius"), max("celsius"), count("celsius")')
        rolled = self.hourly(HOURLY_POLICY, 'sum("celsius_sum"), max("celsius_max"), sum("celsius_samples")')
        self.assertEqual(len(raw), 12)  # two sensors, six hours
        self.assertEqual(rolled.keys(), raw.keys())
        for key, (total, highest, count) in raw.items():
            self.assertEqual(rolled[key], pytest.approx((total, highest, count), rel=1e-12), key)
        self.assertEqual(raw[("gpu0", epoch(self.start))][2], 60)

    def test_an_hourly_temperature_chart_reads_the_rollup_and_gives_the_raw_means(self):
        window = Window(self.start + timedelta(minutes=20), self.start + timedelta(hours=5, minutes=40))
        fast = node_charts("node-1", window, ("temperature",), step=3600)["temperature"]
        slow = node_charts("node-1", window, ("temperature",), step=3600, use_rollup=False)["temperature"]
        self.assertIn(HOURLY_POLICY, fast.tiers)
        self.assertEqual(set(fast.lines), {"cpu", "gpu0"})
        for line in fast.lines:
            self.assertEqual(fast.lines[line], pytest.approx(slow.lines[line], rel=1e-9), line)

    def test_a_temperature_sixty_days_ago_is_read_from_the_rollup(self):
        # Beyond the raw retention only the rollup holds it: written as the rollup writes it.
        hour = hours_ago(60 * 24)
        write([Point(TEMPERATURE, {"node_name": "node-1", "sensor": "cpu", "source": "push"},
                     {"celsius_sum": 47.5 * 120, "celsius_max": 61.0, "celsius_samples": 120.0}, epoch(hour))],
              policy=HOURLY_POLICY)
        window = Window(hours_ago(90 * 24), hours_ago(0))
        chart = node_charts("node-1", window, ("temperature",))["temperature"]
        self.assertIn(HOURLY_POLICY, chart.tiers)
        at = max(i for i, t in enumerate(chart.times) if t <= epoch(hour))
        self.assertEqual(chart.lines["cpu"][at], pytest.approx(47.5))
        self.assertEqual(sum(v is not None for v in chart.lines["cpu"][:at + 1]), 1)
        # The raw hours of the last days are in the same chart.
        self.assertTrue(any(v is not None for v in chart.lines["gpu0"]))

    def test_the_audit_finds_a_temperature_that_landed_after_its_hour_was_rolled(self):
        self.assertEqual(audit_rollup(days=2), [])
        late = self.start + 2 * HOUR
        write([Point(TEMPERATURE, {"node_name": "node-1", "sensor": "cpu", "source": "push"},
                     {"celsius": 90.0}, epoch(late) + 7)])
        self.assertEqual(audit_rollup(days=2), [late])


@uses_store
class MetricSeriesTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(31)
        varied_usage(self.start, 30)
        rollup_window(self.start, self.start + 30 * HOUR)
        self.window = Window(self.start + timedelta(minutes=20, seconds=7),
                             self.start + timedelta(hours=29, minutes=41))

    def assert_same(self, fast, slow):
        self.assertEqual(fast.times, slow.times)
        self.assertEqual(set(fast.lines), set(slow.lines))
        self.assertTrue(fast.lines)
        for line in fast.lines:
            self.assertEqual(fast.lines[line], pytest.approx(slow.lines[line], rel=1e-9))

    def test_rollup_metrics_give_the_raw_numbers_at_an_hourly_step(self):
        for name in ("cpu/usage_rate", "memory/working_set", "cpu/usage", "memory/cache", "gpu/utilization",
                     "gpu/usage"):
            with self.subTest(name):
                selection = Selection(namespaces=("alpha-dev", "alpha-prod"))
                fast = metric_series(METRICS[name], self.window, selection, step=3600)
                slow = metric_series(METRICS[name], self.window, selection, step=3600, use_rollup=False)
                self.assertIn(HOURLY_POLICY, fast.tiers, name)
                self.assert_same(fast, slow)

    def test_the_namespace_tier_gives_the_raw_numbers_too(self):
        fill_namespace_tier(get_redis(), self.start + 31 * HOUR)
        selection = Selection.one("alpha-dev")
        fast = metric_series(METRICS["cpu/usage_rate"], self.window, selection, step=3600)
        slow = metric_series(METRICS["cpu/usage_rate"], self.window, selection, step=3600, use_rollup=False)
        self.assertIn(NAMESPACE_POLICY, fast.tiers)
        self.assert_same(fast, slow)

    def test_a_namespaces_cpu_line_is_its_mean_millicores(self):
        # alpha-prod's one container runs at 300 + (i * 13) % 50 millicores: between 300 and 350.
        series = metric_series(METRICS["cpu/usage_rate"], Window(self.start + 3 * HOUR, self.start + 9 * HOUR),
                               Selection.one("alpha-prod"), step=3600)
        values = [v for v in series.lines["value"] if v is not None]
        self.assertEqual(len(values), 6)
        self.assertTrue(all(300 <= v <= 350 for v in values), values)

    def test_a_foreign_namespace_selection_reads_nothing_of_the_others(self):
        series = metric_series(METRICS["cpu/usage_rate"], self.window, Selection.one("nobody-owns-this"))
        self.assertEqual(series.lines, {})
        empty = metric_series(METRICS["cpu/usage_rate"], self.window, Selection(namespaces=()))
        self.assertEqual(empty.lines, {})
        self.assertLessEqual(len(empty.times), MAX_POINTS)


@uses_store
class CounterSeriesTests(BaseTestCase):
    def test_a_network_rate_is_bytes_per_second_and_survives_a_reset(self):
        start = hours_ago(2)
        write(network_series("alpha-dev", "web-1", start, 240, rx_per_second=1000.0, reset_at=120))
        window = Window(start, start + HOUR)
        rate = metric_series(METRICS["network/rx_rate"], window, Selection.one("alpha-dev"), step=300)
        values = rate.lines["value"]
        self.assertEqual(len(values), 12 if start.timestamp() % 300 == 0 else 13)
        inner = [v for v in values[1:-1] if v is not None]
        self.assertTrue(inner)
        # Each bucket of 20 samples has 19 or 20 differences of 15,000 bytes: 950 to 1,000 B/s.
        self.assertTrue(all(950 <= v <= 1000 for v in inner), values)
        increase = metric_series(METRICS["network/rx"], window, Selection.one("alpha-dev"), step=300)
        self.assertEqual(sum(v for v in increase.lines["value"] if v), 1000.0 * 15 * 238)  # 239 steps, one a reset


@uses_store
class TenantNodeChartTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(1)
        write(container_series("alpha-dev", "web-1", "app", self.start, 240, cpu=200.0, node="node-1"))
        write(container_series("beta-web", "front-1", "app", self.start, 240, cpu=700.0, node="node-1"))
        write(container_series("alpha-dev", "web-2", "app", self.start, 240, cpu=900.0, node="node-2"))

    def test_a_tenant_sees_only_its_own_pods_on_a_shared_node(self):
        charts = node_charts("node-1", Window(self.start, self.start + HOUR), selection=Selection.one("alpha-dev"))
        self.assertNotIn("temperature", charts)
        values = charts["cpu"].lines["your pods"]
        self.assertEqual(sum(v is not None for v in values), 240)
        self.assertEqual([v for v in values if v is not None], [pytest.approx(0.2)] * 240)

    def test_the_edge_buckets_of_a_window_are_not_inflated(self):
        # The window ends 3 s after a sample that stands for 15 s: 0.2 cores, not 1.0.
        window = Window(self.start + timedelta(seconds=7), self.start + timedelta(seconds=153))
        charts = node_charts("node-1", window, ("cpu",), selection=Selection.one("alpha-dev"))
        values = charts["cpu"].lines["your pods"]
        self.assertIsNone(values[0])
        self.assertEqual([v for v in values if v is not None], [pytest.approx(0.2)] * 10)

    def test_a_tenant_without_namespaces_reads_nothing(self):
        charts = node_charts("node-1", Window(self.start, self.start + HOUR), selection=Selection(namespaces=()))
        self.assertEqual(charts["cpu"].lines, {})

    def test_samples_drifting_across_bucket_boundaries_do_not_double_a_bucket(self):
        # Every 15 s on average, but the kubelet's times drift: 29 s and 30 s land in one 15 s bucket.
        start = epoch(self.start) + 3600 * 3
        offsets = [0, 15, 29, 30, 45, 59, 60, 75, 90]
        points, previous = [], -15
        for offset in offsets:
            interval = offset - previous
            previous = offset
            points.append(Point("kubernetes_pod_container", {"namespace": "alpha-dev", "pod_name": "drift-1",
                                                              "container_name": "app", "node_name": "node-9"},
                                container_fields(300.0, 2**27, interval=float(interval)), start + offset))
        write(points)
        window = Window(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + 105, UTC))
        charts = node_charts("node-9", window, ("cpu",), selection=Selection.one("alpha-dev"))
        values = [v for v in charts["cpu"].lines["your pods"] if v is not None]
        self.assertEqual(values, [pytest.approx(0.3)] * len(values))
        series = metric_series(METRICS["cpu/usage_rate"], window, Selection.one("alpha-dev"))
        self.assertTrue(all(v == pytest.approx(300.0) for v in series.lines["value"] if v is not None),
                        series.lines["value"])
