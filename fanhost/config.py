"""The fan host's command line and its bearer token (``--token-file F`` or ``FANHOST_TOKEN``)."""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
from dataclasses import dataclass

DEFAULT_PINS = (11, 13, 15)  # BOARD numbering: L293D IN1, IN2, ENABLE (the legacy wiring)


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 5000
    token: str = ""
    heartbeat_timeout: float = 60.0
    mock_pins: bool = False
    in1: str = "BOARD11"
    in2: str = "BOARD13"
    enable: str = "BOARD15"
    pwm_frequency: float = 100.0
    legacy_control: bool = False
    oled: str = ""  # "", "ssd1306", "sh1106" or "dummy"
    oled_address: int = 0x3C
    quiet: bool = False


class ConfigError(ValueError):
    pass


def pin_name(value) -> str:
    """``11`` → ``BOARD11`` (the legacy numbering); ``GPIO17``/``BCM17``/``BOARD11`` as given."""
    text = str(value).strip().upper()
    if text.isdigit():
        return f"BOARD{int(text)}"
    if re.fullmatch(r"(BOARD|GPIO|BCM)\d{1,2}", text):
        return text
    raise ConfigError(f"{value!r} is not a pin (a BOARD number such as 11, or GPIO17 / BOARD11)")


def read_token(path: str | None, environ=os.environ) -> str:
    """The token from ``path`` (stripped), else ``FANHOST_TOKEN``; refuses a short one."""
    if path:
        try:
            mode = os.stat(path).st_mode
            with open(path, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as exc:
            raise ConfigError(f"--token-file {path}: {exc.strerror or exc}") from exc
        if mode & (stat.S_IROTH | stat.S_IWOTH):
            sys.stderr.write(f"fanhost: warning: {path} is readable by every user; chmod 600 it\n")
    else:
        token = environ.get("FANHOST_TOKEN", "").strip()
    if not token:
        raise ConfigError("no token: give --token-file FILE or set FANHOST_TOKEN")
    if len(token) < 16:
        raise ConfigError("the token is shorter than 16 characters; generate one with `openssl rand -hex 32`")
    return token


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fanhost", description="kubemon's fail-safe fan host (L293D on GPIO)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="port (default 5000, the legacy one; 0 picks a free one)")
    p.add_argument("--token-file", default=None, metavar="F", help="file holding the bearer token (else FANHOST_TOKEN)")
    p.add_argument("--heartbeat-timeout", type=float, default=60.0, metavar="S",
                   help="full speed when the portal has been silent this long (default 60; 0 turns it off)")
    p.add_argument("--mock-pins", action="store_true", help="gpiozero's mock pins (tests, machines without GPIO)")
    p.add_argument("--pins", default="11,13,15", metavar="IN1,IN2,ENABLE",
                   help="L293D pins, BOARD numbers or GPIO names (default 11,13,15)")
    p.add_argument("--pwm-frequency", type=float, default=100.0, metavar="HZ", help="PWM on ENABLE (default 100)")
    p.add_argument("--legacy-control", action="store_true",
                   help="let GET /fan/start and /fan/stop switch the fan without a token (off by default)")
    p.add_argument("--oled", default="", choices=["", "ssd1306", "sh1106", "dummy"],
                   help="draw the panel on an I2C OLED through luma.oled")
    p.add_argument("--oled-address", default="0x3C", help="the OLED's I2C address (default 0x3C)")
    p.add_argument("--quiet", action="store_true", help="no request log")
    return p


def options_from_args(argv=None, environ=os.environ) -> Options:
    args = parser().parse_args(argv)
    pins = [part for part in args.pins.split(",") if part.strip()]
    if len(pins) != 3:
        raise ConfigError("--pins takes three pins: IN1,IN2,ENABLE")
    in1, in2, enable = (pin_name(p) for p in pins)
    if len({in1, in2, enable}) != 3:
        raise ConfigError("--pins: IN1, IN2 and ENABLE must be three different pins")
    if args.heartbeat_timeout < 0:
        raise ConfigError("--heartbeat-timeout must be 0 (off) or more")
    if not 0 < args.pwm_frequency <= 100_000:
        raise ConfigError("--pwm-frequency must be between 0 and 100000 Hz")
    if not 0 <= args.port <= 65535:
        raise ConfigError("--port must be between 0 and 65535")
    try:
        address = int(args.oled_address, 0)
    except ValueError:
        raise ConfigError("--oled-address must be a number such as 0x3C") from None
    return Options(host=args.host, port=args.port, token=read_token(args.token_file, environ),
                   heartbeat_timeout=args.heartbeat_timeout, mock_pins=args.mock_pins, in1=in1, in2=in2,
                   enable=enable, pwm_frequency=args.pwm_frequency, legacy_control=args.legacy_control,
                   oled=args.oled, oled_address=address, quiet=args.quiet)
