"""The overview page (/): login required, the view embedded is the one the user's scope allows."""

import orjson
import pytest
from django.test import Client

from collectors import snapshot
from kubemon.cluster import record_inventory
from kubemon.liveview import P
from kubemon.redis import get_redis
from tests.support.base import BaseTestCase
from tests.web.test_consumers import _cluster, _pod


def _embedded(response):
    html = response.content.decode()
    start = html.index('<script type="application/json" id="live-view">') + len(
        '<script type="application/json" id="live-view">')
    return orjson.loads(html[start:html.index("</script>", start)])


@pytest.mark.usefixtures("redis_db")
class OverviewTests(BaseTestCase):
    def setUp(self):
        self.client = Client()
        snapshot._last.update(seq=None, view=None)

    def publish(self):
        pods, usage, nodes = _cluster()
        record_inventory(get_redis(), nodes, {})
        return snapshot.publish_usage(get_redis(), pods, usage, 1000)

    def test_it_asks_an_anonymous_visitor_to_log_in(self):
        response = self.client.get("/")
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith("/web/login/?next=/"))

    def test_staff_get_every_pod_embedded_and_the_page_loads_its_bundle_without_inline_script(self):
        view = self.publish()
        self.client.force_login(self.charlie)
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        embedded = _embedded(response)
        self.assertEqual(embedded["seq"], view["seq"])
        self.assertEqual(sorted(row[P["name"]] for row in embedded["pods"]), ["api-1", "db-0", "etcd-cp-1", "web-1"])
        html = response.content.decode()
        self.assertIn('src="/static/web/overview.js"', html)
        self.assertNotIn("<script>", html)
        self.assertIn("Cluster totals", html)

    def test_a_tenant_member_gets_only_the_tenants_pods_and_nodes(self):
        self.publish()
        self.client.force_login(self.bob)
        embedded = _embedded(self.client.get("/"))
        self.assertEqual([row[P["name"]] for row in embedded["pods"]], ["web-1"])
        self.assertEqual([row[0] for row in embedded["nodes"]], ["node-1"])
        self.assertEqual(embedded["scope"], "tenant")

    def test_without_any_cycle_the_page_still_renders_with_blanks(self):
        self.client.force_login(self.alice)
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(_embedded(response)["pods"], [])
        self.assertContains(response, "No collection cycle yet")

    def test_a_pod_name_with_markup_cannot_end_the_embedded_script(self):
        pods, usage, nodes = _cluster()
        pods[("beta-web", "x</script><b>")] = _pod("beta-web", "x</script><b>", "node-1")
        record_inventory(get_redis(), nodes, {})
        snapshot.publish_usage(get_redis(), pods, usage, 1000)
        self.client.force_login(self.bob)
        response = self.client.get("/")
        self.assertNotIn("x</script><b>", response.content.decode())
        self.assertIn("x</script><b>", [row[P["name"]] for row in _embedded(response)["pods"]])
