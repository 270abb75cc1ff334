"""The LED device behind one small interface: ``set(index, (r, g, b))``.

``BlinkStick``: a BlinkStick Nano through pyusb and the device's HID feature reports (report 5:
``[5, channel, index, r, g, b]``), which is what the blinkstick package sends. That package is not
used: its wheel requires pywinusb on every platform and it calls ``collections.Callable``, which
Python 3.10 removed. ``FakeDevice`` keeps the colours (tests); ``FileDevice`` writes them as JSON
(a machine without the stick, or a test of the process).
"""

from __future__ import annotations

import json
import os
import threading

VENDOR_ID = 0x20A0
PRODUCT_ID = 0x41E5


class FakeDevice:
    def __init__(self, count=2):
        self.colours = [(0, 0, 0)] * count
        self.history = []
        self.lock = threading.Lock()

    def set(self, index, rgb):
        with self.lock:
            self.colours[index] = tuple(rgb)
            self.history.append((index, tuple(rgb)))

    def close(self):
        pass


class FileDevice(FakeDevice):
    def __init__(self, path, count=2):
        super().__init__(count)
        self.path = path

    def set(self, index, rgb):
        super().set(index, rgb)
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"leds": [list(c) for c in self.colours]}, f)
        os.replace(tmp, self.path)


class BlinkStick:
    def __init__(self, serial=None):
        try:
            import usb.core
        except ImportError as exc:
            raise RuntimeError("the BlinkStick needs pyusb: pip install 'kubemon-fanhost[lights]'") from exc
        kwargs = {"idVendor": VENDOR_ID, "idProduct": PRODUCT_ID}
        if serial:
            kwargs["serial_number"] = serial
        try:
            self.device = usb.core.find(**kwargs)
        except usb.core.NoBackendError as exc:  # pyusb is only the binding: the C library does the work
            raise RuntimeError("pyusb finds no libusb: install libusb-1.0-0 (the kubemon image has it)") from exc
        if self.device is None:
            raise RuntimeError("no BlinkStick found (is it plugged in, and does the udev rule give this user access?)")

    def set(self, index, rgb):
        r, g, b = (max(0, min(255, int(v))) for v in rgb)
        # bmRequestType 0x20 (class, host to device), SET_REPORT (9), report id 5, on interface 0
        self.device.ctrl_transfer(0x20, 0x09, 0x0005, 0, bytes([5, 0, index, r, g, b]))

    def close(self):
        import usb.util

        usb.util.dispose_resources(self.device)


def open_device(spec):
    """``blinkstick`` (or ``blinkstick:SERIAL``), ``file:PATH`` or ``fake``."""
    if spec.startswith("file:"):
        return FileDevice(spec[5:])
    if spec == "fake":
        return FakeDevice()
    if spec == "blinkstick" or spec.startswith("blinkstick:"):
        return BlinkStick(spec.partition(":")[2] or None)
    raise ValueError(f"unknown device {spec!r} (blinkstick, blinkstick:SERIAL, file:PATH or fake)")
