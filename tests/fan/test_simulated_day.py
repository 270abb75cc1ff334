"""The fan loop closed on a fast clock: the simulated tower (its thermal model reads the fan host's
``/fan/status``), the real inventory cycle scraping its node-exporter temperatures into Redis and
InfluxDB, the portal's fan tick, and a real fan host on mock pins.

Every clock in the loop is the simulator's (the collector's stamps and the tick's "now"), so an
hour passes in well under a minute. At the end the portal stops and the host must fail safe.
"""

import time

import pytest
from django.test import override_settings

from collectors import cycles
from fan import history, service
from kubemon.redis import get_redis
from tests.fanhost.conftest import TOKEN, serve

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
STEP = 15
DWELL = 120.0


class SimClock:
    """``time``'s ``time()`` for kubemon.temperatures: the collector stamps with the simulator's clock."""

    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now


def test_a_simulated_hour_starts_the_fan_at_the_maximum_stops_it_at_90_percent_and_cools_the_tower(
        make_simulator, store, monkeypatch):
    server, host = serve(heartbeat_timeout=20.0)  # an iteration takes real time on a busy machine
    from fanhost.controller import Watchdog

    watchdog = Watchdog(host.controller)
    watchdog.start()
    switches = []  # what the host did: (simulated time, running)
    apply = host.controller._apply
    clock = SimClock()

    def recording_apply(speed, reason):
        was = host.controller.running
        apply(speed, reason)
        if host.controller.running != was:
            switches.append((clock.now, host.controller.running, reason))

    host.controller._apply = recording_apply
    sim = make_simulator(seed=3, nodes=3, pods=24, namespaces=2, fan_url=host.url)
    monkeypatch.setattr("kubemon.temperatures.time", clock)
    redis = get_redis()
    kube = sim.kube()
    clock.now = time.time()  # unused until the first step; the simulator's clock replaces it below

    try:
        state = sim.get("/sim/state")
        start = _epoch(state["now"])
        clock.now = start
        assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis).ok
        workers = sorted(n for n, (c, _) in service.node_temperatures(redis).items() if not n.startswith("cp-"))
        hottest_start = max(service.node_temperatures(redis)[n][0] for n in workers)
        maximum = round(hottest_start - 1.0, 1)  # just under the no-fan equilibrium: the fan must start
        trace = []  # (time, hottest considered °C, host running)
        with override_settings(FAN_SERVER_URL=host.url, FAN_TOKEN=TOKEN, FAN_MAXTEMP=maximum,
                               FAN_DWELL_SECONDS=DWELL, FAN_STALE_SECONDS=60.0, FAN_TICK_SECONDS=STEP):
            for _ in range(240):  # an hour of simulated time
                sim.advance(STEP)  # the simulator reads /fan/status before it steps
                clock.now += STEP
                assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis).ok
                s = service.tick(redis, store, now=clock.now)
                trace.append((clock.now, s["hottest"][1], host.controller.running, s["reason"]))
        # Stopping the portal: nothing ticks any more; the host fails safe within its timeout.
        loop_switches = list(switches)
        host.controller.heartbeat_timeout = 3.0
        host.controller.stop()
        stopped = time.monotonic()
        while not host.controller.state()["failsafe"] and time.monotonic() - stopped < 6:
            time.sleep(0.05)
        waited = time.monotonic() - stopped
        assert host.controller.state()["failsafe"] and host.pin(15) == 1.0
        assert "no heartbeat from the portal" in host.controller.state()["reason"]
        assert waited <= 3.0 + 1.2, waited
        rows = history.changes(store, start - 1, clock.now + 1)
    finally:
        watchdog.stop()
        server.shutdown()
        server.server_close()

    switches = loop_switches
    ons = [t for t, running, _ in switches if running]
    offs = [t for t, running, _ in switches if not running]
    assert len(ons) >= 2 and len(offs) >= 2, (switches, trace[::8])
    by_time = {t: (c, running) for t, c, running, _ in trace}
    for t in ons[1:] if switches[0][1] and switches[0][0] <= start else ons:
        assert by_time[t][0] >= maximum, (t, by_time[t], maximum, switches)
    for t in offs:
        assert by_time[t][0] <= 0.9 * maximum + 1e-9, (t, by_time[t], maximum)  # off at 90 % of it
    times = [t for t, _, _ in switches]
    assert all(b - a >= DWELL for a, b in zip(times, times[1:], strict=False)), times  # never twice within the dwell
    # While the fan runs the tower cools: the hottest temperature falls over every on period.
    for on, off in zip(ons, [t for t in offs if t > ons[0]], strict=False):
        assert by_time[off][0] < by_time[on][0] - 2.0, (on, off, by_time[on], by_time[off])
    # The history in InfluxDB has the same switches as the host made, at the same times.
    recorded = []
    for t, running, _speed, mode, _reason in rows:
        if mode in ("auto", "manual", "failsafe") and (not recorded or recorded[-1][1] != running):
            recorded.append((round(t), running))
    assert recorded[-len(switches):] == [(round(t), r) for t, r, _ in switches], (recorded, switches)


def _epoch(text):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
