"""Hostile strings in every body field and in the metric path: a 400, a 404 or an empty set, never data
of another namespace, never a 500, and the database is still there afterwards."""

import json
from urllib.parse import quote

from tests.support.base import BaseTestCase, container_series, hours_ago, uses_store, write

HOSTILE = [
    "' OR 1=1 --",
    "x' or namespace =~ /.*/ or 'a'='b",
    "alpha-dev' OR namespace = 'beta-web",
    '"; DROP DATABASE "kubemon_test"; --',
    "beta-web\" OR \"1\"=\"1",
    "$ns0",
    "/.*/",
    "a\x00b",
    "line\nbreak",
    "../../etc/passwd",
    "${jndi:ldap://x/a}",
    "🚀 日本語",
    "1; DROP MEASUREMENT kubernetes_pod_container",
    "x" * 10000,
    "",
    " ",
]
FIELDS = ("namespace", "limit", "agg", "timeBeginInterval", "timeEndInterval", "excludeNamespaces", "unknownField")


@uses_store
class HostileInputTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(1)
        write(container_series("alpha-dev", "a-1", "app", self.start, 10, cpu=10.0)
              + container_series("beta-web", "b-1", "app", self.start, 10, cpu=20.0))

    def assert_harmless(self, response, label):
        self.assertIn(response.status_code, (200, 400, 404), label)
        payload = response.json()
        if isinstance(payload, dict):
            self.assertEqual(payload["code"], response.status_code, label)
            self.assertIsInstance(payload["message"], str)
        else:
            self.assertTrue(all(row["namespace_name"] == "alpha-dev" for row in payload), label)

    def assert_data_intact(self):
        rows = self.post_metric("cpu/usage_rate", {"agg": "all-namespace", "timeBeginInterval": self.start.isoformat()},
                                who="global").json()
        self.assertEqual({r["namespace_name"]: r["samples"] for r in rows}, {"alpha-dev": 10, "beta-web": 10})

    def test_every_body_field(self):
        for field in FIELDS:
            for value in HOSTILE:
                for agg in (None, "pod-by-namespace", "all-namespace", "all-pod"):
                    body = {"namespace": "alpha-dev", "timeBeginInterval": self.start.isoformat()}
                    if agg:
                        body["agg"] = agg
                    body[field] = [value] if field == "excludeNamespaces" else value
                    response = self.post_metric("cpu/usage_rate", body)
                    self.assert_harmless(response, (field, value[:30], agg))
                    if field in ("namespace", "agg", "timeBeginInterval", "timeEndInterval") and value.strip():
                        self.assertEqual(response.status_code, 400, (field, value[:30], agg))
                        self.assertTrue(response.json()["message"].startswith(field), response.json())
        self.assert_data_intact()

    def test_the_metric_path(self):
        for value in HOSTILE + ["cpu/usage_rate\" OR 1=1", "cpu/usage_rate; DROP", "..%2F..%2Fadmin", "%00",
                                "cpu/usage_rate/../memory/usage", "kubernetes_pod_container"]:
            if not value.strip():
                continue
            response = self.client.generic("POST", "/api/" + quote(value, safe="/%"), "{}",
                                           content_type="application/json", **self.headers())
            self.assertIn(response.status_code, (404, 400), value[:30])
            self.assertEqual(response.json()["code"], response.status_code)
        self.assert_data_intact()

    def test_hostile_json_shapes(self):
        for raw in ('{"namespace": {"$ne": 1}}', '{"namespace": ["alpha-dev", "beta-web"]}', '{"limit": {"a": 1}}',
                    '{"agg": ["all-pod"]}', '{"timeBeginInterval": {"x": 1}}', "[" * 5000 + "]" * 5000,
                    "null", "NaN", '{"limit": NaN}',
                    json.dumps({"excludeNamespaces": ["kube-system"] * 2000, "agg": "all-namespace"})):
            response = self.post_metric("cpu/usage_rate", raw_body=raw)
            self.assertEqual(response.status_code, 400, raw[:40])
        # A repeated key: the last one wins, and it names a namespace alpha does not own.
        duplicate = self.post_metric("cpu/usage_rate", raw_body='{"namespace": "alpha-dev", "namespace": "beta-web"}')
        self.assertEqual(duplicate.status_code, 404)
        self.assert_data_intact()
