"""``GET /metrics``: the token, and what a scrape shows after the collectors and the API worked."""

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from kubemon.cluster import save_cycle_report

TOKEN = "scrape-token-for-the-tests"


def samples(body):
    """``{(name, frozenset(labels)): value}`` of a text exposition."""
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def scrape(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content)


@override_settings(METRICS_TOKEN="", DEBUG=False)
def test_it_refuses_every_scrape_in_production_when_no_token_is_set(client, redis_db):
    response = client.get("/metrics")
    assert response.status_code == 403
    assert "METRICS_TOKEN" in response.json()["error"]


@override_settings(METRICS_TOKEN=TOKEN)
def test_it_refuses_a_wrong_token_and_counts_the_failure(client, redis_db):
    before = scrape(client).get(("kubemon_auth_failures_total", frozenset({("surface", "metrics")})), 0)
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"}):
        response = client.get("/metrics", **header)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
    after = scrape(client)[("kubemon_auth_failures_total", frozenset({("surface", "metrics")}))]
    assert after - before == 3


@override_settings(METRICS_TOKEN=TOKEN)
def test_it_shows_the_cycles_figures_from_redis(client, redis_db):
    report = {"name": "usage", "ok": True, "skipped": False, "error": "", "points": {"pod_usage": 40},
              "seconds": {"fetch_summaries": 0.5, "total": 1.25}, "written": 40, "spooled": 0, "replayed": 0}
    save_cycle_report(redis_db, "usage", report)
    save_cycle_report(redis_db, "usage", {**report, "written": 0, "spooled": 40, "rejected": 2,
                                          "seconds": {"fetch_summaries": 0.25, "total": 0.75}})
    save_cycle_report(redis_db, "gpu", {**report, "ok": False, "failure": "kubernetes", "written": 0})
    found = scrape(client)
    assert found[("kubemon_cycle_runs_total", frozenset({("source", "usage"), ("outcome", "ok")}))] == 2
    assert found[("kubemon_cycle_runs_total", frozenset({("source", "gpu"), ("outcome", "failed")}))] == 1
    assert found[("kubemon_points_written_total", frozenset({("source", "usage")}))] == 40
    assert found[("kubemon_points_spooled_total", frozenset({("source", "usage")}))] == 40
    assert found[("kubemon_points_rejected_total", frozenset({("source", "usage")}))] == 2
    total = frozenset({("source", "usage"), ("phase", "total")})
    assert found[("kubemon_cycle_phase_seconds_total", total)] == 2.0
    assert found[("kubemon_cycle_phase_runs_total", total)] == 2
    assert found[("kubemon_cycle_last_phase_seconds", total)] == 0.75
    assert found[("kubemon_spool_depth", frozenset())] == 0
    assert found[("kubemon_fan_enabled", frozenset())] == 0


@override_settings(METRICS_TOKEN=TOKEN, FAN_SERVER_URL="http://fan.invalid")
def test_it_shows_the_fans_state(client, redis_db):
    import orjson

    from kubemon import keys

    redis_db.set(keys.FAN_STATE, orjson.dumps({"running": True, "speed": 0.6, "host": {"ok": True}}))
    found = scrape(client)
    assert found[("kubemon_fan_running", frozenset())] == 1
    assert found[("kubemon_fan_speed", frozenset())] == 0.6
    assert found[("kubemon_fan_host_up", frozenset())] == 1
    assert found[("kubemon_fan_alert", frozenset())] == 0


@override_settings(METRICS_TOKEN=TOKEN, FAN_SERVER_URL="http://fan.invalid")
def test_it_raises_the_fan_alert_when_running_does_not_cool_the_nodes(client, redis_db):
    # fan.service keeps the inefficiency alert in the fan's state; Prometheus can alert on it too.
    import orjson

    from kubemon import keys

    redis_db.set(keys.FAN_STATE, orjson.dumps({"running": True, "speed": 1.0, "host": {"ok": True},
                                               "alert": "running 10 min and the hottest node is no cooler"}))
    assert scrape(client)[("kubemon_fan_alert", frozenset())] == 1


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_it_times_requests_by_route_pattern_and_status(client, redis_db):
    def count(found, route, status):
        labels = frozenset({("route", route), ("method", "GET"), ("status", status)})
        return found.get(("kubemon_http_request_duration_seconds_count", labels), 0)

    before = scrape(client)
    assert client.get("/api/statements/<script>alert(1)</script>").status_code == 401  # anonymous
    assert client.get("/no/such/page/at/all").status_code == 404
    after = scrape(client)
    routes = {dict(labels).get("route") for _, labels in after}
    assert not any("<script>" in route for route in routes if route)  # the pattern, never the path
    statement = "api/statements/<anypath:ref>"
    assert count(after, statement, "401") - count(before, statement, "401") == 1
    assert count(after, "unmatched", "404") - count(before, "unmatched", "404") == 1
    assert count(after, "metrics", "200") - count(before, "metrics", "200") == 1
    failures = ("kubemon_auth_failures_total", frozenset({("surface", "api")}))
    assert after.get(failures, 0) - before.get(failures, 0) == 1


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_it_counts_a_failed_portal_login(client, redis_db):
    key = ("kubemon_auth_failures_total", frozenset({("surface", "portal")}))
    before = scrape(client).get(key, 0)
    from django.contrib.auth import authenticate

    assert authenticate(username="nobody", password="wrong") is None
    assert scrape(client)[key] - before == 1


@pytest.mark.asyncio
async def test_it_counts_the_websockets_open_now():
    from kubemon.requestmetrics import CountWebsockets
    from kubemon.selfmetrics import WEBSOCKET_CLIENTS

    seen = []

    async def app(scope, receive, send):
        seen.append(WEBSOCKET_CLIENTS._value.get())
        if scope["type"] == "websocket" and scope.get("refuse"):
            raise ConnectionError("gone")

    wrapped = CountWebsockets(app)
    start = WEBSOCKET_CLIENTS._value.get()
    await wrapped({"type": "websocket"}, None, None)
    with pytest.raises(ConnectionError):
        await wrapped({"type": "websocket", "refuse": True}, None, None)
    await wrapped({"type": "http"}, None, None)
    assert seen == [start + 1, start + 1, start]
    assert WEBSOCKET_CLIENTS._value.get() == start
