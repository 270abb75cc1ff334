"""The fan's state and its fail-safe: plain code around the pins, with the clock injected.

The fan runs at full speed (``mode: "failsafe"``) from start-up until the portal's first
heartbeat, whenever the portal has been silent for ``heartbeat_timeout`` seconds, and on SIGTERM;
``reason`` says which. Any authenticated call counts as a heartbeat. A heartbeat ends the
fail-safe but does not stop the fan: it keeps running until the portal says otherwise, so a
portal that comes back and crashes again never leaves the tower uncooled.
"""

from __future__ import annotations

import threading
import time

FAILSAFE, PORTAL, LEGACY = "failsafe", "portal", "legacy"


class FanController:
    def __init__(self, pins, heartbeat_timeout=60.0, clock=time.monotonic, wall=time.time):
        self.pins = pins
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.clock = clock
        self.wall = wall
        self.lock = threading.RLock()
        self.last_heartbeat = None  # clock() of the last one; None: the portal never spoke
        self.released = False
        self.running = False
        self.speed = 0.0
        self.mode = FAILSAFE
        self.reason = ""
        self.since = wall()  # when the fan last went on or off
        self.failsafe_since = None  # when the current fail-safe began (the fan may have been on already)
        self.switches = 0
        self._failsafe("started; full speed until the portal's first heartbeat")

    # --- what the API calls ---------------------------------------------------------------
    def heartbeat(self, now=None):
        with self.lock:
            self.last_heartbeat = self.clock() if now is None else now
            if self.mode == FAILSAFE and not self.released:
                self.mode = PORTAL
                self.reason = "portal heartbeat; fan kept as it was until the portal decides"
            return self.state()

    def start(self, speed=1.0, reason="started by the portal", mode=PORTAL):
        return self._set(speed if speed > 0 else 1.0, reason, mode)

    def stop(self, reason="stopped by the portal", mode=PORTAL):
        return self._set(0.0, reason, mode)

    def set_speed(self, speed, reason=None, mode=PORTAL):
        return self._set(speed, reason or f"speed {speed:.2f} from the portal", mode)

    def check(self, now=None):
        """The watchdog: fail safe when the heartbeat is overdue. True when it just did."""
        with self.lock:
            if self.mode == FAILSAFE or self.heartbeat_timeout <= 0 or self.last_heartbeat is None:
                return False
            now = self.clock() if now is None else now
            silent = now - self.last_heartbeat
            if silent <= self.heartbeat_timeout:
                return False
            self._failsafe(f"no heartbeat from the portal for {silent:.0f} s (limit {self.heartbeat_timeout:g} s)")
            return True

    def shutdown(self, why="SIGTERM"):
        """Full speed, and the pins are never released afterwards (the fan stays on after exit)."""
        with self.lock:
            self._failsafe(f"{why}: the host is stopping; fan left on at full speed")
            self.released = True
            return self.state()

    # --- state ----------------------------------------------------------------------------
    def state(self):
        with self.lock:
            age = None if self.last_heartbeat is None else round(self.clock() - self.last_heartbeat, 1)
            return {
                "running": self.running, "speed": round(self.speed, 4), "mode": self.mode,
                "failsafe": self.mode == FAILSAFE, "reason": self.reason, "since": self.since,
                "failsafe_since": self.failsafe_since if self.mode == FAILSAFE else None,
                "heartbeat_age": age, "heartbeat_timeout": self.heartbeat_timeout, "switches": self.switches,
                "pins": self.pins.levels(),
            }

    def legacy_status(self):
        """The Flask server's ``GET /fan/status``: running means ENABLE is high."""
        on = self.pins.duty > 0
        return {"status": on, "message": "FAN ON" if on else "FAN OFF"}

    # --- internals ------------------------------------------------------------------------
    def _failsafe(self, reason):
        if self.mode != FAILSAFE or self.failsafe_since is None:
            self.failsafe_since = self.wall()
        self.mode = FAILSAFE
        self._apply(1.0, reason)

    def _set(self, speed, reason, mode):
        speed = float(speed)
        if not 0.0 <= speed <= 1.0:
            raise ValueError("speed must be between 0 and 1")
        with self.lock:
            if self.released:
                return self.state()  # stopping: nothing may turn the fan down any more
            self.last_heartbeat = self.clock()
            self.mode = mode
            self._apply(speed, reason)
            return self.state()

    def _apply(self, speed, reason):
        running = speed > 0
        if running != self.running:
            self.switches += 1
            self.since = self.wall()
        self.pins.drive(speed)
        self.running = running
        self.speed = speed
        self.reason = reason


class Watchdog(threading.Thread):
    """Calls ``controller.check()`` a few times per timeout."""

    def __init__(self, controller, on_failsafe=None):
        super().__init__(name="fanhost-watchdog", daemon=True)
        self.controller = controller
        self.on_failsafe = on_failsafe
        self.stopping = threading.Event()
        timeout = controller.heartbeat_timeout or 60.0
        self.period = min(max(timeout / 10.0, 0.05), 1.0)

    def run(self):
        while not self.stopping.wait(self.period):
            if self.controller.check() and self.on_failsafe:
                self.on_failsafe(self.controller.state())

    def stop(self):
        self.stopping.set()
