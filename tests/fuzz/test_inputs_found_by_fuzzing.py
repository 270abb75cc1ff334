"""Inputs the fuzzing found that made one request enormous or made it fail: each is a clear 400 now
(or, on the live socket, a ``?seq=`` that is simply not a number).

- ``GET /api/allocation?window=<585 years>&accumulate=month`` built one set per calendar month
  (7,000 sets, each read from InfluxDB: 268 s of one worker for one request), because the month
  split had no cap while the hour/day/week split had ``MAX_STEPS``.
- ``GET /api/allocation?window=7d&step=999999w`` was a 500 (the end of the first step is past
  year 9999, which ``datetime`` cannot hold).
- ``GET /api/statements?month=9999-12`` was a 500 (the month after December 9999 is year 10000).
- ``GET /api/statements?tenant=%00`` was a 500 (PostgreSQL refuses a NUL in a text value).
- ``GET /k8s/collect/<token>/temperature?sensor=cpu%0A`` was a 500: the node and sensor patterns
  ended in ``$``, which also matches before a final newline, and line protocol cannot carry one.
- ``Cookie: sessionid="abcdefgh\\000"`` (Django unquotes the octal escape to a NUL) was a 500 on every
  page and API route, and failed the live socket's connect: PostgreSQL refuses the NUL.
- ``ws/live/?seq=\xff`` (a query string that is not UTF-8) failed the live socket's connect.
- ``GET /k8s/collect/<token>/temperature`` with a "/" in the token matched no route: Django's HTML
  404 page, where every other refusal of the push is a JSON message.
"""

from datetime import UTC, datetime

import pytest
from django.http import QueryDict
from django.test import Client, override_settings

from api.opencost import MAX_STEPS, ParameterError, parse_query
from billing.statements import StatementError, month_bounds
from tests.support.base import BaseTestCase
from web.consumers import _client_seq

WHOLE_RANGE = "1677-09-22T00:00:00Z,2262-04-10T00:00:00Z"
NOW = datetime(2026, 11, 18, 14, 37, 20, tzinfo=UTC)


def query(text):
    return parse_query(QueryDict(text), now=NOW)


def test_a_monthly_accumulation_over_centuries_is_refused_before_any_read():
    with pytest.raises(ParameterError) as caught:
        query(f"window={WHOLE_RANGE}&accumulate=month")
    assert caught.value.parameter == "accumulate"
    assert str(MAX_STEPS) in str(caught.value)


def test_every_way_of_asking_for_many_sets_meets_the_same_cap():
    for text in (f"window={WHOLE_RANGE}&accumulate=week", f"window={WHOLE_RANGE}&accumulate=day",
                 f"window={WHOLE_RANGE}&accumulate=hour", f"window={WHOLE_RANGE}&step=1w", "window=999999m&step=1m",
                 "window=2000d&accumulate=day", "window=100y&accumulate=month".replace("100y", "5300w")):
        with pytest.raises(ParameterError):
            query(text)


def test_a_step_longer_than_the_calendar_is_one_set_not_an_overflow():
    steps = query("window=7d&step=999999w").steps
    assert len(steps) == 1 and steps[0].end == NOW


def test_monthly_sets_up_to_the_cap_are_still_answered():
    steps = query("window=2000-01-01T00:00:00Z,2026-01-01T00:00:00Z&accumulate=month").steps
    assert len(steps) == 26 * 12
    assert steps[0].begin == datetime(2000, 1, 1, tzinfo=UTC) and steps[-1].end == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["9999-12", "10000-01", "0-01", "2026-13", "2026-00", "-1-5", "2026-1-1",
                                  "２０２６-１１", "2026-11" + "1" * 5000, "", "2026_11", "2026-11\n"])
def test_a_month_outside_the_calendar_is_a_statement_error(text):
    with pytest.raises(StatementError) as caught:
        month_bounds(text)
    assert len(str(caught.value)) < 120


def test_the_last_representable_months_still_work():
    assert month_bounds("9999-11") == (datetime(9999, 11, 1, tzinfo=UTC), datetime(9999, 12, 1, tzinfo=UTC))
    assert month_bounds("0001-01") == (datetime(1, 1, 1, tzinfo=UTC), datetime(1, 2, 1, tzinfo=UTC))


class ExpensiveRequestTests(BaseTestCase):
    def test_the_allocation_api_answers_the_centuries_of_months_with_a_400_at_once(self):
        response = self.client.get("/api/allocation", {"window": WHOLE_RANGE, "accumulate": "month"}, **self.headers())
        self.assertEqual(response.status_code, 400)
        self.assertTrue(response.json()["message"].startswith("accumulate:"), response.json())

    def test_the_statement_list_answers_a_month_past_the_calendar_with_a_400(self):
        response = self.client.get("/api/statements", {"month": "9999-12"}, **self.headers())
        self.assertEqual(response.status_code, 400)
        self.assertTrue(response.json()["message"].startswith("month:"), response.json())

    def test_the_statement_list_answers_a_tenant_that_cannot_be_a_slug_with_a_400(self):
        for tenant in ("a\x00b", "alpha\n", "x" * 51, "alpha' OR 1=1"):
            response = self.client.get("/api/statements", {"tenant": tenant}, **self.headers())
            self.assertEqual(response.status_code, 400, tenant)
            self.assertTrue(response.json()["message"].startswith("tenant:"), response.json())
        self.assertEqual(self.client.get("/api/statements", {"tenant": "no-such-tenant"}, **self.headers()).json(),
                         {"code": 200, "data": []})


@pytest.mark.parametrize("token", ["a/b", "../../etc/passwd", "<script>alert(1)</script>", "x%0ay", "/"])
def test_a_push_token_with_a_slash_is_refused_as_a_wrong_token_in_json(token, redis_db):
    with override_settings(TEMPERATURE_PUSH_TOKEN="right-token"):
        response = Client().get(f"/k8s/collect/{token}/temperature", {"node": "node-1", "value": "45000"})
    assert (response.status_code, response.json()) == (403, {"code": 403, "message": "invalid token"})


@pytest.mark.parametrize(("field", "value"), [("sensor", "cpu\n"), ("node", "node-1\n"), ("sensor", "cpu\r\n"),
                                              ("node", "node-1\r")])
def test_a_push_whose_node_or_sensor_ends_in_a_newline_is_a_400(field, value, redis_db):
    params = {"node": "node-1", "value": "45000", "sensor": "cpu", field: value}
    with override_settings(TEMPERATURE_PUSH_TOKEN="right-token"):
        response = Client().get("/k8s/collect/right-token/temperature", params)
    assert response.status_code == 400, response.content
    assert response.json()["message"].startswith(f"{field}:")


@pytest.mark.parametrize(("query", "seq"), [(b"seq=\xff", None), (b"seq=\xff\xfe&seq=4", None), (b"x=\xc3&seq=7", 7),
                                            (b"seq=" + b"9" * 5000, None), (b"seq=%ff", None), (b"seq=12", 12)])
def test_a_live_socket_query_string_that_is_not_utf8_is_no_seq_not_a_failure(query, seq):
    assert _client_seq({"query_string": query}) == seq


class ImplausibleSessionCookieTests(BaseTestCase):
    def test_a_session_cookie_with_a_nul_is_no_session_not_a_500(self):
        for cookie in ('"abcdefgh\\000"', '"abcdefghijklmnop\\000x"', "abcdefgh\x00", "x" * 5000):
            response = Client().get("/api/statements", HTTP_COOKIE=f"sessionid={cookie}")
            self.assertEqual((response.status_code, response.json()["code"]), (401, 401), cookie)
            self.assertEqual(Client().get("/", HTTP_COOKIE=f"sessionid={cookie}").status_code, 302, cookie)

    def test_a_real_session_still_logs_in(self):
        client = Client()
        client.force_login(self.alice)
        self.assertEqual(client.get("/api/statements").status_code, 200)
