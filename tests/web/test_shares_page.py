"""The namespace shares page starts from the scoped live view, without the system namespaces."""

from kubemon.liveview import P
from tests.support.base import BaseTestCase, uses_redis
from tests.web.charts_support import store_view


def embedded_pods(response):
    return {(row[P["namespace"]], row[P["name"]]) for row in response.context["live_view"]["pods"]}


@uses_redis
class SharesPageTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        from kubemon.redis import get_redis

        store_view(get_redis())

    def test_a_tenant_gets_only_its_own_pods(self):
        self.client.force_login(self.alice)
        response = self.client.get("/web/shares/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(embedded_pods(response), {("alpha-dev", "web-1"), ("alpha-prod", "api-1")})
        text = response.content.decode()
        self.assertNotIn("beta-web", text)
        self.assertNotIn("front-1", text)

    def test_staff_see_every_namespace_but_the_system_ones(self):
        self.client.force_login(self.charlie)
        response = self.client.get("/web/shares/")
        pods = embedded_pods(response)
        self.assertIn(("beta-web", "front-1"), pods)
        self.assertIn(("beta-web", "front-2"), pods)  # failed: still holds its requests
        self.assertNotIn(("kube-system", "coredns-1"), pods)
        # The text summary lists the largest CPU users first, linked to the overview filtered by namespace.
        cpu = response.context["shares"][0]
        self.assertEqual([entry["namespace"] for entry in cpu["top"]], ["beta-web", "alpha-prod", "alpha-dev"])
        self.assertIn('href="/?namespace=beta-web"', response.content.decode())

    def test_the_excluded_namespaces_are_a_setting(self):
        self.client.force_login(self.charlie)
        with self.settings(WEB_SHARES_EXCLUDED_NAMESPACES=["beta-web"]):
            pods = embedded_pods(self.client.get("/web/shares/"))
        self.assertIn(("kube-system", "coredns-1"), pods)
        self.assertNotIn(("beta-web", "front-1"), pods)

    def test_the_page_waits_for_the_first_cycle_without_failing(self):
        from kubemon import keys
        from kubemon.redis import get_redis

        get_redis().delete(keys.SNAPSHOT)
        self.client.force_login(self.alice)
        response = self.client.get("/web/shares/")
        self.assertEqual(response.status_code, 200)
        self.assertIn("waiting for the first collection cycle", response.content.decode())

    def test_an_anonymous_visitor_is_sent_to_the_login_page(self):
        self.assertEqual(self.client.get("/web/shares/").status_code, 302)
