"""The three agg modes: shape and numbers against data written with known values."""

from datetime import timedelta

from tests.support.base import BaseTestCase, container_series, hours_ago, uses_store, write

MIB = 2**20


def known_cluster(start):
    """One hour of 15 s samples in [start, start + 1 h), plus one sample on each side of the window."""
    before = start - timedelta(seconds=15)
    points = []
    for ns, pod, container, cpu, memory in (
        ("alpha-dev", "web-1", "app", 200.0, 100 * MIB),
        ("alpha-dev", "web-1", "sidecar", 50.0, 20 * MIB),
        ("alpha-dev", "web-2", "app", 100.0, 50 * MIB),
        ("alpha-prod", "api-1", "app", 300.0, 200 * MIB),
        ("beta-web", "front-1", "app", 400.0, 300 * MIB),
        ("kube-system", "coredns-1", "coredns", 10.0, 10 * MIB),
        ("default", "d-1", "main", 20.0, 5 * MIB),
        # Same pod name in two namespaces: the legacy all-pod merged them.
        ("beta-web", "web-1", "app", 40.0, 4 * MIB),
    ):
        points += container_series(ns, pod, container, before, 242, cpu=cpu, memory=memory)
    write(points)


@uses_store
class AggregateModeTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(3)
        known_cluster(self.start)
        self.window = {"timeBeginInterval": self.start.strftime("%Y-%m-%d %H:%M:%S"),
                       "timeEndInterval": (self.start + timedelta(hours=1)).isoformat()}

    def query(self, metric, who="global", **body):
        response = self.post_metric(metric, {**self.window, **body}, who=who)
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def test_pod_by_namespace_sums_the_containers_of_each_pod(self):
        rows = self.query("cpu/usage_rate", agg="pod-by-namespace", namespace="alpha-dev", who="alpha")
        begin = self.start.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(rows, [
            {"time": begin, "sum": 60000.0, "namespace_name": "alpha-dev", "pod_name": "web-1",
             "integral": 900000.0, "mean": 250.0, "max": 200.0, "samples": 480, "unit": "millicores"},
            {"time": begin, "sum": 24000.0, "namespace_name": "alpha-dev", "pod_name": "web-2",
             "integral": 360000.0, "mean": 100.0, "max": 100.0, "samples": 240, "unit": "millicores"},
        ])

    def test_all_namespace_excludes_kube_system_by_default(self):
        rows = self.query("cpu/usage_rate", agg="all-namespace")
        self.assertEqual([set(r) for r in rows][0],
                         {"time", "sum", "namespace_name", "integral", "mean", "max", "samples", "unit"})
        by_ns = {r["namespace_name"]: r for r in rows}
        self.assertEqual(set(by_ns), {"alpha-dev", "alpha-prod", "beta-web", "default"})
        self.assertEqual(by_ns["alpha-dev"]["integral"], 1260000.0)
        self.assertAlmostEqual(by_ns["beta-web"]["mean"], 440.0)
        self.assertEqual(by_ns["default"]["sum"], 4800.0)

    def test_exclude_namespaces_overrides_the_default(self):
        everything = {r["namespace_name"] for r in self.query("cpu/usage_rate", agg="all-namespace",
                                                             excludeNamespaces=[])}
        self.assertIn("kube-system", everything)
        fewer = {r["namespace_name"] for r in self.query("cpu/usage_rate", agg="all-namespace",
                                                        excludeNamespaces=["default", "alpha-dev"])}
        self.assertEqual(fewer, {"alpha-prod", "beta-web", "kube-system"})

    def test_all_pod_keeps_pods_of_the_same_name_apart(self):
        rows = self.query("cpu/usage_rate", agg="all-pod")
        keys = [(r["namespace_name"], r["pod_name"]) for r in rows]
        self.assertEqual(keys, [("alpha-dev", "web-1"), ("alpha-dev", "web-2"), ("alpha-prod", "api-1"),
                                ("beta-web", "front-1"), ("beta-web", "web-1"), ("default", "d-1")])
        self.assertAlmostEqual(rows[4]["integral"], 40.0 * 3600, places=6)

    def test_a_tenant_sees_only_its_namespaces_in_all_modes(self):
        for mode in ("all-namespace", "all-pod"):
            rows = self.query("cpu/usage_rate", who="alpha", agg=mode, excludeNamespaces=[])
            self.assertEqual({r["namespace_name"] for r in rows}, {"alpha-dev", "alpha-prod"}, mode)

    def test_memory_integral_is_byte_seconds_and_cache_is_usage_minus_rss(self):
        usage = self.query("memory/usage", agg="pod-by-namespace", namespace="alpha-prod")[0]
        self.assertEqual(usage["integral"], 200 * MIB * 3600)
        self.assertEqual(usage["mean"], 200 * MIB)
        self.assertEqual(usage["unit"], "bytes")
        cache = self.query("memory/cache", agg="pod-by-namespace", namespace="alpha-prod")[0]
        self.assertAlmostEqual(cache["mean"], 50 * MIB)
        self.assertIsNone(cache["max"])

    def test_cpu_usage_is_the_exact_cpu_time_in_nanoseconds(self):
        row = self.query("cpu/usage", agg="all-pod")[0]
        self.assertEqual((row["namespace_name"], row["pod_name"]), ("alpha-dev", "web-1"))
        self.assertAlmostEqual(row["sum"], 0.25 * 3600 * 1e9)
        self.assertEqual(row["unit"], "ns")
        self.assertIsNone(row["integral"])
        self.assertEqual(row["samples"], 480)

    def test_requests_integrate_to_reserved_resource_time(self):
        row = self.query("cpu/request", agg="pod-by-namespace", namespace="alpha-dev")[0]
        self.assertEqual(row["integral"], 2 * 100.0 * 3600)  # two containers requesting 100m each

    def test_an_empty_window_answers_the_empty_set(self):
        body = {"timeBeginInterval": "2001-01-01", "timeEndInterval": "2001-01-02"}
        for mode in ("pod-by-namespace", "all-namespace", "all-pod"):
            response = self.post_metric("cpu/usage_rate", {**body, "agg": mode, "namespace": "alpha-dev"})
            self.assertEqual(response.json(), {"code": 200, "message": "Query returns empty set"})
