"""Raw mode (no agg): rows newest first with legacy tag names; counters, rates, node and GPU metrics."""

from datetime import timedelta

from collectors.inventory import node_inventory
from collectors.podspec import ContainerSpec, PodInfo
from collectors.sampling import SamplingState
from collectors.usage import node_usage_point
from kubemon.timeseries import Point, get_store
from tests.support.base import BaseTestCase, container_series, epoch, hours_ago, network_series, uses_store, write


@uses_store
class RawRowTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(2)
        write(container_series("alpha-dev", "web-1", "app", self.start, 240, cpu=lambda i: 100.0 + i))
        write(container_series("alpha-prod", "api-1", "app", self.start, 240, cpu=999.0))
        self.window = {"timeBeginInterval": self.start.isoformat(),
                       "timeEndInterval": (self.start + timedelta(hours=1)).isoformat()}

    def test_it_returns_the_newest_rows_first_with_the_legacy_keys(self):
        response = self.post_metric("cpu/usage_rate", {**self.window, "namespace": "alpha-dev", "limit": "3"})
        rows = response.json()
        self.assertEqual(len(rows), 3)
        self.assertEqual(rows[0], {
            "time": (self.start + timedelta(seconds=239 * 15)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "value": 339.0, "namespace_name": "alpha-dev", "pod_name": "web-1", "container_name": "app",
            "nodename": "node-1", "type": "pod_container", "unit": "millicores",
        })
        self.assertEqual([r["value"] for r in rows], [339.0, 338.0, 337.0])

    def test_limit_is_a_string_or_an_integer_and_defaults_to_100(self):
        for limit, expected in (("7", 7), (7, 7), (None, 100), (" 12 ", 12)):
            body = {**self.window, "namespace": "alpha-dev"}
            if limit is not None:
                body["limit"] = limit
            self.assertEqual(len(self.post_metric("cpu/usage_rate", body).json()), expected, limit)

    def test_namespace_defaults_to_default(self):
        write(container_series("default", "d-1", "main", self.start, 4, cpu=5.0))
        rows = self.post_metric("cpu/usage_rate", self.window, who="global").json()
        self.assertEqual({r["namespace_name"] for r in rows}, {"default"})
        self.assertEqual(len(rows), 4)

    def test_a_tenant_asking_for_default_it_does_not_own_gets_404(self):
        response = self.post_metric("cpu/usage_rate", self.window)
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json(), {"code": 404, "message": "Namespace 'default' not found"})

    def test_the_begin_is_included_and_the_end_excluded(self):
        begin = self.start + timedelta(seconds=15)
        body = {"namespace": "alpha-dev", "limit": 10000, "timeBeginInterval": begin.isoformat(),
                "timeEndInterval": (begin + timedelta(seconds=30)).isoformat()}
        rows = self.post_metric("cpu/usage_rate", body).json()
        self.assertEqual([r["value"] for r in rows], [102.0, 101.0])

    def test_windows_with_nanosecond_boundaries_are_accepted_and_share_their_samples_exactly_once(self):
        # Samples in nanoseconds around one boundary: 1 µs before it, at it, and 1 ns after it.
        boundary = epoch(self.start + timedelta(hours=1, minutes=30)) * 10**9 + 123_456_789
        stamps = [boundary - 1_000, boundary, boundary + 1]
        tags = {"namespace": "alpha-dev", "pod_name": "ns-1", "container_name": "app", "node_name": "node-1"}
        report = get_store().write([Point("kubernetes_pod_container", tags, {"cpu_usage_nanocores": float(i) * 1e6},
                                          stamp) for i, stamp in enumerate(stamps)], precision="ns")
        self.assertEqual(report.written, 3)
        text = (self.start + timedelta(hours=1, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S") + ".123456789Z"
        before = self.start + timedelta(hours=1, minutes=29)
        after = self.start + timedelta(hours=1, minutes=31)
        earlier = self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev", "limit": 100,
                                                      "timeBeginInterval": before.isoformat(), "timeEndInterval": text})
        later = self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev", "limit": 100,
                                                    "timeBeginInterval": text, "timeEndInterval": after.isoformat()})
        self.assertEqual((earlier.status_code, later.status_code), (200, 200), (earlier.content, later.content))
        earlier_ns = [r["value"] for r in earlier.json() if r["pod_name"] == "ns-1"]
        later_ns = [r["value"] for r in later.json() if r["pod_name"] == "ns-1"]
        # The sample at the exact boundary starts the later window, as [begin, end) says.
        self.assertEqual(earlier_ns, [0.0])
        self.assertEqual(later_ns, [2.0, 1.0])


@uses_store
class CounterAndRateTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(2)
        write(network_series("alpha-dev", "web-1", self.start, 240, rx_per_second=1000.0, reset_at=100))
        self.window = {"namespace": "alpha-dev", "timeBeginInterval": self.start.isoformat(),
                       "timeEndInterval": (self.start + timedelta(hours=1)).isoformat()}

    def test_a_counter_aggregates_to_its_increase_skipping_the_reset(self):
        row = self.post_metric("network/rx", {**self.window, "agg": "pod-by-namespace"}).json()[0]
        self.assertEqual(row["sum"], 15000 * 238)  # 239 steps, one of them the reset
        self.assertEqual(row["samples"], 238)
        self.assertEqual(row["unit"], "bytes")

    def test_a_rate_aggregates_to_rates_and_the_increase(self):
        row = self.post_metric("network/rx_rate", {**self.window, "agg": "all-namespace"}).json()[0]
        self.assertEqual(row["max"], 1000.0)
        self.assertEqual(row["sum"], 1000.0 * 238)
        self.assertEqual(row["integral"], 15000 * 238)
        self.assertAlmostEqual(row["mean"], 15000 * 238 / 3600)

    def test_raw_rates_are_newest_first_and_never_show_the_reset(self):
        rows = self.post_metric("network/rx_rate", {**self.window, "limit": 1000}).json()
        self.assertEqual(len(rows), 238)
        self.assertEqual({r["value"] for r in rows}, {1000.0})
        self.assertEqual(rows[0]["time"], (self.start + timedelta(seconds=239 * 15)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.assertEqual(rows[0]["type"], "pod")
        self.assertNotIn("container_name", rows[0])

    def test_raw_counters_show_the_counter(self):
        rows = self.post_metric("network/rx", {**self.window, "limit": 1}).json()
        self.assertEqual(rows[0]["value"], 15000 * 139)


@uses_store
class NodeAndGpuMetricTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(2)
        t = epoch(self.start)
        write([
            Point("kubernetes_node", {"node_name": "node-1"},
                  {"capacity_millicpu_cores": 4000.0, "allocatable_millicpu_cores": 3800.0,
                   "requests_millicpu_units": 1900.0, "cpu_usage_nanocores": 950e6,
                   "interval_seconds": 15.0}, t),
            Point("node_temperature", {"node_name": "node-1", "sensor": "cpu", "source": "agent"},
                  {"celsius": 51.5}, t),
            Point("gpu", {"node_name": "node-1", "gpu": "0", "uuid": "GPU-1", "model_name": "A100",
                          "namespace": "alpha-dev", "pod_name": "train-0", "container_name": "tf"},
                  {"memory_used_bytes": 2048.0 * 2**20, "memory_used_bytes_integral": 2048.0 * 2**20 * 15,
                   "utilization_percent": 80.0, "utilization_percent_integral": 1200.0, "interval_seconds": 15.0}, t),
            Point("gpu", {"node_name": "node-1", "gpu": "1", "uuid": "GPU-2", "model_name": "A100"},
                  {"memory_used_bytes": 1.0 * 2**20, "interval_seconds": 15.0}, t),
        ])
        # The samples at `start` stand for the 15 s before it (t - interval, t]: the window holds them whole.
        self.window = {"timeBeginInterval": (self.start - timedelta(seconds=15)).isoformat()}

    def test_node_metrics_are_raw_rows_for_global_credentials(self):
        rows = self.post_metric("cpu/node_reservation", self.window, who="global").json()
        self.assertEqual(rows[0]["value"], 0.5)
        self.assertEqual(rows[0]["nodename"], "node-1")
        self.assertEqual(rows[0]["type"], "node")
        utilization = self.post_metric("cpu/node_utilization", self.window, who="global").json()
        self.assertEqual(utilization[0]["value"], 0.25)
        temperature = self.post_metric("temperature", self.window, who="global").json()
        self.assertEqual((temperature[0]["value"], temperature[0]["sensor"]), (51.5, "cpu"))

    def test_node_metrics_are_refused_to_tenants_and_to_agg_modes(self):
        refused = self.post_metric("cpu/node_capacity", self.window, who="alpha")
        self.assertEqual(refused.status_code, 403)
        no_agg = self.post_metric("cpu/node_capacity", {**self.window, "agg": "all-namespace"}, who="global")
        self.assertEqual(no_agg.status_code, 400)
        self.assertTrue(no_agg.json()["message"].startswith("agg:"))

    def test_gpu_memory_is_in_mb_with_the_nvml_agent_tag_names(self):
        rows = self.post_metric("gpu/usage", {**self.window, "namespace": "alpha-dev"}).json()
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["value"], 2048.0)
        self.assertEqual((rows[0]["gpu_index"], rows[0]["gpu_uuid"], rows[0]["gpu_name"]), ("0", "GPU-1", "A100"))
        agg = self.post_metric("gpu/usage", {**self.window, "agg": "all-namespace"}, who="global").json()
        # The unattributed GPU belongs to no namespace and is in no namespace's sum.
        self.assertEqual([(r["namespace_name"], r["sum"], r["integral"]) for r in agg],
                         [("alpha-dev", 2048.0, 2048.0 * 15)])


def node_json(name, cpu, memory):
    """A Kubernetes node object as the inventory cycle lists it."""
    resources = {"cpu": cpu, "memory": memory, "pods": "110"}
    return {"metadata": {"name": name, "labels": {}}, "spec": {},
            "status": {"capacity": dict(resources), "allocatable": resources,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def node_summary(name, moment, millicores, working_set):
    """The ``node`` part of a kubelet /stats/summary, as the usage cycle reads it."""
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"nodeName": name,
            "cpu": {"time": stamp, "usageNanoCores": millicores * 1_000_000,
                    "usageCoreNanoSeconds": int(epoch(moment)) * millicores * 1_000_000},
            "memory": {"time": stamp, "workingSetBytes": working_set, "usageBytes": working_set * 1.25}}


def running_pod(node, millicores, memory):
    return PodInfo(namespace="alpha-dev", name=f"pod-on-{node}", uid="u", node=node, phase="Running",
                   state="running", reason="", owner_kind="", owner_name="", start_time="",
                   containers={"app": ContainerSpec(requests_millicpu=millicores, requests_memory=memory)})


@uses_store
class NodeRatioTests(BaseTestCase):
    """Utilisation and reservation from points written by the real usage and inventory code: the
    usage fields and the allocatable ones are in different points with different timestamps."""

    GIB = 2**30

    def setUp(self):
        super().setUp()
        self.start = hours_ago(2)
        pods = {("alpha-dev", "a"): running_pod("node-1", 1000, 2 * self.GIB),
                ("alpha-dev", "b"): running_pod("node-2", 500, self.GIB)}
        points = []
        # Inventory: node-1 has 4 cores and 16 GiB allocatable until start+105 s, then 2 cores and
        # 8 GiB; node-2 has 8 cores and 32 GiB. The first inventory is before the window begins.
        for offset, node_1 in ((-25, ("4", "16Gi")), (5, ("4", "16Gi")), (35, ("4", "16Gi")), (105, ("2", "8Gi")),
                               (135, ("2", "8Gi"))):
            inventory, _ = node_inventory([node_json("node-1", *node_1), node_json("node-2", "8", "32Gi")], pods,
                                          epoch(self.start) + offset)
            points += inventory
        # Usage: every 15 s from the window's begin, 1 core and 4 GiB of working set on each node.
        sampling = SamplingState()
        for i in range(12):
            moment = self.start + timedelta(seconds=15 * i)
            for name in ("node-1", "node-2"):
                points.append(node_usage_point(node_summary(name, moment, 1000, 4 * self.GIB), sampling))
        write(points)
        self.body = {"timeBeginInterval": self.start.isoformat(),
                     "timeEndInterval": (self.start + timedelta(minutes=10)).isoformat(), "limit": 1000}

    def rows(self, metric, **body):
        response = self.post_metric(metric, {**self.body, **body}, who="global")
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def at(self, seconds):
        return (self.start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def test_cpu_utilisation_divides_each_usage_sample_by_the_nodes_latest_allocatable_at_or_before_it(self):
        rows = self.rows("cpu/node_utilization")
        node_1 = [(r["time"], r["value"]) for r in rows if r["nodename"] == "node-1"]
        # Samples at 0..90 s use the 4 cores of the inventory at -25, 5 or 35 s; from 105 s
        # (an inventory at that very second) on, the 2 cores.
        self.assertEqual(node_1, [(self.at(15 * i), 0.5 if 15 * i >= 105 else 0.25) for i in range(11, -1, -1)])
        node_2 = [r["value"] for r in rows if r["nodename"] == "node-2"]
        self.assertEqual(node_2, [0.125] * 12)
        self.assertEqual({(r["type"], r["unit"]) for r in rows}, {("node", "fraction")})

    def test_memory_utilisation_uses_the_working_set_over_the_allocatable_memory(self):
        rows = self.rows("memory/node_utilization")
        self.assertEqual([r["value"] for r in rows if r["nodename"] == "node-1"], [0.5] * 5 + [0.25] * 7)
        self.assertEqual([r["value"] for r in rows if r["nodename"] == "node-2"], [0.125] * 12)

    def test_utilisation_rows_are_the_limit_newest_samples_of_every_node_newest_first(self):
        rows = self.rows("cpu/node_utilization", limit="3")
        self.assertEqual(len(rows), 3)
        self.assertEqual([r["time"] for r in rows], sorted((r["time"] for r in rows), reverse=True))
        self.assertEqual(rows[0]["time"], self.at(165))
        self.assertTrue(all(r["value"] is not None for r in rows))

    def test_a_usage_sample_older_than_any_allocatable_has_no_utilisation(self):
        body = {"timeBeginInterval": (self.start - timedelta(minutes=5)).isoformat()}
        write([node_usage_point(node_summary("node-3", self.start - timedelta(minutes=1), 1000, self.GIB),
                                SamplingState())])
        rows = self.rows("cpu/node_utilization", **body)
        self.assertEqual([r["value"] for r in rows if r["nodename"] == "node-3"], [None])

    def test_reservation_divides_the_pod_requests_by_the_allocatable_of_the_same_inventory(self):
        cpu = self.rows("cpu/node_reservation")
        self.assertEqual([(r["time"], r["value"]) for r in cpu if r["nodename"] == "node-1"],
                         [(self.at(135), 0.5), (self.at(105), 0.5), (self.at(35), 0.25), (self.at(5), 0.25)])
        memory = self.rows("memory/node_reservation")
        self.assertEqual([r["value"] for r in memory if r["nodename"] == "node-2"], [1 / 32] * 4)
