"""A real Celery worker killed mid-task, as the worker-kill tests run it: Celery workers started
as the production command starts them (``Workers``), and an HTTP proxy in front of InfluxDB that
holds a write's answer back once InfluxDB has stored its points (``HoldingProxy``, the ``proxy``
fixture), so that a test kills the worker exactly between its points and its sampling state.

Used by tests/collectors/test_worker_kill.py and tests/faults/test_worker_sigkill.py.
"""

import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
FORWARDED_HEADERS = ("content-type", "content-encoding", "authorization")
ANSWER_HEADERS = ("Content-Type", "X-Influxdb-Version", "X-Influxdb-Build", "X-Influxdb-Error", "Request-Id")


class HoldingProxy:
    """An HTTP proxy in front of InfluxDB. ``arm()`` makes it forward the next write and then hold
    its answer back (``held`` is set once InfluxDB has stored the points) until ``release``."""

    def __init__(self, target):
        self.target = target.rstrip("/")
        self.armed = threading.Event()
        self.held = threading.Event()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def arm(self):
        self.held.clear()
        self.release.clear()
        self.armed.set()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED_HEADERS}
                answer = requests.request(self.command, proxy.target + self.path, data=body, headers=headers,
                                          timeout=30)
                if self.command == "POST" and self.path.startswith("/write") and proxy.armed.is_set():
                    proxy.armed.clear()
                    proxy.held.set()  # InfluxDB has answered: the points are stored
                    proxy.release.wait(30)
                    self.close_connection = True
                    return  # the writer never hears back (it is dead by now)
                self.send_response(answer.status_code)
                for name in ANSWER_HEADERS:
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = _forward

        return Handler


def wait_for(predicate, timeout=30, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")


class Workers:
    """Starts Celery workers as the production command does (solo pool, acks late from settings)."""

    def __init__(self, env, log_path):
        self.env = env
        self.log_path = log_path
        self.processes = []

    def start(self):
        with open(self.log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "kubemon", "worker", "--pool", "solo", "--loglevel",
                 "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
                cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=log,
            )
        self.processes.append(process)
        return process

    def log(self):
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop_all(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)


@pytest.fixture
def proxy(influxdb_server):
    proxy = HoldingProxy(influxdb_server.url)
    yield proxy
    proxy.close()
