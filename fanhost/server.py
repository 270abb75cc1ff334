"""The fan host's HTTP server (the standard library's; nothing to install).

Legacy, unauthenticated: ``GET /fan/status`` → ``{"message":"FAN ON"|"FAN OFF","status":bool}``
byte for byte as the Flask server sent it (jsonify: sorted keys, compact, a newline);
``GET /fan/start`` and ``/fan/stop`` switch the fan only with ``--legacy-control`` (403 otherwise).
``GET /fan/state`` is the full state, read-only.

Authenticated (``Authorization: Bearer <token>``; 401 and the fan unchanged otherwise):
``POST /fan/start`` (optional ``{"speed": 0..1, "reason": "..."}``), ``POST /fan/stop``,
``POST /fan/speed {"speed": 0..1}``, ``POST /heartbeat`` (optional ``{"panel": {...}}``) and the
legacy panel's ``POST /fan/status {"temperatures", "autoMode", "minTemperature", "maxTemperature"}``.
"""

from __future__ import annotations

import hmac
import json
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .controller import LEGACY

log = logging.getLogger("fanhost")
MAX_BODY = 16 * 1024


def legacy_json(doc) -> bytes:
    """What Flask's ``jsonify`` sent: keys sorted, no spaces, a trailing newline."""
    return (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode()


class HostState:
    """What the handler threads share: the controller, the token and the panel's last data."""

    def __init__(self, controller, token, legacy_control=False, quiet=False, panel=None):
        self.controller = controller
        self.token = token.encode()
        self.legacy_control = legacy_control
        self.quiet = quiet
        self.panel = panel  # fanhost.panel.Panel or None
        self.panel_data = {}
        self.lock = threading.Lock()

    def authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), self.token)

    def set_panel(self, data):
        with self.lock:
            self.panel_data = data
        if self.panel is not None:
            self.panel.show(self.controller.state(), data)


def _panel_data(doc):
    """The legacy panel's fields, checked; ``ValueError`` names the bad one."""
    if not isinstance(doc, dict):
        raise ValueError("the panel data must be a JSON object")
    temps = doc.get("temperatures", {})
    if not isinstance(temps, dict) or len(temps) > 64:
        raise ValueError("temperatures must be an object of at most 64 nodes")
    clean = {}
    for node, value in temps.items():
        if not isinstance(node, str) or not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError("temperatures must map node names to numbers (°C)")
        clean[node[:32]] = float(value)
    out = {"temperatures": clean, "autoMode": bool(doc.get("autoMode", False))}
    for key in ("minTemperature", "maxTemperature"):
        value = doc.get(key)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise ValueError(f"{key} must be a number or null")
        out[key] = value
    return out


class Handler(BaseHTTPRequestHandler):
    server_version = "kubemon-fanhost/0.1"
    protocol_version = "HTTP/1.1"
    host: HostState  # set on the subclass by make_server

    # --- plumbing -------------------------------------------------------------------------
    def log_message(self, fmt, *args):
        if not self.host.quiet:
            sys.stderr.write(f"fanhost: {self.address_string()} {fmt % args}\n")

    def _send(self, status, body: bytes, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, doc, extra=None):
        self._send(status, json.dumps(doc).encode(), extra)

    def _error(self, status, message, extra=None):
        self._json(status, {"error": message}, extra)

    def _body(self):
        length = self.headers.get("Content-Length")
        if not length:
            return {}
        try:
            size = int(length)
        except ValueError:
            raise ValueError("bad Content-Length")
        if size > MAX_BODY:
            raise ValueError(f"the body is larger than {MAX_BODY} bytes")
        raw = self.rfile.read(size)
        if not raw.strip():
            return {}
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError("the body is not JSON")
        if not isinstance(doc, dict):
            raise ValueError("the body must be a JSON object")
        return doc

    # --- routes ---------------------------------------------------------------------------
    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        c = self.host.controller
        if path == "/fan/status":
            return self._send(200, legacy_json(c.legacy_status()))
        if path == "/fan/state":
            return self._json(200, {**c.state(), "panel": self.host.panel_data})
        if path in ("/fan/start", "/fan/stop"):
            if not self.host.legacy_control:
                return self._error(403, f"GET {path} is off on this host: use POST {path} with the bearer token "
                                        "(or start the host with --legacy-control)")
            c.heartbeat()
            if path == "/fan/start":
                c.start(1.0, "legacy GET /fan/start", mode=LEGACY)
                return self._send(200, legacy_json({"status": True, "message": "FAN started"}))
            c.stop("legacy GET /fan/stop", mode=LEGACY)
            return self._send(200, legacy_json({"status": True, "message": "FAN stopped"}))
        if path == "/healthz":
            return self._send(200, b"ok\n")
        return self._error(404, f"no route GET {path}")

    do_HEAD = do_GET  # noqa: N815

    def do_POST(self):  # noqa: N802
        path = self.path.split("?", 1)[0]
        routes = ("/fan/start", "/fan/stop", "/fan/speed", "/heartbeat", "/fan/status")
        if path not in routes:
            return self._error(404, f"no route POST {path}")
        if not self.host.authorised(self.headers.get("Authorization")):
            log.warning("refused POST %s from %s: missing or wrong bearer token", path, self.address_string())
            # Read and drop the body so that the connection stays usable.
            try:
                self._body()
            except ValueError:
                pass
            return self._error(401, "a valid 'Authorization: Bearer <token>' header is required",
                               {"WWW-Authenticate": 'Bearer realm="fanhost"'})
        try:
            body = self._body()
            state = self._act(path, body)
        except ValueError as exc:
            return self._error(400, str(exc))
        return self._json(200, state)

    def _act(self, path, body):
        c = self.host.controller
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ValueError("reason must be a string")
        reason = (reason or "")[:200] or None
        if path == "/heartbeat":
            state = c.heartbeat()
            if "panel" in body:
                self.host.set_panel(_panel_data(body["panel"]))
            return state
        if path == "/fan/status":  # the legacy panel's POST
            c.heartbeat()
            self.host.set_panel(_panel_data(body))
            return c.state()
        if path == "/fan/stop":
            return c.stop(reason or "stopped by the portal")
        speed = body.get("speed", 1.0 if path == "/fan/start" else None)
        if isinstance(speed, bool) or not isinstance(speed, int | float):
            raise ValueError('speed must be a number from 0 to 1, as in {"speed": 0.6}')
        if not 0 <= speed <= 1:
            raise ValueError("speed must be between 0 and 1")
        if path == "/fan/start":
            return c.start(float(speed), reason or "started by the portal")
        return c.set_speed(float(speed), reason)


def make_server(host_state: HostState, address="127.0.0.1", port=5000) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"host": host_state})
    server = ThreadingHTTPServer((address, port), handler)
    server.daemon_threads = True
    return server
