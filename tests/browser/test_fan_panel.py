"""The fan panel in Chromium: a staff member switches the fan off and on from the panel and sees it,
the host's pins follow, and the temperature charts carry the fan's on periods as bands.

Its own small stack (no simulator): a fan host on mock pins in this process, the portal under
uvicorn pointed at it, node temperatures and the fan's history written as the collectors and the
fan tick write them, and the beat's tick run here.
"""

import time

import pytest

from tests.browser.conftest import in_thread
from tests.browser.stack import AsgiServer, database_url, free_port, launch_chromium, server_env
from tests.fanhost.conftest import TOKEN, serve

pytestmark = pytest.mark.django_db
PASSWORD = "fan browser password"


def _staff():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="fan-charlie", defaults={"is_staff": True})
    user.is_staff = True
    user.set_password(PASSWORD)
    user.save()


def _delete_staff():
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="fan-charlie").delete()


@pytest.fixture(scope="module")
def fan_portal(tmp_path_factory, django_db_setup, django_db_blocker, influxdb):
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings

    from fan import history, service
    from kubemon.redis import get_redis
    from kubemon.timeseries import Point, get_store, reset_store
    from tests.fan.conftest import set_inventory, set_temperatures

    workdir = tmp_path_factory.mktemp("fanstack")
    server, host = serve(heartbeat_timeout=120)
    redis = get_redis()
    redis.flushdb()
    reset_store()
    store = get_store()
    store.drop_database()
    store.ensure_database()
    now = time.time()
    nodes = ("east", "north", "west")
    store.write([Point("node_temperature", {"node_name": node, "sensor": "cpu", "source": "push"},
                       {"celsius": 52.0 + 8.0 * ((i // 20) % 2 == 0) * (i % 20) / 20 + 2 * k},
                       int(now - 1800 + 15 * i)) for i in range(120) for k, node in enumerate(nodes)])
    history.record(store, True, 1.0, "auto", "west at 70.1 °C ≥ 70 °C", now - 1500)
    history.record(store, False, 0.0, "auto", "all nodes ≤ 63 °C (hottest west 62.8 °C)", now - 1100)
    history.record(store, True, 1.0, "auto", "west at 70.2 °C ≥ 70 °C", now - 700)
    history.record(store, False, 0.0, "auto", "all nodes ≤ 63 °C (hottest west 62.9 °C)", now - 400)
    fan = {"FAN_SERVER_URL": host.url, "FAN_TOKEN": TOKEN, "FAN_MAXTEMP": "70", "FAN_DWELL_SECONDS": "0"}
    with django_db_blocker.unblock():
        in_thread(_staff)
        env = server_env(settings_module="tests.settings", database=database_url(connection.settings_dict),
                         redis_url=settings.REDIS_URL, influxdb_url=influxdb.url,
                         influxdb_database=settings.INFLUXDB_DATABASE,
                         channels_prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
                         kubeconfig="", secret_key=settings.SECRET_KEY, debug=True,
                         extra={"ALLOWED_HOSTS": "127.0.0.1,localhost", **fan})
        portal = AsgiServer(env, workdir / "asgi.log", port=free_port()).start()
        try:
            with override_settings(FAN_SERVER_URL=host.url, FAN_TOKEN=TOKEN, FAN_MAXTEMP=70.0, FAN_DWELL_SECONDS=0.0):
                set_inventory(redis, east={}, north={}, west={})
                set_temperatures(redis, **{node: 55.0 + k for k, node in enumerate(nodes)})
                service.tick(redis, store)  # what the beat does: the portal takes the host over
                yield portal.url, host
        finally:
            portal.stop()
            server.shutdown()
            server.server_close()
            in_thread(_delete_staff)
            redis.flushdb()
            reset_store()


def test_a_staff_member_switches_the_fan_from_the_panel_and_sees_the_state_change(fan_portal, tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import SCREENSHOTS

    url, host = fan_portal
    problems = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(base_url=url, viewport={"width": 1280, "height": 1000})
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda msg: problems.append(msg.text) if "Refused to" in msg.text else None)
            page.goto("/web/login/?next=/web/fan/")
            page.fill("input[name=username]", "fan-charlie")
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.press("input[name=password]", "Enter")
            assert page.url.endswith("/web/fan/")
            page.wait_for_selector("body[data-fan-loaded=true]")
            page.wait_for_selector("figure.fan-chart canvas")
            assert page.locator("figure.fan-chart").count() == 3
            # The two on periods written above, and the host's start-up fail-safe until the tick stopped it.
            assert page.locator("figure.fan-chart[data-node=west]").get_attribute("data-bands") == "3"
            assert page.inner_text("[data-fan-state]") == "OFF"  # 55-57 °C: auto mode stopped it
            assert host.pin(15) == 0

            page.click("[data-fan-action=on]")
            page.wait_for_selector("[data-fan-state][data-running=on]")  # (the CSP forbids wait_for_function)
            assert page.inner_text("[data-fan-state]") == "ON"
            assert host.pin(15) == 1.0
            assert "Manual on by fan-charlie until " in page.inner_text("[data-fan-override]")
            # said once: the reason line no longer repeats the override line
            assert page.inner_text(".fan-head").lower().count("on by fan-charlie") == 1, page.inner_text(".fan-head")
            assert page.inner_text("[data-fan-mode]") == "manual"

            page.click("[data-fan-action=off]")
            page.wait_for_selector("[data-fan-state][data-running=off]")
            assert page.inner_text("[data-fan-state]") == "OFF"
            assert host.pin(15) == 0
            page.wait_for_selector("[data-fan-changes] tr")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(tmp_path / "fan-panel.png"), full_page=True)
            page.screenshot(path=str(SCREENSHOTS / "fan-panel.png"), full_page=True)
        finally:
            browser.close()
    assert not problems, problems


def utc(seconds, layout):
    return time.strftime(layout, time.gmtime(seconds))


def test_the_panel_gives_its_times_in_utc_as_the_rest_of_the_portal_whatever_the_browsers_zone(fan_portal):
    """The override's end, the table of changes and the charts' axis in UTC, labelled so, as every
    page of the portal gives times (its status lines, chart legends and range forms): a browser
    five and a half hours ahead of UTC sees the same clock times as the rule's reason says."""
    from playwright.sync_api import sync_playwright

    url, _ = fan_portal
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(base_url=url, viewport={"width": 1280, "height": 1000}, timezone_id="Asia/Kolkata")
            assert page.evaluate("new Date().getTimezoneOffset()") == -330  # (the zone took)
            page.goto("/web/login/?next=/web/fan/")
            page.fill("input[name=username]", "fan-charlie")
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.press("input[name=password]", "Enter")
            page.wait_for_selector("body[data-fan-loaded=true]")
            page.wait_for_selector("[data-fan-changes] tr")
            doc = page.request.get("/web/fan/data?range=1h").json()
            shown = page.locator("[data-fan-changes] tr td:first-child").all_inner_texts()
            assert shown == [utc(change["time"], "%H:%M:%S") for change in reversed(doc["changes"])]
            assert page.inner_text("table.fan-changes thead th:first-child") == "Time (UTC)"
            # The labels drawn on each chart's time axis: UTC clock times inside the hour shown.
            hour = {utc(t, "%H:%M") for t in range(int(doc["begin"]) - 60, int(doc["end"]) + 120, 60)}
            for ticks in page.eval_on_selector_all("figure.fan-chart", "figures => figures.map(f => f.dataset.ticks)"):
                assert ticks and set(ticks.split()) <= hour, (ticks, sorted(hour))

            page.click("[data-fan-action=on]")
            page.wait_for_selector("[data-fan-state][data-running=on]")
            until = page.request.get("/web/fan/data?range=1h").json()["status"]["override"]["until"]
            expected = f"until {utc(until, '%H:%M')} UTC, then auto mode again"
            assert expected in page.inner_text("[data-fan-override]")
            page.reload()  # the first render says it as the script does
            assert expected in page.inner_text("[data-fan-override]")
            page.wait_for_selector("body[data-fan-loaded=true]")
            assert expected in page.inner_text("[data-fan-override]")
            page.click("[data-fan-action=off]")
            page.wait_for_selector("[data-fan-state][data-running=off]")
        finally:
            browser.close()
