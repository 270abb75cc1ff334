"""Tenant isolation of ``GET /api/allocation``: the two-tenant matrix of the metric API (test_isolation.py).

Every aggregate, alone and combined, with and without idle: a tenant's rows hold only its own
namespaces' resource-time, never name another's, never show ``__idle__``; a foreign namespace
is a 404 like a missing one.
"""

import pytest

from api.opencost import AGGREGATES
from tests.api.test_isolation import NAMESPACES, every_kind_of_point
from tests.support.base import BaseTestCase, hours_ago, uses_store

AGGREGATE_CASES = [""] + list(AGGREGATES) + ["namespace,pod", "node,namespace", "tenant,controller", "cluster,node"]
FLAGS = [{}, {"includeIdle": "true"}, {"shareIdle": "true"}, {"idle": "true", "step": "30m"}]
FOREIGN = {"alpha": {"beta-web", "default", "kube-system", "orphan"},
           "beta": {"alpha-dev", "alpha-prod", "default", "kube-system", "orphan"}}


@uses_store
class AllocationIsolationTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(1)
        every_kind_of_point(self.start)
        self.window = f"{self.start.isoformat()},{hours_ago(0).isoformat()}"

    def global_cpu(self):
        [data] = self.ask(lambda p: self.client.get("/api/allocation", p, **self.headers("global")),
                          aggregate="namespace")
        return {name: row["cpuCoreHours"] for name, row in data.items()}

    def ask(self, get, **params):
        response = get({"window": self.window, **params})
        self.assertEqual(response.status_code, 200, (params, response.content[:200]))
        return response.json()["data"]

    def check_matrix(self, who, own, get):
        everyone = self.global_cpu()
        self.assertEqual(set(everyone), set(NAMESPACES))
        own_cpu = sum(everyone[n] for n in own)
        checked = 0
        # Each aggregate with one set of flags in turn (every flag meets several aggregates): the full
        # product costs a second of InfluxDB reads per request for no other path through the code.
        for n, aggregate in enumerate(AGGREGATE_CASES):
            flags = FLAGS[n % len(FLAGS)]
            label = (who, aggregate, flags)
            sets = self.ask(get, aggregate=aggregate, **flags)
            self.assertTrue(sets, label)
            cpu = 0.0
            for data in sets:
                self.assertNotIn("__idle__", data, label)
                for name, row in data.items():
                    namespace = row["properties"].get("namespace")
                    if namespace is not None:
                        self.assertIn(namespace, own, label)
                    for foreign in FOREIGN[who]:
                        self.assertNotIn(foreign, name.split("/"), label)
                    cpu += row["cpuCoreHours"]
                    checked += 1
            # Whatever the grouping, the rows add up to the tenant's own namespaces and nothing else.
            self.assertEqual(cpu, pytest.approx(own_cpu, abs=1e-4), label)
        for namespace in FOREIGN[who] | {"no-such-ns"}:
            response = get({"window": self.window, "filterNamespaces": namespace})
            self.assertEqual(response.status_code, 404, (who, namespace))
            self.assertEqual(response.json()["message"], f"Namespace {namespace!r} not found")
        return checked

    def test_alpha_credential_sees_only_alpha(self):
        rows = self.check_matrix("alpha", {"alpha-dev", "alpha-prod"},
                                 lambda p: self.client.get("/api/allocation", p, **self.headers("alpha")))
        self.assertGreater(rows, 15)

    def test_beta_credential_sees_only_beta(self):
        self.check_matrix("beta", {"beta-web"}, lambda p: self.client.get("/api/allocation", p, **self.headers("beta")))

    def test_a_web_session_sees_its_tenants_namespaces(self):
        for user, own in ((self.alice, {"alpha-dev", "alpha-prod"}), (self.bob, {"beta-web"})):
            self.client.force_login(user)
            [data] = self.ask(lambda p: self.client.get("/api/allocation", p), aggregate="namespace",
                              includeIdle="true")
            self.assertEqual(set(data), own)
            self.client.logout()

    @pytest.mark.slow
    def test_web_sessions_follow_their_memberships(self):
        for user, who, own in ((self.alice, "alpha", {"alpha-dev", "alpha-prod"}), (self.bob, "beta", {"beta-web"})):
            self.client.force_login(user)
            self.check_matrix(who, own, lambda p: self.client.get("/api/allocation", p))
            self.client.logout()

    def test_the_global_credential_sees_every_namespace_and_idle(self):
        [data] = self.ask(lambda p: self.client.get("/api/allocation", p, **self.headers("global")),
                          aggregate="namespace", includeIdle="true")
        self.assertEqual(set(data), set(NAMESPACES) | {"__idle__"})

    def test_a_namespace_moved_to_another_tenant_disappears_at_once(self):
        self.beta.assign("alpha-prod")
        [data] = self.ask(lambda p: self.client.get("/api/allocation", p, **self.headers("alpha")),
                          aggregate="namespace")
        self.assertEqual(set(data), {"alpha-dev"})
