"""Each node's kubelet on its own loopback port, over TLS, with a real kubelet's token checks.

A real kubelet serves ``https://<node address>:<kubeletEndpoint port>/stats/summary``; it
authenticates the bearer token (401 without a valid one) and asks the API server whether the
token's subject may ``get`` the ``nodes/stats`` subresource (403 otherwise). kubemon reads the
kubelets this way (``KUBELET_ACCESS=direct``), so the simulator does the same: every node gets a
listening socket on 127.0.0.1, advertised in its Node object (``status.addresses`` and
``status.daemonEndpoints.kubeletEndpoint.Port``), and its certificate is signed by the
simulator's CA (``tls.shared``), which the kubeconfig carries as the cluster's CA.

Five hundred nodes would be five hundred listening sockets: one selector thread accepts on all of
them and hands each connection to a thread of its own (keep-alive, as the API server's front).
"""

from __future__ import annotations

import selectors
import socketserver
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from . import kubeconfig, stats, tls

TEXT = "text/plain; charset=utf-8"
SERVICE_ACCOUNT = "system:serviceaccount:kubemon:kubemon"


class KubeletServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """One node's kubelet: a bound, listening socket; the fleet's thread accepts on it."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, fleet: KubeletFleet, node_name: str):
        super().__init__(("127.0.0.1", 0), KubeletHandler)
        self.fleet = fleet
        self.node_name = node_name

    @property
    def port(self) -> int:
        return self.server_address[1]

    def get_request(self):
        sock, address = self.socket.accept()
        # the handshake happens in the connection's own thread (finish_request), never here
        return self.fleet.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request, client_address) -> None:
        try:
            request.settimeout(30)
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return  # a client that does not trust our certificate hangs up during the handshake
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        if not self.fleet.quiet:
            super().handle_error(request, client_address)


class KubeletFleet:
    """Every node's kubelet. ``bind(node)`` gives a node its port; ``start()`` serves them all."""

    def __init__(self, quiet: bool = True):
        self.quiet = quiet
        self.tls = tls.shared()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.tls.cert, self.tls.key)
        self.tokens = {kubeconfig.TOKEN}
        self.servers: dict[str, KubeletServer] = {}
        self.sim = None
        self._selector = selectors.DefaultSelector()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ca_cert(self) -> str:
        return self.tls.ca.ca_cert

    def bind(self, node_name: str) -> int:
        server = KubeletServer(self, node_name)
        self.servers[node_name] = server
        self._selector.register(server.socket, selectors.EVENT_READ, server)
        return server.port

    def start(self, sim) -> KubeletFleet:
        self.sim = sim
        self._thread = threading.Thread(target=self._accept, name="simcluster-kubelets", daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stopped.is_set():
            for key, _ in self._selector.select(0.2):
                server = key.data
                try:
                    request, address = server.get_request()
                except OSError:
                    continue
                server.process_request(request, address)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for server in self.servers.values():
            server.server_close()
        self._selector.close()


class KubeletHandler(BaseHTTPRequestHandler):
    """``GET /stats/summary`` (and ``/healthz``) as a kubelet answers them."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections end, as a kubelet's do
    server_version = "kubelet"
    sys_version = ""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        if not self.server.fleet.quiet:
            sys.stderr.write(f"simcluster kubelet {self.server.node_name} {format % args}\n")

    def _send(self, code: int, body: bytes, ctype: str = TEXT) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        fleet, node_name = self.server.fleet, self.server.node_name
        path = urlsplit(self.path).path.rstrip("/") or "/"
        if path == "/healthz":  # the kubelet's health check needs no authentication
            self._send(200, b"ok")
            return
        header = self.headers.get("Authorization") or ""
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if token not in fleet.tokens:
            self._send(401, b"Unauthorized")
            return
        sim = fleet.sim
        resource = "stats" if path.startswith("/stats") else "proxy"
        if resource == "stats" and "stats" in sim.forbidden:
            self._send(403, (
                f"Forbidden (user={SERVICE_ACCOUNT}, verb=get, resource=nodes, subresource(s)=[{resource}])"
            ).encode())
            return
        if path != "/stats/summary":
            self._send(404, b"404 page not found")
            return
        with sim.lock:
            sim.sync()
            node = sim.nodes.get(node_name)
            down = node is None or not node.ready or "kubelet" in sim.failed
            data = None if down else stats.cached_summary(sim, node)
        if data is None:
            # a stopped kubelet accepts nothing: hang up, as a refused connection does for a client
            self.close_connection = True
            return
        self._send(200, data, "application/json")
