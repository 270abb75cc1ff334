"""Choosing gpiozero's pin factory and driving the L293D.

lgpio on a Pi 5 (RPi.GPIO cannot drive its RP1 chip), RPi.GPIO on older Pis (the library the
project's users asked for; lgpio when it is missing), gpiozero's mock factory with PWM pins for
tests and for machines with no GPIO, chosen with a warning when no GPIO is found.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("fanhost")


def board_model(path="/proc/device-tree/model") -> str:
    try:
        with open(path, "rb") as f:
            return f.read().rstrip(b"\x00").decode("ascii", "replace")
    except OSError:
        return ""


def mock_factory():
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    return MockFactory(pin_class=MockPWMPin)


def has_gpio() -> bool:
    return os.path.exists("/dev/gpiomem") or any(name.startswith("gpiochip") for name in _dev())


def _dev():
    try:
        return os.listdir("/dev")
    except OSError:
        return []


def make_factory(mock: bool = False):
    """``(factory, name)``; mock pins with a warning where the machine has no GPIO."""
    if mock:
        return mock_factory(), "mock"
    model = board_model()
    if not has_gpio():
        log.warning("no GPIO on this machine (%s): using mock pins; the fan is NOT driven",
                    model or "not a Raspberry Pi")
        return mock_factory(), "mock"
    order = ["lgpio"] if "Raspberry Pi 5" in model else ["rpigpio", "lgpio"]
    errors = []
    for name in order:
        try:
            if name == "lgpio":
                from gpiozero.pins.lgpio import LGPIOFactory

                return LGPIOFactory(), "lgpio"
            from gpiozero.pins.rpigpio import RPiGPIOFactory

            return RPiGPIOFactory(), "RPi.GPIO"
        except Exception as exc:  # noqa: BLE001  (ImportError, RuntimeError "not a Pi", no permission)
            errors.append(f"{name}: {exc}")
    log.warning("no pin library works (%s): using mock pins; the fan is NOT driven "
                "(pip install 'kubemon-fanhost[pi]', and the user in the gpio group)", "; ".join(errors))
    return mock_factory(), "mock"


class L293D:
    """One fan on one L293D channel: IN1 high and IN2 low set the direction, PWM on ENABLE the speed."""

    def __init__(self, factory, in1="BOARD11", in2="BOARD13", enable="BOARD15", frequency=100.0):
        from gpiozero import DigitalOutputDevice, PWMOutputDevice

        self.names = {"in1": in1, "in2": in2, "enable": enable}
        # Full speed from the first instant: the host starts in its safe state (fanhost/controller.py).
        self.in1 = DigitalOutputDevice(in1, initial_value=True, pin_factory=factory)
        self.in2 = DigitalOutputDevice(in2, initial_value=False, pin_factory=factory)
        self.enable = PWMOutputDevice(enable, initial_value=1.0, frequency=frequency, pin_factory=factory)

    def drive(self, speed: float) -> None:
        """``speed`` 0..1: 0 stops the fan (ENABLE low), anything else runs it at that duty."""
        speed = min(max(float(speed), 0.0), 1.0)
        self.in1.on()
        self.in2.off()
        self.enable.value = speed

    @property
    def duty(self) -> float:
        return float(self.enable.value)

    def levels(self) -> dict:
        return {"in1": int(self.in1.value), "in2": int(self.in2.value), "enable_duty": round(self.duty, 4)}

    def close(self) -> None:
        for device in (self.enable, self.in1, self.in2):
            device.close()
