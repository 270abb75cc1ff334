"""The fan loop closed on a fast clock: the simulated tower (its thermal model reads the fan host's
``/fan/status``), the real inventory cycle scraping its node-exporter temperatures into Redis and
InfluxDB, the portal's fan tick, and a real fan host on mock pins.

Every clock in the loop is the simulator's (the collector's stamps and the tick's "now"), so an
hour passes in well under a minute and a day in a few minutes.

- The hour: the host keeps real time with its own watchdog thread; at the end the portal stops and
  the host must fail safe within its timeout, in real seconds.
- The day: the host's clocks are the simulator's too (its watchdog's check runs after every step,
  as its thread would), with the default 60 s heartbeat timeout and 120 s dwell. At noon the
  portal's fan tick stops for ten minutes and the host must fail safe; at the end it stops for
  good. The figures (switches, hottest, time above the maximum, dwell, fail-safe periods) are
  printed and written to ``bench/results/fan-simulated-day.json``; docs/fan.md quotes them.
"""

import json
import time
from pathlib import Path

import pytest
from django.test import override_settings

from collectors import cycles
from fan import history, service
from kubemon.redis import get_redis
from tests.fanhost.conftest import TOKEN, record_switches, serve

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
FAILSAFE_REASONS = ("started;", "no heartbeat from the portal", "SIGTERM")


class SimClock:
    """``time``'s ``time()`` for kubemon.temperatures: the collector stamps with the simulator's clock."""

    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now


class ClosedLoop:
    """The simulator, a fan host on mock pins whose switches are recorded (simulated time, running,
    reason), the inventory cycle and the fan tick, stepped together."""

    def __init__(self, make_simulator, store, monkeypatch, heartbeat_timeout, simulated_host_clock):
        self.clock = SimClock()
        clocks = {"clock": self.clock.time, "wall": self.clock.time} if simulated_host_clock else {}
        self.server, self.host = serve(heartbeat_timeout=heartbeat_timeout, **clocks)
        self.switches = record_switches(self.host, self.clock.time)
        self.sim = make_simulator(seed=3, nodes=3, pods=24, namespaces=2, fan_url=self.host.url)
        monkeypatch.setattr("kubemon.temperatures.time", self.clock)
        self.store = store
        self.redis = get_redis()
        self.kube = self.sim.kube()
        self.start = _epoch(self.sim.get("/sim/state")["now"])
        self.clock.now = self.start
        if simulated_host_clock:
            self.host.controller.since = self.host.controller.failsafe_since = self.start
        self.collect()
        workers = [n for n in service.node_temperatures(self.redis) if not n.startswith("cp-")]
        hottest = max(service.node_temperatures(self.redis)[n][0] for n in workers)
        self.maximum = round(hottest - 1.0, 1)  # just under the no-fan equilibrium: the fan must start
        self.trace = []  # (time, hottest considered °C, host running, reason) at every tick

    def collect(self):
        assert cycles.run_inventory_cycle(kube=self.kube, store=self.store, redis=self.redis).ok

    def step(self, seconds, tick=True):
        self.sim.advance(seconds)  # the simulator reads /fan/status before it steps
        self.clock.now += seconds
        self.collect()
        if not tick:
            return None
        s = service.tick(self.redis, self.store, now=self.clock.now)
        self.trace.append((self.clock.now, s["hottest"][1], self.host.controller.running, s["reason"]))
        return s

    def history(self):
        return history.changes(self.store, self.start - 1, self.clock.now + 1)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def check_the_loop(loop, switches, dwell):
    """On only at the maximum, off at 90 % of it, never twice within the dwell, cooler half a dwell
    after every start, and InfluxDB's history equal to the host's switches. Returns the gaps."""
    maximum = loop.maximum
    by_time = {t: c for t, c, _, _ in loop.trace}
    portal = [(t, running) for t, running, reason in switches if not reason.startswith(FAILSAFE_REASONS)]
    ons = [t for t, running in portal if running]
    offs = [t for t, running in portal if not running]
    assert len(ons) >= 2 and len(offs) >= 2, (switches, loop.trace[::8])
    for t in ons:
        assert by_time[t] >= maximum, (t, by_time[t], maximum, switches)
    for t in offs:
        assert by_time[t] <= 0.9 * maximum + 1e-9, (t, by_time[t], maximum)  # off at 90 % of it
    times = [t for t, _, _ in switches]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(gap >= dwell for gap in gaps), times  # never twice within the dwell, fail-safe included
    # While the fan runs the tower cools: half a dwell after each start (the fan surely still on)
    # the hottest node is cooler; the thresholds alone would not show it, the tower might cool by itself.
    later = dwell / 2
    cooled = [(t, by_time[t], by_time[t + later]) for t in ons if t + later in by_time]
    assert cooled and all(after < before - 1.0 for _, before, after in cooled), cooled
    # The history in InfluxDB has the same switches as the host made, at the same times.
    recorded = []
    for t, running, _speed, mode, _reason in loop.history():
        if mode in ("auto", "manual", "failsafe") and (not recorded or recorded[-1][1] != running):
            recorded.append((round(t), running))
    assert recorded[-len(switches):] == [(round(t), r) for t, r, _ in switches], (recorded, switches)
    return gaps


def test_a_simulated_hour_starts_the_fan_at_the_maximum_stops_it_at_90_percent_and_cools_the_tower(
        make_simulator, store, monkeypatch):
    from fanhost.controller import Watchdog

    step, dwell = 15, 120.0
    loop = ClosedLoop(make_simulator, store, monkeypatch, heartbeat_timeout=20.0,  # real seconds: a busy machine
                      simulated_host_clock=False)
    watchdog = Watchdog(loop.host.controller)
    watchdog.start()
    try:
        with override_settings(FAN_SERVER_URL=loop.host.url, FAN_TOKEN=TOKEN, FAN_MAXTEMP=loop.maximum,
                               FAN_DWELL_SECONDS=dwell, FAN_STALE_SECONDS=60.0, FAN_TICK_SECONDS=step):
            for _ in range(240):  # an hour of simulated time
                loop.step(step)
        # Stopping the portal: nothing ticks any more; the host fails safe within its timeout.
        switches = list(loop.switches)
        controller = loop.host.controller
        controller.heartbeat_timeout = 3.0
        controller.stop()
        stopped = time.monotonic()
        while not controller.state()["failsafe"] and time.monotonic() - stopped < 6:
            time.sleep(0.05)
        waited = time.monotonic() - stopped
        assert controller.state()["failsafe"] and loop.host.pin(15) == 1.0
        assert "no heartbeat from the portal" in controller.state()["reason"]
        assert waited <= 3.0 + 1.2, waited
        # the start-up fail-safe that the first tick ended is the loop's first switch when it stopped the fan
        check_the_loop(loop, switches, dwell)
    finally:
        watchdog.stop()
        loop.close()


def test_a_simulated_day_keeps_the_rule_and_the_dwell_and_fails_safe_when_the_portal_stops(
        make_simulator, store, monkeypatch):
    step, dwell, timeout, outage = 30, 120.0, 60.0, 600  # the defaults; inventory's 30 s; ten minutes
    day = 86400
    began = time.monotonic()
    loop = ClosedLoop(make_simulator, store, monkeypatch, heartbeat_timeout=timeout, simulated_host_clock=True)
    controller = loop.host.controller
    failsafes = []  # (began, ended or None, reason): the host's fail-safe periods in simulated time

    def watch():
        """The host's watchdog on the simulated clock, once a step, and the periods it opens."""
        if controller.check():
            failsafes.append([controller.failsafe_since, None, controller.reason])
        if failsafes and failsafes[-1][1] is None and not controller.state()["failsafe"]:
            failsafes[-1][1] = loop.clock.now

    failsafes.append([loop.start, None, controller.reason])  # the start-up fail-safe
    above = longest_above = run_above = 0.0
    outage_at = None
    try:
        with override_settings(FAN_SERVER_URL=loop.host.url, FAN_TOKEN=TOKEN, FAN_MAXTEMP=loop.maximum,
                               FAN_DWELL_SECONDS=dwell, FAN_STALE_SECONDS=60.0, FAN_TICK_SECONDS=step):
            while loop.clock.now - loop.start < day:
                elapsed = loop.clock.now - loop.start
                last_switch = loop.switches[-1][0] if loop.switches else loop.start
                if outage_at is None and elapsed >= day / 2 and not controller.running \
                        and loop.clock.now - last_switch >= dwell:
                    outage_at = loop.clock.now  # noon, the fan off: the portal's fan tick stops
                portal_down = outage_at is not None and loop.clock.now < outage_at + outage
                loop.step(step, tick=not portal_down)
                watch()
                hottest = max(c for c, _ in service.considered_temperatures(loop.redis).values())
                run_above = run_above + step if hottest > loop.maximum else 0.0
                above += step if hottest > loop.maximum else 0.0
                longest_above = max(longest_above, run_above)
            switches = list(loop.switches)
            # The end of the day: the portal stops for good; the host fails safe within its timeout.
            stopped = loop.clock.now
            while not controller.state()["failsafe"] and loop.clock.now - stopped < 3 * timeout:
                loop.step(step, tick=False)
                watch()
        final = controller.state()
    finally:
        loop.close()

    assert outage_at is not None, "the fan never rested after noon"
    noon = [f for f in failsafes if outage_at <= f[0] < outage_at + outage]
    assert len(noon) == 1 and "no heartbeat from the portal" in noon[0][2]
    assert noon[0][0] - outage_at <= timeout + step  # within the timeout, checked once a step here
    assert noon[0][1] is not None and noon[0][1] <= outage_at + outage + step  # the portal took over again
    assert any(t == noon[0][0] and running for t, running, _ in switches)  # the fail-safe started the fan
    assert final["failsafe"] and final["running"] and final["speed"] == 1.0
    assert "no heartbeat from the portal" in final["reason"]
    assert controller.failsafe_since - stopped <= timeout + step
    gaps = check_the_loop(loop, switches, dwell)
    ons = [t for t, running, _ in switches if running]
    on_seconds = sum(off - on for on, off in _periods(switches, loop.start, stopped))
    figures = {
        "simulated_seconds": int(stopped - loop.start), "step_seconds": step, "dwell_seconds": dwell,
        "heartbeat_timeout_seconds": timeout, "maximum_celsius": loop.maximum,
        "off_at_celsius": round(0.9 * loop.maximum, 2),
        "switches": len(switches), "starts": len(ons), "stops": len(switches) - len(ons),
        "failsafe_switches": sum(1 for *_, reason in switches if reason.startswith(FAILSAFE_REASONS)),
        "fan_on_fraction": round(on_seconds / (stopped - loop.start), 3),
        "hottest_celsius": round(max(c for _, c, _, _ in loop.trace), 1),
        "seconds_above_maximum": int(above), "longest_stretch_above_maximum_seconds": int(longest_above),
        "shortest_gap_between_switches_seconds": int(min(gaps)), "dwell_respected": min(gaps) >= dwell,
        "failsafe_periods": [{"began_after_seconds": int(b - loop.start),
                              "lasted_seconds": None if e is None else int(e - b), "reason": why}
                             for b, e, why in failsafes],
        "noon_outage_failsafe_after_seconds": int(noon[0][0] - outage_at),
        "end_failsafe_after_seconds": int(controller.failsafe_since - stopped),
        "history_matches_host": True,
        "alerts": sum(1 for r in loop.history() if r[4].startswith("alert:")),
        "real_seconds": round(time.monotonic() - began, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fan-simulated-day.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("fan simulated day:", json.dumps(figures))


def _periods(switches, begin, end):
    """The on periods ``[(on, off)]`` from the host's switches (the host starts on: its fail-safe)."""
    out, on = [], begin
    for t, running, _ in switches:
        if running and on is None:
            on = t
        elif not running and on is not None:
            out.append((on, t))
            on = None
    if on is not None:
        out.append((on, end))
    return out


def _epoch(text):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
