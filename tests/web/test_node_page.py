"""The node page and its chart data: staff see any node, a tenant only nodes running its pods."""

from datetime import UTC, datetime, timedelta

from tests.metrics.test_series import node_points
from tests.support.base import BaseTestCase, container_series, hours_ago, uses_store, write
from tests.web.charts_support import store_view


@uses_store
class NodePageTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        from kubemon.redis import get_redis

        store_view(get_redis())
        self.start = hours_ago(1)
        # Samples over the last hour and a bit, on the 15 s grid: "range=1h" holds about 240 of them.
        now = datetime.now(UTC)
        self.recent = now.replace(second=now.second // 15 * 15, microsecond=0) - timedelta(minutes=62)

    def test_an_anonymous_visitor_is_sent_to_the_login_page(self):
        response = self.client.get("/web/nodes/node-1/")
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith("/web/login/?next=/web/nodes/node-1/"))
        data = self.client.get("/web/data/nodes/node-1/series")
        self.assertEqual(data.status_code, 401)

    def test_staff_see_every_pod_on_the_node_and_all_its_charts(self):
        self.client.force_login(self.charlie)
        response = self.client.get("/web/nodes/node-1/")
        self.assertEqual(response.status_code, 200)
        text = response.content.decode()
        for pod in ("web-1", "front-1", "api-1"):
            self.assertIn(pod, text)
        self.assertNotIn("front-2", text)  # on node-2
        for kind in ("cpu", "memory", "temperature", "gpu_utilization", "gpu_memory", "gpu_power"):
            self.assertIn(f'id="chart-{kind}"', text)
        self.assertIn("55.5 °C", text)
        self.assertIn('<td class="num">128 MiB</td>', text)  # as the live client writes it (charts.js)

    def test_a_tenant_sees_its_own_pods_on_a_shared_node_and_no_temperature(self):
        self.client.force_login(self.alice)
        response = self.client.get("/web/nodes/node-1/")
        self.assertEqual(response.status_code, 200)
        text = response.content.decode()
        self.assertIn("web-1", text)
        self.assertIn("api-1", text)
        self.assertNotIn("front-1", text)
        self.assertNotIn('id="chart-temperature"', text)
        self.assertNotIn("55.5", text)

    def test_a_node_without_the_tenants_pods_or_unknown_is_not_found(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get("/web/nodes/node-2/").status_code, 404)
        self.assertEqual(self.client.get("/web/nodes/node-3/").status_code, 404)
        self.assertEqual(self.client.get("/web/data/nodes/node-2/series").status_code, 404)
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get("/web/nodes/nowhere/").status_code, 404)

    def test_the_data_of_a_node_are_its_own_usage_for_staff(self):
        write(node_points("node-1", self.recent, 260))
        self.client.force_login(self.charlie)
        body = self.client.get("/web/data/nodes/node-1/series?range=1h").json()
        self.assertEqual(body["step"], 15)
        self.assertEqual(body["scope"], "node")
        self.assertLessEqual(len(body["times"]), 1000)
        cpu = body["charts"]["cpu"]
        self.assertEqual(cpu["unit"], "cores")
        values = [v for v in cpu["series"][0]["values"] if v is not None]
        self.assertGreaterEqual(len(values), 238)
        self.assertTrue(all(1.5 <= v <= 2.5 for v in values))
        self.assertEqual(body["charts"]["temperature"]["series"][0]["name"], "cpu")
        self.assertEqual(body["charts"]["gpu_power"]["series"], [])  # no GPU: "no data"
        self.assertEqual(body["allocatable"]["cpu_cores"], 8.0)

    def test_the_data_a_tenant_gets_are_its_pods_use_only(self):
        write(node_points("node-1", self.recent, 260))
        write(container_series("alpha-dev", "web-1", "app", self.recent, 260, cpu=200.0, node="node-1"))
        write(container_series("beta-web", "front-1", "app", self.recent, 260, cpu=700.0, node="node-1"))
        self.client.force_login(self.alice)
        body = self.client.get("/web/data/nodes/node-1/series?range=1h").json()
        self.assertEqual(body["scope"], "pods")
        self.assertNotIn("temperature", body["charts"])
        self.assertIsNone(body["allocatable"])
        values = [v for v in body["charts"]["cpu"]["series"][0]["values"] if v is not None]
        self.assertTrue(values)
        self.assertTrue(all(abs(v - 0.2) < 1e-9 for v in values), values[:5])

    def test_a_custom_range_and_bad_ranges(self):
        self.client.force_login(self.charlie)
        start = (self.start - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        end = self.start.strftime("%Y-%m-%dT%H:%M")
        body = self.client.get(f"/web/data/nodes/node-1/series?start={start}&end={end}").json()
        self.assertEqual(body["range"], "custom")
        self.assertEqual(body["step"], 300)
        for query, field in (("range=2h", "range"), (f"start={end}&end={start}", "start"), (f"start={start}", "end"),
                             ("start=yesterday&end=today", "start")):
            response = self.client.get(f"/web/data/nodes/node-1/series?{query}")
            self.assertEqual(response.status_code, 400, query)
            self.assertTrue(response.json()["message"].startswith(f"{field}:"), response.json())
        page = self.client.get("/web/nodes/node-1/?range=2h")
        self.assertEqual(page.status_code, 400)
        self.assertIn("range: must be one of", page.content.decode())
