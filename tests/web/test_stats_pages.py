"""The legacy stats pages: the catalogue, a metric's chart and newest rows, and a CSV equal to the API's rows."""

import csv
import io
from datetime import UTC, datetime, timedelta

from tests.support.base import BaseTestCase, container_series, uses_store, write


def parse_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


@uses_store
class StatsPageTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        now = datetime.now(UTC).replace(microsecond=0)
        self.start = now - timedelta(minutes=50)
        write(container_series("alpha-dev", "web-1", "app", self.start, 120, cpu=lambda i: 100 + i % 7, interval=15))
        write(container_series("alpha-dev", "web-2", "app", self.start, 120, cpu=250.0, interval=15))
        write(container_series("beta-web", "front-1", "app", self.start, 120, cpu=700.0, interval=15))
        self.begin = (self.start - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
        self.end = (self.start + timedelta(minutes=35)).strftime("%Y-%m-%d %H:%M:%S")

    def test_the_index_lists_the_catalogue_a_user_may_open(self):
        self.client.force_login(self.alice)
        text = self.client.get("/web/stats/index").content.decode()
        self.assertIn('href="/web/stats/cpu/usage_rate"', text)
        self.assertIn('href="/web/stats/gpu/usage"', text)
        self.assertNotIn('href="/web/stats/cpu/node_capacity"', text)
        self.client.force_login(self.charlie)
        self.assertIn('href="/web/stats/cpu/node_capacity"', self.client.get("/web/stats/index").content.decode())

    def test_a_namespace_page_shows_the_chart_and_the_newest_rows(self):
        self.client.force_login(self.alice)
        response = self.client.get("/web/stats/cpu/usage_rate/alpha-dev",
                                   {"timeBeginInterval": self.begin, "timeEndInterval": self.end})
        self.assertEqual(response.status_code, 200)
        chart = response.context["chart"]
        self.assertEqual(chart["unit"], "millicores")
        values = [v for v in chart["values"] if v is not None]
        # Two pods: about 103 + 250 millicores.
        self.assertTrue(values)
        self.assertTrue(all(345 <= v <= 360 for v in values[1:-1]), values)
        self.assertEqual(response.context["row_count"], 2 * 120)  # the two pods' 30 minutes at 15 s
        self.assertIn("web-2", response.content.decode())
        self.assertNotIn("front-1", response.content.decode())

    def test_the_csv_rows_equal_the_api_rows(self):
        self.client.force_login(self.alice)
        for metric, agg in (("cpu/usage_rate", ""), ("memory/working_set", "pod-by-namespace"),
                            ("cpu/usage_rate", "all-namespace"), ("network/rx_rate", "")):
            with self.subTest(metric=metric, agg=agg):
                query = {"timeBeginInterval": self.begin, "timeEndInterval": self.end, "format": "csv"}
                if agg:
                    query["agg"] = agg
                response = self.client.get(f"/web/stats/{metric}/alpha-dev", query)
                self.assertEqual(response.status_code, 200)
                self.assertIn("attachment;", response["Content-Disposition"])
                rows = parse_csv(response.content.decode())
                body = {"namespace": "alpha-dev", "limit": 1000, "timeBeginInterval": self.begin,
                        "timeEndInterval": self.end}
                if agg:
                    body["agg"] = agg
                api = self.post_metric(metric, body, who="alpha").json()
                if isinstance(api, dict):  # the empty-set envelope
                    self.assertEqual(rows, [])
                    continue
                self.assertTrue(api)
                self.assertEqual(len(rows), len(api))
                for got, want in zip(rows, api, strict=True):
                    self.assertEqual(list(got), list(want))
                    for key, value in want.items():
                        if value is None:
                            self.assertEqual(got[key], "")
                        elif isinstance(value, float):
                            self.assertEqual(float(got[key]), value, key)
                        else:
                            self.assertEqual(got[key], str(value), key)

    def test_the_pages_links_download_the_window_it_shows(self):
        self.client.force_login(self.alice)
        page = self.client.get("/web/stats/cpu/usage_rate/alpha-dev",
                               {"timeBeginInterval": self.begin, "timeEndInterval": self.end})
        download = self.client.get(page.context["csv_url"])
        self.assertEqual(len(parse_csv(download.content.decode())), page.context["row_count"])

    def test_unknown_metrics_foreign_namespaces_and_cluster_data(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get("/web/stats/cpu/nothing").status_code, 404)
        self.assertEqual(self.client.get("/web/stats/cpu/usage_rate/beta-web").status_code, 404)
        self.assertEqual(self.client.get("/web/stats/cpu/usage_rate/beta-web?format=csv").status_code, 404)
        self.assertEqual(self.client.get("/web/stats/cpu/usage_rate/Not_A_Namespace").status_code, 404)
        self.assertEqual(self.client.get("/web/stats/cpu/node_capacity").status_code, 403)
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get("/web/stats/cpu/node_capacity").status_code, 200)
        self.assertEqual(self.client.get("/web/stats/cpu/usage_rate/beta-web").status_code, 200)

    def test_bad_input_is_a_form_error_or_a_json_400(self):
        self.client.force_login(self.alice)
        page = self.client.get("/web/stats/cpu/usage_rate/alpha-dev", {"timeBeginInterval": "last tuesday"})
        self.assertEqual(page.status_code, 400)
        self.assertIn("timeBeginInterval:", page.content.decode())
        download = self.client.get("/web/stats/cpu/usage_rate/alpha-dev",
                                   {"timeBeginInterval": self.end, "timeEndInterval": self.begin, "format": "csv"})
        self.assertEqual(download.status_code, 400)
        self.assertEqual(download.json()["message"], "timeBeginInterval: must be before timeEndInterval")
        self.assertEqual(self.client.get("/web/stats/cpu/usage_rate/alpha-dev?agg=everything").status_code, 400)

    def test_the_namespace_chosen_in_the_form_becomes_the_path(self):
        self.client.force_login(self.alice)
        response = self.client.get("/web/stats/cpu/usage_rate", {"namespace": "alpha-prod", "timeBeginInterval":
                                                                  self.begin})
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith("/web/stats/cpu/usage_rate/alpha-prod?timeBeginInterval="))
        default = self.client.get("/web/stats/cpu/usage_rate")
        self.assertEqual(default.context["namespace"], "alpha-dev")  # the tenant's first namespace
        self.assertEqual(self.client.get("/web/stats/uptime/alpha-dev").status_code, 200)
