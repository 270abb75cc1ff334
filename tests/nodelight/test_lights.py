"""The node light's colours from a summary (fanhost/nodelight/lights.py) and its loop's fallbacks."""

import threading
import time

import pytest

from fanhost.nodelight import lights
from fanhost.nodelight.agent import Agent
from fanhost.nodelight.device import FakeDevice, FileDevice, open_device

G, B, R, Y, OFF_, P = lights.GREEN, lights.BLUE, lights.RED, lights.YELLOW, lights.OFF, lights.PURPLE


def summary(**counts):
    return {"counts": {"running": 0, "pending": 0, "deleting": 0, "failed": 0, "succeeded": 0, **counts},
            "stale": False}


@pytest.mark.parametrize("counts,top,bottom", [
    ({"running": 3}, G, G),
    ({"running": 3, "pending": 1}, G, Y),
    ({"running": 3, "pending": 1, "deleting": 1}, G, B),
    ({"running": 3, "pending": 1, "deleting": 1, "failed": 1}, G, R),
    ({"failed": 2}, R, R),  # the original lit nothing for failed pods alone
    ({"deleting": 1, "pending": 1}, B, B),
    ({"pending": 1}, Y, Y),
    ({"succeeded": 4}, OFF_, OFF_),
    ({}, OFF_, OFF_),
])
def test_top_says_something_runs_and_bottom_shows_the_worst_state(counts, top, bottom):
    assert lights.leds(summary(**counts), "0") == [top, bottom]


def test_light_mode_flips_the_leds_or_shows_the_bottom_colour_on_both():
    s = summary(running=1, failed=1)
    assert lights.leds(s, "1") == [R, G]
    assert lights.leds(s, "2") == [R, R]


def test_unknown_is_a_purple_blink_no_state_uses():
    assert lights.leds(None, "0", phase=0) == [P, OFF_]
    assert lights.leds(None, "0", phase=1) == [OFF_, P]
    assert lights.leds({**summary(running=1), "stale": True}, "0", phase=0) == [P, OFF_]
    assert P not in lights.BY_STATE.values()


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_summary_older_than_the_limit_turns_into_unknown_rather_than_a_stale_colour():
    clock = Clock()
    device = FakeDevice()
    agent = Agent("http://127.0.0.1:9", "west", "t", device, unknown_after=60, clock=clock)
    agent.on_summary(summary(running=2), "websocket")
    assert device.colours == [G, G]
    clock.now += 60
    agent.show()
    assert device.colours == [G, G]
    clock.now += 1
    agent.show()
    assert P in device.colours and G not in device.colours


def test_kubemon_unreachable_shows_unknown_and_the_agent_keeps_trying(tmp_path):
    device = FileDevice(str(tmp_path / "leds.json"))
    agent = Agent("http://127.0.0.1:9", "west", "t", device, poll=0.1, ws_retry=0.3)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    time.sleep(1.2)
    agent.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert P in device.colours
    assert (tmp_path / "leds.json").read_text().count("30") == 2  # one purple LED written to the file


def test_devices_are_chosen_by_name_and_a_missing_blinkstick_says_so():
    assert isinstance(open_device("fake"), FakeDevice)
    with pytest.raises(ValueError):
        open_device("lamp")
    with pytest.raises(RuntimeError, match="no BlinkStick found|pyusb"):
        open_device("blinkstick")


def test_a_machine_without_libusb_is_told_which_library_to_install(monkeypatch):
    import usb.backend.libusb0
    import usb.backend.libusb1
    import usb.backend.openusb

    for backend in (usb.backend.libusb1, usb.backend.openusb, usb.backend.libusb0):
        monkeypatch.setattr(backend, "get_backend", lambda *args, **kwargs: None)  # the C library absent
    with pytest.raises(RuntimeError, match="no libusb: install libusb-1.0-0"):
        open_device("blinkstick")


def test_the_blinkstick_is_sent_the_hid_report_its_firmware_takes():
    from fanhost.nodelight.device import BlinkStick

    sent = []

    class Usb:
        def ctrl_transfer(self, *args):
            sent.append(args)

    stick = BlinkStick.__new__(BlinkStick)
    stick.device = Usb()
    stick.set(1, (50, 0, 300))
    assert sent == [(0x20, 0x09, 0x0005, 0, bytes([5, 0, 1, 50, 0, 255]))]
