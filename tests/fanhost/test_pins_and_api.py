"""The fan host's API drives the L293D's pins: checked on gpiozero's mock pins with PWM."""

import pytest

from tests.fanhost.conftest import TOKEN

IN1, IN2, ENABLE = 11, 13, 15


def test_it_starts_at_full_speed_before_the_portal_has_spoken(host):
    assert (host.pin(IN1), host.pin(IN2), host.pin(ENABLE)) == (1, 0, 1.0)
    status, state = host.call("GET", "/fan/state")
    assert status == 200
    assert state["mode"] == "failsafe" and state["failsafe"] is True and state["running"] is True
    assert "first heartbeat" in state["reason"]


def test_stop_puts_enable_low_and_start_puts_it_high_with_the_direction_pins_set(host):
    status, state = host.call("POST", "/fan/stop")
    assert status == 200 and state["running"] is False and state["mode"] == "portal"
    assert (host.pin(IN1), host.pin(IN2), host.pin(ENABLE)) == (1, 0, 0)
    status, state = host.call("POST", "/fan/start")
    assert status == 200 and state["running"] is True and state["speed"] == 1.0
    assert (host.pin(IN1), host.pin(IN2), host.pin(ENABLE)) == (1, 0, 1.0)


def test_speed_sets_the_pwm_duty_on_enable(host):
    status, state = host.call("POST", "/fan/speed", {"speed": 0.6})
    assert status == 200 and state["speed"] == 0.6
    assert host.pin(ENABLE) == pytest.approx(0.6)
    assert host.controller.pins.enable.pin.frequency == 100
    host.call("POST", "/fan/start", {"speed": 0.35, "reason": "auto: 66 °C"})
    assert host.pin(ENABLE) == pytest.approx(0.35)
    assert host.call("GET", "/fan/state")[1]["reason"] == "auto: 66 °C"
    host.call("POST", "/fan/speed", {"speed": 0})
    assert host.pin(ENABLE) == 0 and host.call("GET", "/fan/state")[1]["running"] is False


def test_the_legacy_status_is_the_flask_servers_json_byte_for_byte(host):
    status, body = host.call("GET", "/fan/status", token=None, raw=True)
    assert status == 200
    assert body == b'{"message":"FAN ON","status":true}\n'
    host.call("POST", "/fan/stop")
    assert host.call("GET", "/fan/status", token=None, raw=True)[1] == b'{"message":"FAN OFF","status":false}\n'


def test_the_legacy_gets_that_switch_the_fan_are_off_unless_the_setting_turns_them_on(host, legacy_host):
    host.call("POST", "/fan/stop")
    status, body = host.call("GET", "/fan/start", token=None)
    assert status == 403 and "--legacy-control" in body["error"]
    assert host.pin(ENABLE) == 0
    status, body = legacy_host.call("GET", "/fan/stop", token=None, raw=True)
    assert status == 200 and body == b'{"message":"FAN stopped","status":true}\n'
    assert legacy_host.pin(ENABLE) == 0
    status, body = legacy_host.call("GET", "/fan/start", token=None, raw=True)
    assert status == 200 and body == b'{"message":"FAN started","status":true}\n'
    assert legacy_host.pin(ENABLE) == 1.0
    assert legacy_host.call("GET", "/fan/state")[1]["mode"] == "legacy"


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789abcdef", TOKEN[:-1], TOKEN + "x", ""])
@pytest.mark.parametrize("path,body", [("/fan/stop", None), ("/fan/speed", {"speed": 0.2}),
                                       ("/fan/start", {"speed": 0.5}), ("/heartbeat", None)])
def test_a_wrong_or_missing_token_is_refused_and_the_fan_is_unchanged(host, token, path, body):
    before = host.call("GET", "/fan/state")[1]
    status, answer = host.call("POST", path, body, token=token)
    assert status == 401 and "Bearer" in answer["error"]
    after = host.call("GET", "/fan/state")[1]
    assert (host.pin(IN1), host.pin(IN2), host.pin(ENABLE)) == (1, 0, 1.0)
    assert (after["mode"], after["running"], after["speed"], after["heartbeat_age"]) == (
        before["mode"], before["running"], before["speed"], None)


def test_a_basic_or_malformed_authorization_header_is_refused(host):
    for header in (f"Basic {TOKEN}", TOKEN, f"bearer{TOKEN}"):
        import urllib.request

        request = urllib.request.Request(host.url + "/fan/stop", data=b"{}", method="POST")
        request.add_header("Authorization", header)
        try:
            urllib.request.urlopen(request, timeout=5)
            raise AssertionError("accepted")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
    assert host.pin(ENABLE) == 1.0


@pytest.mark.parametrize("body,message", [
    ({"speed": 1.5}, "between 0 and 1"), ({"speed": -0.1}, "between 0 and 1"), ({"speed": "fast"}, "number"),
    ({"speed": True}, "number"), ({}, "number"), (b"not json", "not JSON"), (b"[1, 2]", "object"),
])
def test_a_bad_speed_is_a_400_with_a_message_and_the_fan_is_unchanged(host, body, message):
    status, answer = host.call("POST", "/fan/speed", body)
    assert status == 400 and message in answer["error"]
    assert host.pin(ENABLE) == 1.0


def test_unknown_routes_are_404_in_json(host):
    assert host.call("GET", "/server/shutdown", token=None)[0] == 404
    assert host.call("POST", "/fan/explode")[0] == 404
