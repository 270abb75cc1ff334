"""The portal's fan ticks against a real fan host (mock pins), Redis and InfluxDB.

Times are real: the host stamps its own switches with its wall clock.
"""

import time

import pytest
from django.test import override_settings

from fan import history, service
from tests.fan.conftest import set_inventory, set_temperatures

pytestmark = pytest.mark.django_db


def test_a_hot_node_starts_the_fan_on_the_host_and_the_change_is_in_influxdb_with_its_reason(fan_host, store):
    from kubemon.redis import get_redis

    redis = get_redis()
    set_inventory(redis, west={}, north={}, master={"node-role.kubernetes.io/control-plane": ""})
    fan_host.call("POST", "/fan/stop")
    now = time.time()
    set_temperatures(redis, now, west=71.5, north=50.0, master=90.0)
    state = service.tick(redis, store, now=now)
    assert state["running"] is True and state["mode"] == "auto" and state["reason"] == "west at 71.5 °C ≥ 70 °C"
    assert fan_host.pin(15) == 1.0 and fan_host.controller.state()["reason"] == "west at 71.5 °C ≥ 70 °C"
    rows = history.changes(store, now - 10, now + 10)
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [(True, 1.0, "auto", "west at 71.5 °C ≥ 70 °C")]
    assert rows[0][0] == pytest.approx(now, abs=0.002)
    # The OLED panel's data went with the heartbeat; the control-plane node is not considered.
    assert fan_host.state.panel_data == {"temperatures": {"west": 71.5, "north": 50.0}, "autoMode": True,
                                         "minTemperature": 63.0, "maxTemperature": 70.0}


def test_it_stops_at_90_percent_only_after_the_dwell_time_and_writes_nothing_when_nothing_changes(fan_host, store):
    from kubemon.redis import get_redis

    redis = get_redis()
    set_inventory(redis, west={})
    t0 = time.time()
    set_temperatures(redis, t0, west=72.0)
    service.tick(redis, store, now=t0)
    set_temperatures(redis, t0 + 30, west=62.0)
    state = service.tick(redis, store, now=t0 + 30)
    assert state["running"] is True and "dwell 60 s" in state["waiting"]
    assert fan_host.pin(15) == 1.0
    set_temperatures(redis, t0 + 35, west=62.0)
    service.tick(redis, store, now=t0 + 35)
    set_temperatures(redis, t0 + 61, west=62.0)
    state = service.tick(redis, store, now=t0 + 61)
    assert state["running"] is False and state["reason"] == "all nodes ≤ 63 °C (hottest west 62.0 °C)"
    assert fan_host.pin(15) == 0
    rows = history.changes(store, t0 - 5, t0 + 100)
    # The host ran from its start (its fail-safe), the portal took it over, then stopped it.
    assert [(r[1], r[3]) for r in rows] == [(True, "failsafe"), (True, "auto"), (False, "auto")]
    assert rows[-1][0] == pytest.approx(t0 + 61, abs=0.002)
    started = rows[0][0]
    assert t0 - 5 < started <= t0
    assert history.bands(rows, t0 - 100, t0 + 100) == [[started, pytest.approx(t0 + 61, abs=0.002)]]


def test_a_host_that_is_down_is_an_error_in_the_status_never_a_quiet_off(fan_host, store):
    from kubemon.redis import get_redis

    redis = get_redis()
    set_temperatures(redis, time.time(), west=50.0)
    with override_settings(FAN_SERVER_URL="http://127.0.0.1:9"):
        state = service.tick(redis, store, now=time.time())
        doc = service.status(state)
    assert state["host"]["ok"] is False and state["host"]["kind"] == "unreachable"
    assert doc["isEnabled"] is True and doc["isRunning"] is None
    assert doc["message"] == "fan host http://127.0.0.1:9 unreachable: ConnectionError"
    rows = history.changes(store, 1_799_999_990.0, 1_800_000_010.0)
    assert rows[-1][3] == "error" and "unreachable" in rows[-1][4]


def test_a_host_that_refuses_the_token_is_shown_as_such_and_the_fan_is_unchanged(fan_host, store):
    from kubemon.redis import get_redis

    redis = get_redis()
    set_temperatures(redis, time.time(), west=50.0)
    with override_settings(FAN_TOKEN="not-the-token-at-all-0000"):
        state = service.tick(redis, store, now=time.time())
    assert state["host"]["kind"] == "unauthorised"
    assert service.status(state)["message"].endswith("refused the token (401): check FAN_TOKEN")
    assert fan_host.controller.state()["mode"] == "failsafe" and fan_host.pin(15) == 1.0


@override_settings(FAN_DWELL_SECONDS=0.0)
def test_the_hosts_failsafe_while_the_portal_was_away_goes_into_the_history_at_the_hosts_time(fan_host, store):
    from kubemon.redis import get_redis

    redis = get_redis()
    t0 = time.time()
    set_temperatures(redis, t0, west=50.0)
    service.tick(redis, store, now=t0)
    assert fan_host.pin(15) == 0  # cool: the start-up fail-safe was ended and the fan stopped
    fan_host.controller.heartbeat_timeout = 0.01
    fan_host.controller.last_heartbeat -= 1
    assert fan_host.controller.check() is True
    since = fan_host.controller.state()["since"]
    set_temperatures(redis, t0 + 300, west=50.0)
    state = service.tick(redis, store, now=t0 + 300)
    rows = history.changes(store, t0 - 1, t0 + 400)
    assert ("failsafe", True) in [(r[3], r[1]) for r in rows]
    failsafe = [r for r in rows if r[3] == "failsafe" and "no heartbeat from the portal" in r[4]]
    assert len(failsafe) == 1 and failsafe[0][1] is True
    assert failsafe[0][0] == pytest.approx(since, abs=0.002)
    assert state["host"]["failsafe"] is False  # the tick's heartbeat ended it


@override_settings(FAN_DWELL_SECONDS=0.0)
def test_a_failsafe_while_the_fan_already_ran_is_its_own_change_and_keeps_the_switch_before_it(fan_host, store):
    from kubemon.redis import get_redis

    redis = get_redis()
    t0 = time.time()
    set_temperatures(redis, t0, west=50.0)
    service.tick(redis, store, now=t0)  # cool: the start-up fail-safe ends and the fan stops
    set_temperatures(redis, t0 + 1, west=72.0)
    service.tick(redis, store, now=t0 + 1)  # hot: on, with its reason
    assert fan_host.pin(15) == 1.0
    time.sleep(0.05)
    fan_host.controller.heartbeat_timeout = 0.01
    fan_host.controller.last_heartbeat -= 1
    assert fan_host.controller.check() is True  # the fan was on already: only the mode changes
    set_temperatures(redis, t0 + 300, west=72.0)
    service.tick(redis, store, now=t0 + 300)
    rows = history.changes(store, t0 - 1, t0 + 400)
    on = [r for r in rows if r[0] == pytest.approx(t0 + 1, abs=0.002)]  # the tick's time
    assert [(r[3], r[4]) for r in on] == [("auto", "west at 72.0 °C ≥ 70 °C")]  # not overwritten by the fail-safe
    failsafe = [r for r in rows if r[3] == "failsafe" and "no heartbeat from the portal" in r[4]]
    assert len(failsafe) == 1 and failsafe[0][0] == pytest.approx(fan_host.controller.failsafe_since, abs=0.002)


@override_settings(FAN_DWELL_SECONDS=0.0)
def test_a_switch_back_after_someone_else_switched_the_host_is_in_the_history(fan_host, store):
    from kubemon.redis import get_redis

    redis = get_redis()
    t0 = time.time()
    set_temperatures(redis, t0, west=71.0)
    service.tick(redis, store, now=t0)  # hot: the fan stays on
    fan_host.call("POST", "/fan/stop")  # another holder of the token stops it
    service.tick(redis, store, now=t0 + 1)
    assert fan_host.pin(15) == 1.0  # the portal started it again, and the history says so
    rows = history.changes(store, t0 + 0.5, t0 + 10)
    assert [(r[0], r[1]) for r in rows if r[0] >= t0 + 0.5] == [(pytest.approx(t0 + 1, abs=0.002), True)]


def test_an_alert_is_raised_when_the_fan_runs_and_temperatures_keep_rising(fan_host, store):
    from kubemon.redis import get_redis

    redis = get_redis()
    t0 = time.time()
    state = None
    for i in range(16):
        now = t0 + 15 * i
        set_temperatures(redis, now, west=71.0 + 0.25 * i)
        state = service.tick(redis, store, now=now)
    assert state["running"] is True
    assert state["alert"] and "still rose" in state["alert"]
    rows = history.changes(store, t0 - 1, t0 + 300)
    assert any(r[4].startswith("alert: the fan has run for") for r in rows)
