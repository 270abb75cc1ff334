"""Start a throw-away InfluxDB 1.x (Debian's ``influxd``) on a free loopback port.

Used by ``make demo``/``make test`` and by the test suite. It never touches a system-wide
InfluxDB: the data directory is a temporary folder and the ports are picked free.

    python deploy/local/influxdb_server.py start --state .run/influxdb   # prints INFLUXDB_URL=...
    python deploy/local/influxdb_server.py stop --state .run/influxdb
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CONFIG_TEMPLATE = Path(__file__).resolve().parent.parent / "influxdb" / "influxdb.conf"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def influxd_binary():
    found = shutil.which("influxd") or ("/usr/bin/influxd" if os.path.exists("/usr/bin/influxd") else None)
    if not found:
        raise SystemExit("influxd is not installed: run `make services` (apt-get install influxdb)")
    return found


class InfluxServer:
    """One influxd process with its own data directory and ports."""

    def __init__(self, data_dir=None, http_port=None, auth=False):
        self.auth = auth
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="kubemon-influx-"))
        self.http_port = http_port or free_port()
        self.rpc_port = free_port()
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    def write_config(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = CONFIG_TEMPLATE.read_text().format(
            rpc_port=self.rpc_port,
            data_dir=self.data_dir,
            http_host="127.0.0.1",
            http_port=self.http_port,
            auth_enabled="true" if self.auth else "false",
        )
        path = self.data_dir / "influxdb.conf"
        path.write_text(config)
        return path

    def start(self, timeout=30.0):
        config = self.write_config()
        log = open(self.data_dir / "influxd.log", "ab")
        self.process = subprocess.Popen(
            [influxd_binary(), "-config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"influxd exited early; see {self.data_dir / 'influxd.log'}")
            try:
                # /ping answers without credentials even when auth is on.
                with urllib.request.urlopen(self.url + "/ping", timeout=1) as resp:
                    if resp.status == 204:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"influxd did not answer on {self.url} within {timeout} s")

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--state", default=".run/influxdb", help="folder for the data, pid and url")
    parser.add_argument("--port", type=int, default=0, help="HTTP port (0 = a free one)")
    args = parser.parse_args(argv)
    state = Path(args.state)
    pid_file, url_file = state / "influxd.pid", state / "url"
    if args.action == "start":
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), 0)
                print(f"INFLUXDB_URL={url_file.read_text().strip()}")
                return 0
            except (OSError, ValueError):
                pass
        shutil.rmtree(state, ignore_errors=True)
        server = InfluxServer(data_dir=state, http_port=args.port or None).start()
        pid_file.write_text(str(server.process.pid))
        url_file.write_text(server.url)
        print(f"INFLUXDB_URL={server.url}")
        return 0
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text())
            os.killpg(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
        except (OSError, ValueError):
            pass
    shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
