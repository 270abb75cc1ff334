"""GET /api/metrics, the OpenAPI schema at /api/schema/ and the self-hosted docs page at /api/docs/."""

import re

from django.test import TestCase

from kubemon.timeseries.schema import MEASUREMENTS
from metrics.catalogue import METRICS

HEAPSTER = {
    "cpu/usage_rate", "cpu/usage", "cpu/request", "cpu/limit", "cpu/node_capacity", "cpu/node_allocatable",
    "cpu/node_reservation", "cpu/node_utilization", "memory/usage", "memory/working_set", "memory/rss",
    "memory/cache", "memory/request", "memory/limit", "memory/page_faults", "memory/page_faults_rate",
    "memory/major_page_faults", "memory/major_page_faults_rate", "memory/node_capacity", "memory/node_allocatable",
    "memory/node_reservation", "memory/node_utilization", "network/rx", "network/rx_rate", "network/rx_errors",
    "network/rx_errors_rate", "network/tx", "network/tx_rate", "network/tx_errors", "network/tx_errors_rate",
    "filesystem/usage", "filesystem/limit", "filesystem/available", "filesystem/inodes", "filesystem/inodes_free",
    "uptime", "gpu/usage",
}


class CatalogueTests(TestCase):
    def test_it_lists_the_whole_heapster_catalogue_without_credentials(self):
        response = self.client.get("/api/metrics")
        self.assertEqual(response.status_code, 200)
        names = {m["name"] for m in response.json()}
        self.assertTrue(HEAPSTER <= names, HEAPSTER - names)
        self.assertIn("gpu/utilization", names)

    def test_every_entry_names_a_real_measurement_and_field(self):
        for entry in self.client.get("/api/metrics/").json():
            measurement = MEASUREMENTS[entry["measurement"]]
            for field in entry["field"].split(","):
                self.assertIn(field, measurement.fields, entry["name"])
            self.assertTrue(entry["unit"] and entry["description"], entry["name"])

    def test_units_follow_heapster(self):
        units = {m["name"]: m["unit"] for m in self.client.get("/api/metrics").json()}
        self.assertEqual(units["cpu/usage_rate"], "millicores")
        self.assertEqual(units["memory/usage"], "bytes")
        self.assertEqual(units["gpu/usage"], "MB")
        self.assertEqual(units["uptime"], "ms")

    def test_the_catalogue_is_read_only(self):
        self.assertEqual(self.client.post("/api/metrics").status_code, 405)


class SchemaAndDocsTests(TestCase):
    def test_the_schema_describes_the_query_and_the_header_credentials(self):
        response = self.client.get("/api/schema/?format=json")
        self.assertEqual(response.status_code, 200)
        schema = response.json()
        operation = schema["paths"]["/api/{metric}"]["post"]
        self.assertEqual(set(operation["requestBody"]["content"]), {"application/json"})
        for code in ("200", "400", "401", "404", "405", "429", "503"):
            self.assertIn(code, operation["responses"])
        schemes = schema["components"]["securitySchemes"]
        self.assertEqual(schemes["XUsername"]["name"], "X-USERNAME")
        self.assertEqual(schemes["XPassword"]["name"], "X-PASSWORD")
        body = schema["components"]["schemas"]["MetricQuery"]["properties"]
        self.assertEqual(set(body), {"namespace", "limit", "agg", "timeBeginInterval", "timeEndInterval",
                                     "excludeNamespaces"})

    def test_the_docs_page_loads_nothing_from_another_host(self):
        response = self.client.get("/api/docs/")
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        self.assertIn("swagger-ui", html)
        external = [url for url in re.findall(r"""(?:src|href)=["']([^"']+)""", html) if "//" in url]
        self.assertEqual(external, [])
        self.assertIn("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", html)

    def test_every_catalogue_metric_is_answered_by_the_query_endpoint(self):
        names = [m["name"] for m in self.client.get("/api/metrics").json()]
        self.assertEqual(sorted(names), sorted(METRICS))
