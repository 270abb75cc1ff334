"""The HTTP front: Kubernetes API paths, the exporters' pages and the ``/sim/*`` endpoints.

A ``ThreadingHTTPServer`` on 127.0.0.1 speaking HTTP/1.1 with keep-alive (the ``kubernetes``
client pools connections). This module routes requests and sends responses; the handlers are
mixins, one module per part of the surface: discovery, coreapi, watch, metricsapi, exporters
and simapi.
"""

from __future__ import annotations

import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from .cluster import ApiError
from .coreapi import CoreApi
from .discovery import Discovery
from .exporters import Exporters
from .metricsapi import MetricsApi
from .responses import JSON, forbidden, status_body
from .simapi import SimEndpoints
from .watch import Watch

_ROUTES = [
    (re.compile(p), name)
    for p, name in [
        (r"^/api/v1/pods$", "pods"),
        (r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods$", "pods"),
        (r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)$", "pod"),
        (r"^/api/v1/nodes$", "nodes"),
        (r"^/api/v1/nodes/(?P<name>[^/]+)$", "node"),
        (r"^/api/v1/nodes/(?P<name>[^/]+)/proxy/stats/summary$", "summary"),
        (r"^/api/v1/namespaces$", "namespaces"),
        (r"^/api/v1/namespaces/(?P<name>[^/]+)$", "namespace"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/nodes$", "m_nodes"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/nodes/(?P<name>[^/]+)$", "m_node"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/pods$", "m_pods"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/namespaces/(?P<ns>[^/]+)/pods$", "m_pods"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)$", "m_pod"),
        (r"^/version$", "version"),
        (r"^/api$", "api"),
        (r"^/api/v1$", "api_v1"),
        (r"^/apis$", "apis"),
        (r"^/apis/metrics\.k8s\.io$", "metrics_group"),
        (r"^/apis/metrics\.k8s\.io/v1beta1$", "metrics_v1beta1"),
        (r"^/(healthz|livez|readyz)$", "health"),
    ]
]
_EXPORTERS = re.compile(r"^/(?P<what>gpu|node-exporter)/(?P<name>[^/]+)/metrics$")


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, port: int, quiet: bool = True):
        super().__init__(("127.0.0.1", port), Handler)
        self.sim = None
        self.quiet = quiet

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Handler(Discovery, CoreApi, Watch, MetricsApi, Exporters, SimEndpoints, BaseHTTPRequestHandler):
    """A request: ``_dispatch`` routes it to a ``_r_<route>`` method of one of the mixins."""

    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add 40 ms to every keep-alive response
    disable_nagle_algorithm = True
    server_version = "simcluster/1.0"
    sys_version = ""

    # -- plumbing ---------------------------------------------------------------------------------
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        if not self.server.quiet:
            sys.stderr.write(f"simcluster {self.address_string()} {format % args}\n")

    def _send(self, code: int, body: bytes, ctype: str = JSON, headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        sim = self.server.sim
        url = urlsplit(self.path)
        # the kubernetes client percent-encodes the proxy path ("stats%2Fsummary"); the API server
        # routes on the decoded path, so do we
        path = unquote(url.path).rstrip("/") or "/"
        q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            if path.startswith("/sim/"):
                self._sim(method, path, q)
                return
            m = _EXPORTERS.match(path)
            if m:
                self._exporter(m.group("what"), m.group("name"))
                return
            if "api" in sim.failed and path not in ("/healthz", "/livez", "/readyz"):
                raise ApiError(
                    503, "ServiceUnavailable", "the server is currently unable to handle the request"
                )
            if "api" in sim.forbidden and path.startswith(("/api/", "/apis/")):
                raise forbidden("list", path.rstrip("/").rsplit("/", 1)[-1], "")
            name, m = _route(path)
            allowed = {"pod": ("GET", "DELETE")}.get(name, ("GET",))
            if method not in allowed:
                raise ApiError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                    {},
                )
            getattr(self, "_r_" + name)(method, q, **m.groupdict())
        except ApiError as e:
            self._send(e.code, status_body(e.code, e.reason, e.message, e.details, e.extra))
        except (BrokenPipeError, ConnectionResetError):
            pass


def _route(path: str) -> tuple[str, re.Match]:
    for rx, name in _ROUTES:
        m = rx.match(path)
        if m:
            return name, m
    raise ApiError(404, "NotFound", "the server could not find the requested resource", {})


class Ticker(threading.Thread):
    """Runs due steps in real-time mode even when nobody asks, so watchers see events on time."""

    def __init__(self, sim):
        super().__init__(name="simcluster-ticker", daemon=True)
        self.sim = sim
        self.stop = threading.Event()
        # wake about four times per simulated step, at most ten times a second
        self.period = max(0.1, min(1.0, sim.S / sim.opts.speed / 4))

    def run(self) -> None:
        while not self.stop.wait(self.period):
            with self.sim.lock:
                self.sim.sync()
            if self.sim.on_advance is not None:
                self.sim.on_advance()
