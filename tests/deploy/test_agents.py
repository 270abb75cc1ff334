"""deploy/agents/temperature_agent.py, the agent of the DaemonSet and of the systemd unit, against
a stand-in for kubemon's push endpoint: each value goes where it belongs (the legacy agent.sh
swapped the node and the token)."""

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "deploy" / "agents" / "temperature_agent.py"


@pytest.fixture
def kubemon():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((self.path, self.headers.get("X-Kubemon-Token"), parse_qs(body)))
            status = 200 if self.headers.get("X-Kubemon-Token") == "t0ken" else 403
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.received = received
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def _agent(tmp_path, url, token="t0ken", *extra):  # noqa: S107 (a test token)
    (tmp_path / "token").write_text(token + "\n")
    (tmp_path / "temp").write_text("48312\n")
    return subprocess.run([sys.executable, str(AGENT), "--url", url, "--node", "pi-3", "--token-file",
                           str(tmp_path / "token"), "--sensor", str(tmp_path / "temp"), "--once", *extra],
                          capture_output=True, text=True, timeout=30, check=False)


def test_it_posts_the_node_and_millidegrees_with_the_token_in_a_header(tmp_path, kubemon):
    done = _agent(tmp_path, kubemon.url)
    assert done.returncode == 0, done.stderr
    path, token, form = kubemon.received[0]
    assert path == "/k8s/collect/temperature"  # no token in the URL
    assert token == "t0ken"
    assert form == {"node": ["pi-3"], "value": ["48312"]}


def test_a_refused_token_is_reported_and_fails_the_single_push(tmp_path, kubemon):
    done = _agent(tmp_path, kubemon.url, "wrong")
    assert done.returncode == 1
    assert "kubemon answered 403 for node pi-3" in done.stderr


def test_an_unreachable_kubemon_is_reported_without_a_traceback(tmp_path):
    done = _agent(tmp_path, "http://127.0.0.1:9")
    assert done.returncode == 1
    assert "temperature agent:" in done.stderr and "Traceback" not in done.stderr
