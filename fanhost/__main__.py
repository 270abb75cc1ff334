"""``python -m fanhost --host 127.0.0.1 --port P --token-file F [--heartbeat-timeout S] [--mock-pins]``.

The first line on stdout is ``fanhost listening on http://HOST:PORT`` (flushed), so a parent
process can read the port. SIGTERM or SIGINT leaves the fan on at full speed and exits with status
0 without releasing the pins: gpiozero would otherwise reset them on exit, stopping the fan.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from .config import ConfigError, options_from_args
from .controller import FanController, Watchdog
from .pins import L293D, make_factory
from .server import HostState, make_server

log = logging.getLogger("fanhost")


def build(opts):
    factory, kind = make_factory(opts.mock_pins)
    pins = L293D(factory, opts.in1, opts.in2, opts.enable, opts.pwm_frequency)
    controller = FanController(pins, opts.heartbeat_timeout)
    panel = None
    if opts.oled:
        from .panel import Panel, make_device

        panel = Panel(make_device(opts.oled, opts.oled_address))
    host = HostState(controller, opts.token, opts.legacy_control, opts.quiet, panel)
    return host, kind


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="fanhost: %(levelname)s %(message)s", stream=sys.stderr)
    try:
        opts = options_from_args(argv)
        host, kind = build(opts)
        server = make_server(host, opts.host, opts.port)
    except ConfigError as exc:
        sys.stderr.write(f"fanhost: {exc}\n")
        return 2
    except (OSError, RuntimeError) as exc:
        sys.stderr.write(f"fanhost: cannot start: {exc}\n")
        return 1
    controller = host.controller

    def refresh_panel(*_):
        if host.panel is not None:
            host.panel.show(controller.state(), host.panel_data)

    def on_failsafe(state):
        log.warning("FAIL-SAFE: %s", state["reason"])
        refresh_panel()

    watchdog = Watchdog(controller, on_failsafe)
    watchdog.start()
    refresh_panel()

    def stop(signum, _frame):
        controller.shutdown(signal.Signals(signum).name)
        refresh_panel()
        log.warning("%s: fan left running at full speed; pins not released", signal.Signals(signum).name)
        sys.stderr.flush()
        sys.stdout.flush()
        # Not sys.exit: gpiozero's atexit hook would release the pins and so stop the fan.
        threading.Thread(target=server.shutdown, daemon=True).start()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    url = f"http://{opts.host}:{server.server_address[1]}"
    print(f"fanhost listening on {url}", flush=True)
    log.info("pins: %s (IN1 %s, IN2 %s, ENABLE %s, PWM %g Hz); heartbeat timeout %s; fan at full speed "
             "until the portal's first heartbeat", kind, opts.in1, opts.in2, opts.enable, opts.pwm_frequency,
             f"{opts.heartbeat_timeout:g} s" if opts.heartbeat_timeout else "off")
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
