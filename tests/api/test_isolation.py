"""Tenant isolation: two tenants x every endpoint x every mode: zero rows of a namespace they do not own."""

from kubemon.timeseries import Point
from metrics.catalogue import METRICS
from tests.support.base import BaseTestCase, container_series, epoch, hours_ago, network_series, uses_store, write

MODES = (None, "pod-by-namespace", "all-namespace", "all-pod")
NAMESPACES = ("alpha-dev", "alpha-prod", "beta-web", "default", "kube-system", "orphan")
NAMESPACE_METRICS = [name for name, metric in METRICS.items() if metric.level == "namespace"]
NODE_METRICS = [name for name, metric in METRICS.items() if metric.level == "node"]


def every_kind_of_point(start):
    points = []
    t = epoch(start)
    for ns in NAMESPACES:
        points += container_series(ns, f"{ns}-pod", "app", start, 20, cpu=50.0, gpus=1)
        # A sample after a gap, with the coverage fields (collectors.sampling).
        points.append(Point("kubernetes_pod_container", {"namespace": ns, "pod_name": f"{ns}-pod",
                                                         "container_name": "app", "node_name": "node-1"},
                            {"interval_seconds": 300.0, "gap_seconds": 285.0, "unobserved_seconds": 100.0},
                            t + 20 * 15 + 400))
        points += network_series(ns, f"{ns}-pod", start, 20)
        for i in range(20):
            pod_tags = {"namespace": ns, "pod_name": f"{ns}-pod", "node_name": "node-1"}
            points.append(Point("kubernetes_pod", pod_tags, {"uptime_seconds": 60.0 + i * 15, "containers": 1},
                                t + i * 15))
            points.append(Point("kubernetes_pod_volume", {**pod_tags, "volume_name": "data"},
                                {"inodes": 1000, "inodes_free": 900}, t + i * 15))
            gpu_tags = {"node_name": "node-1", "gpu": "0", "uuid": f"GPU-{ns}", "model_name": "T4", "namespace": ns,
                        "pod_name": f"{ns}-pod", "container_name": "app"}
            gpu_fields = {"memory_used_bytes": 2.0**20, "memory_used_bytes_integral": 15 * 2.0**20,
                          "utilization_percent": 10.0, "utilization_percent_integral": 150.0,
                          "power_watts": 70.0, "power_watts_integral": 1050.0,
                          "temperature_celsius": 50.0, "interval_seconds": 15.0}
            points.append(Point("gpu", gpu_tags, gpu_fields, t + i * 15))
    points.append(Point("kubernetes_node", {"node_name": "node-1"}, {"capacity_millicpu_cores": 4000.0}, t))
    points.append(Point("node_temperature", {"node_name": "node-1", "sensor": "cpu", "source": "agent"},
                        {"celsius": 50.0}, t))
    write(points)


@uses_store
class TenantIsolationTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(1)
        every_kind_of_point(self.start)

    def check_matrix(self, who, own, ask):
        """``ask(metric, body)`` → response; every row must belong to ``own``; foreign namespaces 404."""
        checked_rows = 0
        for metric in NAMESPACE_METRICS:
            for mode in MODES:
                for namespace in NAMESPACES:
                    body = {"timeBeginInterval": self.start.isoformat(), "namespace": namespace,
                            "excludeNamespaces": [], "limit": 1000}
                    if mode:
                        body["agg"] = mode
                    response = ask(metric, body)
                    label = (who, metric, mode, namespace)
                    if mode in (None, "pod-by-namespace") and namespace not in own:
                        self.assertEqual(response.status_code, 404, label)
                        continue
                    self.assertEqual(response.status_code, 200, label)
                    rows = response.json()
                    self.assertIsInstance(rows, list, label)
                    self.assertTrue(rows, label)  # every namespace has data for every metric
                    for row in rows:
                        self.assertIn(row["namespace_name"], own, label)
                        if mode in (None, "pod-by-namespace"):
                            self.assertEqual(row["namespace_name"], namespace, label)
                    if mode in ("all-namespace", "all-pod"):
                        self.assertEqual({r["namespace_name"] for r in rows}, set(own), label)
                    checked_rows += len(rows)
        for metric in NODE_METRICS:
            self.assertEqual(ask(metric, {"timeBeginInterval": self.start.isoformat()}).status_code, 403)
        return checked_rows

    def test_alpha_credential_sees_only_alpha(self):
        rows = self.check_matrix("alpha", {"alpha-dev", "alpha-prod"},
                                 lambda m, b: self.post_metric(m, b, who="alpha"))
        self.assertGreater(rows, 500)

    def test_beta_credential_sees_only_beta(self):
        self.check_matrix("beta", {"beta-web"}, lambda m, b: self.post_metric(m, b, who="beta"))

    def test_web_sessions_follow_their_memberships(self):
        for user, own in ((self.alice, {"alpha-dev", "alpha-prod"}), (self.bob, {"beta-web"})):
            self.client.force_login(user)
            self.check_matrix(user.username, own,
                              lambda m, b: self.client.post(f"/api/{m}", b, format="json"))
            self.client.logout()

    def test_the_global_credential_sees_every_namespace(self):
        body = {"timeBeginInterval": self.start.isoformat(), "agg": "all-namespace", "excludeNamespaces": []}
        rows = self.post_metric("cpu/usage_rate", body, who="global").json()
        self.assertEqual({r["namespace_name"] for r in rows}, set(NAMESPACES))
        self.assertEqual(self.post_metric("cpu/node_capacity", {"timeBeginInterval": self.start.isoformat()},
                                          who="global").status_code, 200)

    def test_a_foreign_namespace_and_a_missing_one_get_the_same_404(self):
        foreign = self.post_metric("cpu/usage_rate", {"namespace": "beta-web"}, who="alpha")
        missing = self.post_metric("cpu/usage_rate", {"namespace": "no-such-ns"}, who="alpha")
        self.assertEqual(foreign.status_code, missing.status_code)
        self.assertEqual(foreign.json()["message"].replace("beta-web", "X"),
                         missing.json()["message"].replace("no-such-ns", "X"))

    def test_a_namespace_moved_to_another_tenant_disappears_at_once(self):
        self.beta.assign("alpha-prod")
        response = self.post_metric("cpu/usage_rate", {"namespace": "alpha-prod"}, who="alpha")
        self.assertEqual(response.status_code, 404)
        rows = self.post_metric("cpu/usage_rate", {"agg": "all-namespace",
                                                   "timeBeginInterval": self.start.isoformat()}, who="beta").json()
        self.assertEqual({r["namespace_name"] for r in rows}, {"beta-web", "alpha-prod"})

    def test_the_catalogue_is_the_same_for_everyone(self):
        anonymous = self.client.get("/api/metrics").json()
        self.assertEqual(self.client.get("/api/metrics", **self.headers("alpha")).json(), anonymous)
