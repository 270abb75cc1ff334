"""The real stack for browser tests and bench/bench_browser.py: the simulated cluster, the
collectors run in this process, and kubemon's ASGI application served by uvicorn in a subprocess.

Why a uvicorn subprocess rather than ``channels.testing.ChannelsLiveServerTestCase``: that class
needs daphne (not a dependency), and it is a TestCase that flushes the database per test, where
the browser tests share one stack per module. uvicorn is what kubemon runs in production
(``deploy/local/demo.py``), it serves HTTP and websockets from ``kubemon.asgi.application``, and
as a separate process it has its own GIL: the page's server does not compete with the collectors
and Playwright in the test process. It is pointed at the same PostgreSQL database (pytest-django's
test database), Redis database, InfluxDB and channel-layer prefix as the test process, so users
and tenants the fixture commits are what the server sees, and the snapshots the collectors publish
from here reach its consumers.

Nothing here starts ``playwright install``: Playwright drives Debian's chromium
(``executable_path``), which ``make test`` installs with apt (deploy/local/ensure-services.sh).
"""

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import requests

from tests.support import simulator as support

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TEMPERATURE_TOKEN = "browser-test-temperature-token"


def chromium_path():
    path = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    if not os.path.exists(path):
        raise RuntimeError(f"{path} is missing: `make services` installs Debian's chromium")
    return path


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(settings_dict):
    """A ``DATABASE_URL`` for the database Django is connected to (the test database in tests)."""
    engine = settings_dict["ENGINE"]
    if "postgresql" in engine:
        user = settings_dict.get("USER") or "postgres"
        password = settings_dict.get("PASSWORD") or ""
        auth = f"{user}:{password}@" if password else f"{user}@"
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"
    if "sqlite" in engine:
        name = str(settings_dict["NAME"])
        if "memory" in name or name == "":
            raise RuntimeError("an in-memory SQLite test database cannot be shared with the ASGI server")
        return f"sqlite:///{name}"
    raise RuntimeError(f"no DATABASE_URL form for {engine}")


class AsgiServer:
    """``uvicorn kubemon.asgi:application`` on a loopback port, logging to ``log_path``."""

    def __init__(self, env, log_path, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.env = env
        self.process = None

    def start(self, timeout=60.0):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "kubemon.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--ws", "websockets", "--lifespan", "off", "--no-access-log",
             "--ws-per-message-deflate", "false"],  # as deploy/entrypoint.py serves it
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the ASGI server exited: {self.log_tail()}")
            try:
                requests.get(self.url + "/healthz", timeout=2)
                return self
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"the ASGI server did not answer within {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def server_env(*, settings_module, database, redis_url, influxdb_url, influxdb_database, channels_prefix,
               kubeconfig, secret_key, debug=False, extra=None):
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        # tests/settings.py takes InfluxDB's URL from this variable (the test process points it
        # at the suite's throw-away influxd); kubemon.settings from INFLUXDB_URL.
        "KUBEMON_TEST_INFLUXDB_URL": influxdb_url,
        "INFLUXDB_URL": influxdb_url,
        "INFLUXDB_DATABASE": influxdb_database,
        "CHANNELS_PREFIX": channels_prefix,
        "KUBECONFIG": kubeconfig,
        "SECRET_KEY": secret_key,
        "TEMPERATURE_PUSH_TOKEN": TEMPERATURE_TOKEN,
        "DEBUG": "true" if debug else "false",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


class Simulator(support.Simulator):
    """The simulated cluster on a manual clock (tests/support/simulator.py), pushing node
    temperatures to the portal like the DaemonSet does."""

    request_timeout = 60
    kube_timeout = 30

    def __init__(self, workdir, start, push_to=None, **options):
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        extra = ["--push-temperatures-to", push_to, "--token", TEMPERATURE_TOKEN] if push_to else []
        super().__init__(workdir, start=start, extra_args=extra, **options)

    def now(self):
        """The simulated clock, epoch seconds."""
        return datetime.fromisoformat(self.get("/sim/state")["now"].replace("Z", "+00:00")).timestamp()

    def pods(self):
        """The API's pod objects (``GET /api/v1/pods``), as kubectl would see them."""
        return self.get("/api/v1/pods")["items"]


@dataclass
class Collector:
    """Runs the collection cycles in this process as the beat schedule would, against ``simulator``:
    every call to ``cycle`` advances the simulated clock and runs the usage and GPU cycles, the
    inventory every ``inventory_every`` seconds, and the temperature flush."""

    simulator: Simulator
    store: object
    redis: object
    inventory_every: int = 30
    seconds: dict = field(default_factory=dict)
    _since_inventory: int = 10**9

    def __post_init__(self):
        self.kube = self.simulator.kube()

    def _timed(self, name, function):
        started = time.perf_counter()
        report = function()
        elapsed = time.perf_counter() - started
        self.seconds.setdefault(name, []).append(elapsed)
        if not report.ok:
            raise RuntimeError(f"the {name} cycle failed: {report.error}")
        return report

    def cycle(self, seconds=15):
        """Advance ``seconds`` and collect; returns the wall time (``time.time()``) the usage cycle
        ended at, just after it published its snapshot.

        The cycle runs in a thread of its own, as in a Celery worker: once Playwright's sync API
        has started, the calling thread looks like a running event loop, where the channel
        layer's ``async_to_sync`` publish refuses to run (and Django's ORM too).
        """
        result, error = [], []

        def body():
            try:
                result.append(self._cycle(seconds))
            except BaseException as exc:  # noqa: BLE001  (re-raised in the caller)
                error.append(exc)

        thread = threading.Thread(target=body, name="collector-cycle")
        thread.start()
        thread.join()
        if error:
            raise error[0]
        return result[0]

    def _cycle(self, seconds):
        from collectors import cycles

        self.simulator.advance(seconds)
        self._since_inventory += seconds
        if self._since_inventory >= self.inventory_every:
            self._timed("inventory", lambda: cycles.run_inventory_cycle(kube=self.kube, store=self.store,
                                                                       redis=self.redis))
            self._since_inventory = 0
        # The usage cycle first: its kubelet sample time is the slot the GPU cycle stamps on.
        self._timed("usage", lambda: cycles.run_usage_cycle(kube=self.kube, store=self.store, redis=self.redis))
        published = time.time()
        self._timed("gpu", lambda: cycles.run_gpu_cycle(kube=self.kube, store=self.store, redis=self.redis))
        self._timed("temperature", lambda: cycles.run_temperature_flush(store=self.store, redis=self.redis))
        return published
