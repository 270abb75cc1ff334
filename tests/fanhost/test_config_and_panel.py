"""The host's options and its OLED panel, drawn on luma's dummy device."""

import pytest

from fanhost import panel
from fanhost.config import ConfigError, options_from_args, pin_name
from fanhost.controller import FanController
from fanhost.pins import L293D, mock_factory
from tests.fanhost.conftest import TOKEN, serve


def test_pins_default_to_the_legacy_board_numbers_and_accept_gpio_names(tmp_path):
    token = tmp_path / "t"
    token.write_text(TOKEN)
    opts = options_from_args(["--token-file", str(token)])
    assert (opts.in1, opts.in2, opts.enable) == ("BOARD11", "BOARD13", "BOARD15")
    assert opts.heartbeat_timeout == 60 and opts.host == "127.0.0.1" and opts.token == TOKEN
    opts = options_from_args(["--pins", "GPIO17,GPIO27,22"], environ={"FANHOST_TOKEN": TOKEN})
    assert (opts.in1, opts.in2, opts.enable) == ("GPIO17", "GPIO27", "BOARD22")
    assert pin_name(" 15 ") == "BOARD15"


@pytest.mark.parametrize("argv,message", [
    (["--pins", "11,13"], "three pins"), (["--pins", "11,11,15"], "different"), (["--pins", "11,x,15"], "not a pin"),
    (["--heartbeat-timeout", "-1"], r"0 \(off\) or more"),
])
def test_bad_options_are_refused_with_a_message(argv, message):
    with pytest.raises(ConfigError, match=message):
        options_from_args(argv, environ={"FANHOST_TOKEN": TOKEN})


def test_a_short_token_is_refused():
    with pytest.raises(ConfigError, match="shorter than 16"):
        options_from_args([], environ={"FANHOST_TOKEN": "short"})


def test_the_panel_lines_show_the_fan_auto_mode_thresholds_and_the_hottest_nodes_first():
    state = {"running": True, "speed": 0.75, "failsafe": False}
    data = {"temperatures": {"north": 55.04, "west": 71.26, "east": 60.0, "south": 40.0, "up": 30.0},
            "autoMode": True, "minTemperature": 63, "maxTemperature": 70}
    assert panel.lines(state, data) == ["FAN ON 75%", "Auto:ON 63/70 C", "west : 71.3 C", "east : 60.0 C",
                                        "north : 55.0 C", "south : 40.0 C"]
    assert panel.lines({"running": True, "failsafe": True}, {})[:2] == ["FAN FAILSAFE 100%", "no word from portal"]
    assert panel.lines({"running": False}, {"autoMode": False})[:2] == ["FAN OFF", "Auto:OFF -/- C"]


def _lit_rows(image):
    width, height = image.size
    pixels = image.load()
    return {y for y in range(height) if any(pixels[x, y] for x in range(width))}


def test_the_panel_draws_one_text_line_per_ten_pixel_row_on_the_dummy_device():
    device = panel.make_device("dummy")
    shown = panel.Panel(device).show({"running": False}, {"temperatures": {"west": 52.3}, "autoMode": True,
                                                          "minTemperature": 63, "maxTemperature": 70})
    assert shown == ["FAN OFF", "Auto:ON 63/70 C", "west : 52.3 C"]
    image = device.image
    assert image.size == (128, 64)
    lit = _lit_rows(image)
    for row in range(3):  # every line's band has ink, nothing below the last line
        assert lit & set(range(row * 10, row * 10 + 10)), f"line {row} is blank"
    assert not lit & set(range(30, 64))
    # What "FAN OFF" puts on the screen differs from "FAN ON": the image follows the state.
    before = image.tobytes()
    panel.Panel(device).show({"running": True, "speed": 1.0}, {})
    assert device.image.tobytes() != before


def test_the_portals_heartbeat_and_the_legacy_panel_post_redraw_the_panel():
    device = panel.make_device("dummy")
    server, host = serve(panel=panel.Panel(device))
    try:
        status, _ = host.call("POST", "/heartbeat", {"panel": {"temperatures": {"west": 66.5}, "autoMode": True,
                                                               "minTemperature": 63, "maxTemperature": 70}})
        assert status == 200
        assert host.state.panel.shown == ["FAN ON 100%", "Auto:ON 63/70 C", "west : 66.5 C"]
        status, _ = host.call("POST", "/fan/status", {"temperatures": {"north": 50}, "autoMode": False,
                                                      "minTemperature": None, "maxTemperature": None})
        assert status == 200 and host.state.panel.shown[1:] == ["Auto:OFF -/- C", "north : 50.0 C"]
        status, answer = host.call("POST", "/heartbeat", {"panel": {"temperatures": {"x": "hot"}}})
        assert status == 400 and "numbers" in answer["error"]
        assert host.call("GET", "/fan/state")[1]["panel"]["temperatures"] == {"north": 50.0}
    finally:
        server.shutdown()
        server.server_close()


def test_the_controller_counts_switches_not_speed_changes():
    c = FanController(L293D(mock_factory()), 60)
    c.heartbeat()
    first = c.state()["switches"]  # the start-up's fail-safe switched it on
    c.set_speed(0.5)
    c.set_speed(0.7)
    c.stop()
    c.start()
    assert first == 1 and c.state()["switches"] == 3


def test_the_host_runs_without_django_or_any_kubemon_package():
    import subprocess
    import sys

    code = ("import sys, fanhost.__main__, fanhost.panel, fanhost.nodelight; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('django', 'kubemon', 'collectors', 'metrics', 'api', 'billing', 'web', 'fan')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
