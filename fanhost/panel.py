"""The optional OLED panel (the original had one): the fan, auto mode and thresholds, and the
hottest nodes, drawn through luma.oled on a 128x64 SSD1306/SH1106 (luma's dummy device in tests).

``lines()`` decides what is shown (plain, tested); ``Panel.show()`` draws it.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("fanhost")
LINE_HEIGHT = 10


def _degrees(value):
    return "-" if value is None else f"{value:.0f}"


def lines(state: dict, data: dict, rows: int = 6) -> list[str]:
    if state.get("failsafe"):
        head = "FAN FAILSAFE 100%"
    elif state.get("running"):
        head = f"FAN ON {round(state.get('speed', 1.0) * 100):d}%"
    else:
        head = "FAN OFF"
    out = [head]
    if data:
        auto = "ON" if data.get("autoMode") else "OFF"
        out.append(f"Auto:{auto} {_degrees(data.get('minTemperature'))}/{_degrees(data.get('maxTemperature'))} C")
        temps = sorted((data.get("temperatures") or {}).items(), key=lambda item: -item[1])
        for node, celsius in temps[: rows - len(out)]:
            out.append(f"{node[:11]} : {celsius:.1f} C")
    else:
        out.append("no word from portal")
    return out[:rows]


def make_device(kind: str, address: int = 0x3C):
    """A luma device: ``dummy`` (an image in memory), or an I2C ``ssd1306``/``sh1106`` on bus 1."""
    try:
        from luma.core.device import dummy
        from luma.core.interface.serial import i2c
        from luma.oled.device import sh1106, ssd1306
    except ImportError as exc:
        raise RuntimeError(f"--oled needs luma.oled: pip install 'kubemon-fanhost[oled]' ({exc})") from exc
    if kind == "dummy":
        return dummy(width=128, height=64, mode="1")
    serial = i2c(port=1, address=address)
    return (ssd1306 if kind == "ssd1306" else sh1106)(serial, width=128, height=64)


class Panel:
    def __init__(self, device):
        self.device = device
        self.lock = threading.Lock()
        self.shown: list[str] = []

    def show(self, state: dict, data: dict) -> list[str]:
        from luma.core.render import canvas

        text = lines(state, data, rows=max(self.device.height // LINE_HEIGHT, 1))
        with self.lock:
            try:
                with canvas(self.device) as draw:
                    for row, line in enumerate(text):
                        draw.text((0, row * LINE_HEIGHT), line, fill="white")
                self.shown = text
            except OSError as exc:  # an I2C hiccup must not take the fan host down
                log.warning("OLED panel: %s", exc)
        return text
