"""Bad input is a 400 naming the field; unknown metrics 404; wrong methods 405; InfluxDB down 503."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from billing.models import ApiCredential
from kubemon.timeseries import get_store, reset_store
from tests.support.base import BaseTestCase, uses_store


@uses_store
class BadInputTests(BaseTestCase):
    def assert_400(self, body=None, field="", raw_body=None, metric="cpu/usage_rate"):
        response = self.post_metric(metric, body, raw_body=raw_body)
        self.assertEqual(response.status_code, 400, response.content)
        payload = response.json()
        self.assertEqual(payload["code"], 400)
        self.assertTrue(payload["message"].startswith(field), payload["message"])
        return payload["message"]

    def test_malformed_json_and_non_objects(self):
        self.assert_400(raw_body="{not json", field="body: malformed JSON")
        self.assert_400(raw_body="[1, 2]", field="body: must be a JSON object")
        self.assert_400(raw_body='"text"', field="body: must be a JSON object")
        self.assert_400(raw_body=b"\xff\xfe{}", field="body: malformed JSON")

    def test_an_empty_body_means_the_defaults(self):
        response = self.post_metric("cpu/usage_rate", raw_body="", who="global")
        self.assertEqual(response.json(), {"code": 200, "message": "Query returns empty set"})

    def test_bad_limits(self):
        for limit in (-1, 0, "-5", "ten", 1.5, True, "", [], {"a": 1}, "1e3"):
            self.assert_400({"namespace": "alpha-dev", "limit": limit}, field="limit:")

    def test_it_refuses_a_limit_of_unicode_digits_or_doubled_signs_with_a_400_naming_limit(self):
        for limit in ("²", "--5", "+5", "-0", "٣", "１２", "5\n", "\u00a012", "1_000", "0x10", "12.0", "0"):
            message = self.assert_400({"namespace": "alpha-dev", "limit": limit}, field="limit:")
            self.assertIn("ASCII digits", message)

    def test_a_huge_limit_is_capped(self):
        response = self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev", "limit": 10**30})
        self.assertEqual(response.status_code, 200)
        response = self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev", "limit": "9" * 39})
        self.assertEqual(response.status_code, 200)

    def test_unknown_agg_is_refused_rather_than_treated_as_raw(self):
        message = self.assert_400({"agg": "detail"}, field="agg:")
        self.assertIn("not a valid choice", message)

    def test_an_empty_or_null_agg_means_raw_rows(self):
        for agg in ("", None):
            response = self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev", "agg": agg})
            self.assertEqual(response.status_code, 200, agg)

    def test_bad_dates(self):
        for value in ("yesterday", "2017-13-01", "2017-02-30", "2017-12-01T25:00:00Z", 20171201, "2017-12-01 8:00",
                      "0001-01-01", "9999-12-31", "2017-12-01T00:00:00+99:00", "2017-12-01T00:00:00.1234567891Z"):
            self.assert_400({"namespace": "alpha-dev", "timeBeginInterval": value}, field="timeBeginInterval:")
        self.assert_400({"namespace": "alpha-dev", "timeEndInterval": "31/12/2017"}, field="timeEndInterval:")

    def test_begin_after_end(self):
        message = self.assert_400({"timeBeginInterval": "2017-12-31", "timeEndInterval": "2017-12-01"},
                                  field="timeBeginInterval:")
        self.assertIn("before timeEndInterval", message)
        self.assert_400({"timeBeginInterval": "2017-12-01", "timeEndInterval": "2017-12-01"},
                        field="timeBeginInterval:")

    def test_bad_namespaces(self):
        for namespace in ("Bad_Name", "", 5, None, "x" * 64, "a/b"):
            self.assert_400({"namespace": namespace}, field="namespace:")
        self.assert_400({"agg": "all-namespace", "excludeNamespaces": "kube-system"}, field="excludeNamespaces")
        self.assert_400({"agg": "all-namespace", "excludeNamespaces": ["ok", "Not OK"]},
                        field="excludeNamespaces[1]:")

    def test_date_formats_of_the_legacy_clients_are_accepted(self):
        for begin, end in (("2017-12-01", "2017-12-31"), ("2017-12-01 08:00:00", "2017-12-01 09:00:00"),
                           ("2017-12-01T08:00:00Z", "2017-12-01T09:00:00.5Z"),
                           ("2017-12-01T10:00:00+02:00", "2017-12-01T09:00:00Z")):
            response = self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev", "timeBeginInterval": begin,
                                                           "timeEndInterval": end})
            self.assertEqual(response.status_code, 200, (begin, end))


@uses_store
class RoutingTests(BaseTestCase):
    def test_an_unknown_metric_is_404(self):
        response = self.post_metric("cpu/usage_rat", {})
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json()["code"], 404)
        self.assertIn("Unknown metric 'cpu/usage_rat'", response.json()["message"])

    def test_a_path_without_a_metric_is_404_request_not_found(self):
        for path in ("/api/", "/api"):
            response = self.client.post(path, {}, format="json", **self.headers())
            self.assertEqual(response.json(), {"code": 404, "message": "Request not found"}, path)

    def test_a_trailing_slash_is_tolerated(self):
        response = self.post_metric("cpu/usage_rate/", {"namespace": "alpha-dev"})
        self.assertEqual(response.status_code, 200)

    def test_credentials_are_checked_before_the_metric(self):
        response = self.post_metric("no/such/metric", {}, who=None)
        self.assertEqual(response.status_code, 401)

    def test_wrong_method_is_405_before_authentication(self):
        for method in ("get", "put", "delete", "patch"):
            response = getattr(self.client, method)("/api/cpu/usage_rate")
            self.assertEqual(response.status_code, 405, method)
            self.assertEqual(response.json()["code"], 405)
            self.assertIn("POST", response.headers["Allow"])

    @override_settings(API_LEGACY_METHOD_400=True)
    def test_the_legacy_400_for_a_wrong_method_is_a_setting(self):
        response = self.client.get("/api/cpu/usage_rate", **self.headers())
        self.assertEqual((response.status_code, response.json()), (400, {"code": 400, "message": "Bad request"}))

    def test_the_legacy_curl_call_works_unchanged(self):
        # curl -d sends application/x-www-form-urlencoded; the legacy server parsed JSON anyway.
        response = self.client.generic(
            "POST", "/api/cpu/usage_rate",
            '{"agg":"pod-by-namespace","timeBeginInterval":"2017-12-01","timeEndInterval":"2017-12-31"}',
            content_type="application/x-www-form-urlencoded", **self.headers("global"),
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"code": 200, "message": "Query returns empty set"})

    def test_a_body_without_content_type_is_read_too(self):
        response = self.client.generic("POST", "/api/cpu/usage_rate", '{"agg":"bogus"}', content_type="",
                                       **self.headers())
        self.assertEqual(response.status_code, 400)


@pytest.mark.django_db
def test_it_answers_503_when_influxdb_is_down(private_influxdb, redis_db):
    _, secret = ApiCredential.generate("down-test")
    headers = {"HTTP_X_USERNAME": "down-test", "HTTP_X_PASSWORD": secret}
    client = APIClient()
    with override_settings(INFLUXDB_URL=private_influxdb.url, INFLUXDB_TIMEOUT=2):
        reset_store()
        get_store().ensure_database()
        up = client.post("/api/cpu/usage_rate", {"agg": "all-namespace"}, format="json", **headers)
        assert up.status_code == 200
        private_influxdb.stop()
        for body in ({"agg": "all-namespace"}, {"namespace": "default"}):
            down = client.post("/api/cpu/usage_rate", body, format="json", **headers)
            assert down.status_code == 503
            assert down.json() == {"code": 503, "message": "The time-series database is unavailable; retry later"}
    reset_store()
