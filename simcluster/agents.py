"""Things outside the API server: the temperature DaemonSet's agents and the fan host's state.

Temperature agents behave like the busybox DaemonSet: every 5 simulated seconds each Ready node
reports its temperature in millidegrees with
``GET {url}/k8s/collect/{token}/temperature?node=<name>&value=<millidegrees>``.
Rounds are never closer than 0.25 real seconds (at most 4 requests per node per real second):
above ``--speed 20`` some 5-second ticks are skipped, and when simulated time jumps (a manual
``advance``) one round reports the current temperatures rather than replaying the missed ticks,
since a thermometer reads the present. A target that is down costs a failed request per node and
round, counted in ``/sim/state``; nothing is queued for later.
"""

from __future__ import annotations

import http.client
import math
import queue
import sys
import threading
import time
from urllib.parse import quote, urlsplit

import orjson

PUSH_EVERY = 5.0  # simulated seconds, the DaemonSet's sleep
MIN_ROUND_GAP = 0.25  # real seconds between rounds
WORKERS = 4


class FanWatcher:
    """Polls the fan host's ``GET /fan/status`` (``{"status": bool, "message": ...}``).

    An unreachable or malformed answer counts as "fan not running": the simulator must not
    invent cooling it cannot confirm.
    """

    def __init__(self, url: str, period: float = 1.0):
        self.url = url.rstrip("/") + "/fan/status"
        self.period = period
        self.running = False
        self.ok = False
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_log = 0.0

    def refresh(self) -> None:
        parts = urlsplit(self.url)
        conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        try:
            conn = conn_cls(parts.netloc, timeout=1.0)
            try:
                conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
                resp = conn.getresponse()
                body = resp.read()
            finally:
                conn.close()
            if resp.status != 200:
                raise ValueError(f"HTTP {resp.status}")
            doc = orjson.loads(body)
            if not isinstance(doc, dict) or not isinstance(doc.get("status"), bool):
                raise ValueError("no boolean 'status' in the answer")
            self.running = doc["status"]
            self.ok = True
        except Exception as exc:  # noqa: BLE001 - any failure means "unknown", which we treat as off
            self.running = False
            self.ok = False
            self.errors += 1
            now = time.monotonic()
            if now - self._last_log > 60:
                self._last_log = now
                sys.stderr.write(
                    f"simcluster: fan host {self.url} unavailable ({exc}); assuming the fan is off\n"
                )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="simcluster-fan", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()


class TemperaturePusher:
    def __init__(self, sim, url: str, token: str):
        self.sim = sim
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.netloc = parts.netloc
        self.prefix = parts.path.rstrip("/") + f"/k8s/collect/{quote(token, safe='')}/temperature"
        self.sent = 0
        self.failed = 0
        self.rounds = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._last_log = 0.0
        self._count = threading.Lock()

    def stats(self) -> dict:
        return {
            "url": f"{'https' if self.https else 'http'}://{self.netloc}{self.prefix}",
            "rounds": self.rounds,
            "sent": self.sent,
            "failed": self.failed,
            "last_error": self.last_error,
        }

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        for i in range(WORKERS):
            t = threading.Thread(target=self._worker, name=f"simcluster-temp-{i}", daemon=True)
            t.start()
            self._workers.append(t)
        self._thread = threading.Thread(target=self._loop, name="simcluster-temp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for _ in self._workers:
            self._jobs.put(None)

    def _loop(self) -> None:
        sim = self.sim
        last_tick: int | None = None
        last_round = 0.0
        while not self._stop.is_set():
            tick = math.floor((sim.clock.now() - sim.t0) / PUSH_EVERY)
            gap = time.monotonic() - last_round
            if tick != last_tick and gap >= MIN_ROUND_GAP:
                with sim.lock:
                    sim.sync()
                    readings = [(n.name, int(round(n.temp * 1000))) for n in sim.node_list if n.ready]
                self._round(readings)
                self.rounds += 1
                last_tick = tick
                last_round = time.monotonic()
                continue
            if tick != last_tick:
                wait = MIN_ROUND_GAP - gap
            elif sim.clock.manual:
                wait = 1.0  # time moves only on advance, which wakes us
            else:
                next_at = sim.t0 + (tick + 1) * PUSH_EVERY
                wait = (next_at - sim.clock.now()) / sim.opts.speed
            self._wake.wait(min(max(wait, 0.005), 1.0))
            self._wake.clear()

    def _round(self, readings: list[tuple[str, int]]) -> None:
        for name, value in readings:
            self._jobs.put(f"{self.prefix}?node={quote(name, safe='')}&value={value}")
        self._jobs.join()

    def _worker(self) -> None:
        conn = None
        while True:
            path = self._jobs.get()
            if path is None:
                self._jobs.task_done()
                return
            try:
                if conn is None:
                    cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
                    conn = cls(self.netloc, timeout=2.0)
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    raise OSError(f"HTTP {resp.status}")
                with self._count:
                    self.sent += 1
            except Exception as exc:  # noqa: BLE001 - the target may be down or odd: count and go on
                with self._count:
                    self.failed += 1
                    self.last_error = str(exc) or type(exc).__name__
                if conn is not None:
                    conn.close()
                    conn = None
                now = time.monotonic()
                if now - self._last_log > 60:
                    self._last_log = now
                    sys.stderr.write(f"simcluster: temperature push to {self.netloc} failed ({exc})\n")
            finally:
                self._jobs.task_done()
