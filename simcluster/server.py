"""The HTTP front: Kubernetes API paths, the exporters' pages and the ``/sim/*`` endpoints.

A ``ThreadingHTTPServer`` on 127.0.0.1 speaking HTTP/1.1 with keep-alive (the ``kubernetes``
client pools connections); watches stream with chunked encoding, so the client's
``Watch().stream`` sees each event as it happens rather than when the watch ends.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from . import stats
from .cluster import ApiError
from .objects import list_doc
from .selectors import SelectorError, node_name_of, parse_fields, parse_labels
from .timeutil import fmt_time, parse_time_us
from .truth import truth

JSON = "application/json"
PROM = "text/plain; version=0.0.4; charset=utf-8"
GIT = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.4",
    "gitCommit": "a78aa47129b8539636eb86a9d00e31b2720fe06b",
    "gitTreeState": "clean",
    "buildDate": "2024-12-10T11:37:26Z",
    "goVersion": "go1.22.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}
MAX_WATCH_SECONDS = 3600


def status_body(
    code: int, reason: str, message: str, details: dict | None = None, extra: dict | None = None
) -> bytes:
    doc = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        doc["details"] = details
    if extra:
        doc.update(extra)
    return orjson.dumps(doc)


# resource as a 404 names it -> (the details' kind, the API group): metrics-server names its
# resources "nodemetrics.metrics.k8s.io" in messages and "nodes" in details
_GROUPS = {"nodemetrics": ("nodes", "metrics.k8s.io"), "podmetrics": ("pods", "metrics.k8s.io")}


def not_found(resource: str, name: str) -> ApiError:
    """The API server's 404 for a named object: ``pods "x" not found``."""
    if resource not in _GROUPS:
        return ApiError(404, "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource})
    kind, group = _GROUPS[resource]
    details = {"name": name, "group": group, "kind": kind}
    return ApiError(404, "NotFound", f'{resource}.{group} "{name}" not found', details)


def lookup(table: dict, key, resource: str, name: str, usable=None):
    """``table[key]``, or the API server's 404 Status for ``name`` when it is absent or, given
    ``usable``, not usable (a node that is not Ready has no metrics)."""
    obj = table.get(key)
    if obj is None or (usable is not None and not usable(obj)):
        raise not_found(resource, name)
    return obj


def _resource_list(group_version: str, resources: list[tuple[str, str, bool, list[str]]]) -> bytes:
    return orjson.dumps(
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": [
                {
                    "name": name,
                    "singularName": "" if "/" in name else name.rstrip("s"),
                    "namespaced": nsd,
                    "kind": kind,
                    "verbs": verbs,
                }
                for name, kind, nsd, verbs in resources
            ],
        }
    )


API_V1 = _resource_list(
    "v1",
    [
        ("namespaces", "Namespace", False, ["get", "list", "watch"]),
        ("nodes", "Node", False, ["get", "list", "watch"]),
        ("nodes/proxy", "NodeProxyOptions", False, ["get"]),
        ("pods", "Pod", True, ["delete", "get", "list", "watch"]),
    ],
)
METRICS_V1B1 = _resource_list(
    "metrics.k8s.io/v1beta1",
    [
        ("nodes", "NodeMetrics", False, ["get", "list"]),
        ("pods", "PodMetrics", True, ["get", "list"]),
    ],
)
METRICS_GROUP = {
    "name": "metrics.k8s.io",
    "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
    "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"},
}

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


class Handler(BaseHTTPRequestHandler):
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
                raise _forbidden("list", path.rstrip("/").rsplit("/", 1)[-1], "")
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

    # -- discovery --------------------------------------------------------------------------------
    def _r_version(self, method, q):
        self._send(200, orjson.dumps(GIT))

    def _r_api(self, method, q):
        self._send(
            200,
            orjson.dumps(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.server.port}"}
                    ],
                }
            ),
        )

    def _r_api_v1(self, method, q):
        self._send(200, API_V1)

    def _r_apis(self, method, q):
        self._send(200, orjson.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": [METRICS_GROUP]}))

    def _r_metrics_group(self, method, q):
        self._send(200, orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", **METRICS_GROUP}))

    def _r_metrics_v1beta1(self, method, q):
        if "metrics" in self.server.sim.failed:
            raise _metrics_down("")
        self._send(200, METRICS_V1B1)

    def _r_health(self, method, q):
        self._send(200, b"ok", "text/plain; charset=utf-8")

    # -- core objects ------------------------------------------------------------------------------
    def _selectors(self, q: dict, kind: str):
        try:
            labels = parse_labels(q.get("labelSelector"))
            fields = parse_fields(q.get("fieldSelector"), kind)
        except SelectorError as e:
            raise ApiError(400, "BadRequest", str(e)) from None
        if labels is None and fields is None:
            return None
        if labels is None:
            return lambda v: fields(v.fields)
        if fields is None:
            return lambda v: labels(v.labels)
        return lambda v: labels(v.labels) and fields(v.fields)

    def _list(self, q: dict, kind: str, api_version: str, namespace: str | None = None) -> None:
        match = self._selectors(q, kind)
        if q.get("watch") in ("1", "true", "True"):
            self._watch(q, kind, namespace, match)
            return
        try:
            limit = int(q.get("limit") or 0)
            if limit < 0:
                raise ValueError
        except ValueError:
            raise ApiError(400, "BadRequest", f"invalid limit: {q.get('limit')!r}") from None
        node = node_name_of(q.get("fieldSelector")) if kind == "Pod" else None
        sim = self.server.sim
        with sim.lock:
            sim.sync()
            rv, items, cont, remaining = sim.page(
                kind, namespace, node, limit, q.get("continue") or None, match
            )
            datas = [v.data for v in items]
        self._send(200, list_doc(kind + "List", api_version, rv, datas, cont, remaining))

    def _r_pods(self, method, q, ns=None):
        self._list(q, "Pod", "v1", ns)

    def _r_nodes(self, method, q):
        self._list(q, "Node", "v1")

    def _r_namespaces(self, method, q):
        self._list(q, "Namespace", "v1")

    def _r_pod(self, method, q, ns, name):
        sim = self.server.sim
        with sim.lock:
            sim.sync()
            p = lookup(sim.by_key, (ns, name), "pods", name)
            if method == "DELETE":
                grace = q.get("gracePeriodSeconds")
                body = self._body()
                if body:
                    try:
                        opts = orjson.loads(body)
                    except orjson.JSONDecodeError:
                        raise ApiError(
                            400, "BadRequest", "the body of the request was in an unknown format"
                        ) from None
                    if isinstance(opts, dict) and opts.get("gracePeriodSeconds") is not None:
                        grace = opts["gracePeriodSeconds"]
                try:
                    grace = None if grace is None else int(grace)
                except (TypeError, ValueError):
                    raise ApiError(400, "BadRequest", "gracePeriodSeconds must be an integer") from None
                sim.delete_by_user(p, grace, sim.clock.now())
                sim.cond.notify_all()
            data = p.view.data
        self._send(200, data)

    def _r_node(self, method, q, name):
        sim = self.server.sim
        with sim.lock:
            sim.sync()
            data = lookup(sim.nodes, name, "nodes", name).view.data
        self._send(200, data)

    def _r_namespace(self, method, q, name):
        sim = self.server.sim
        with sim.lock:
            data = lookup(sim.namespaces, name, "namespaces", name).view.data
        self._send(200, data)

    def _r_summary(self, method, q, name):
        sim = self.server.sim
        with sim.lock:
            sim.sync()
            n = lookup(sim.nodes, name, "nodes", name)
            if "proxy" in sim.forbidden:
                raise _forbidden("get", "nodes/proxy", name)
            if not n.ready or "kubelet" in sim.failed:
                raise ApiError(
                    503,
                    "ServiceUnavailable",
                    f"error trying to reach service: dial tcp {n.ip}:10250: connect: connection refused",
                )
            key = (sim.K, sim.rv)
            if n.summary is None or n.summary[0] != key:
                n.summary = (key, stats.summary(sim, n))
            data = n.summary[1]
        self._send(200, data)

    # -- metrics.k8s.io ------------------------------------------------------------------------------
    def _r_m_nodes(self, method, q):
        sim = self.server.sim
        if "metrics" in sim.failed:
            raise _metrics_down("nodes")
        try:
            labels = parse_labels(q.get("labelSelector"))
        except SelectorError as e:
            raise ApiError(400, "BadRequest", str(e)) from None
        with sim.lock:
            sim.sync()
            now = fmt_time(sim.clock.now())
            items = [
                stats.node_metrics(sim, n, now)
                for n in sorted(sim.node_list, key=lambda n: n.name)
                if n.ready and (labels is None or labels(n.labels))
            ]
        self._send(
            200,
            orjson.dumps(
                {
                    "kind": "NodeMetricsList",
                    "apiVersion": "metrics.k8s.io/v1beta1",
                    "metadata": {},
                    "items": items,
                }
            ),
        )

    def _r_m_node(self, method, q, name):
        sim = self.server.sim
        if "metrics" in sim.failed:
            raise _metrics_down("nodes")
        with sim.lock:
            sim.sync()
            n = lookup(sim.nodes, name, "nodemetrics", name, lambda n: n.ready)
            doc = stats.node_metrics(sim, n, fmt_time(sim.clock.now()))
        self._send(200, orjson.dumps({"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1", **doc}))

    def _r_m_pods(self, method, q, ns=None):
        sim = self.server.sim
        if "metrics" in sim.failed:
            raise _metrics_down("pods")
        try:
            labels = parse_labels(q.get("labelSelector"))
        except SelectorError as e:
            raise ApiError(400, "BadRequest", str(e)) from None
        with sim.lock:
            sim.sync()
            now = fmt_time(sim.clock.now())
            if sim.sorted_pods is None:
                sim.views("Pod")
            items = [
                stats.pod_metrics(sim, p, now)
                for p in sim.sorted_pods
                if stats.has_metrics(p)
                and (ns is None or p.namespace == ns)
                and (labels is None or labels(p.labels))
            ]
        self._send(
            200,
            orjson.dumps(
                {
                    "kind": "PodMetricsList",
                    "apiVersion": "metrics.k8s.io/v1beta1",
                    "metadata": {},
                    "items": items,
                }
            ),
        )

    def _r_m_pod(self, method, q, ns, name):
        sim = self.server.sim
        if "metrics" in sim.failed:
            raise _metrics_down("pods")
        with sim.lock:
            sim.sync()
            p = lookup(sim.by_key, (ns, name), "podmetrics", f"{ns}/{name}", stats.has_metrics)
            doc = stats.pod_metrics(sim, p, fmt_time(sim.clock.now()))
        self._send(200, orjson.dumps({"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1", **doc}))

    # -- watch -----------------------------------------------------------------------------------------
    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, q: dict, kind: str, namespace: str | None, match) -> None:
        sim = self.server.sim
        try:
            timeout = min(int(q.get("timeoutSeconds") or 1800), MAX_WATCH_SECONDS)
            raw_rv = q.get("resourceVersion") or ""
            since = int(raw_rv) if raw_rv not in ("", "0") else None
        except ValueError:
            raise ApiError(400, "BadRequest", "resourceVersion and timeoutSeconds must be integers") from None
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        deadline = time.monotonic() + timeout

        def wanted(v) -> bool:
            return (namespace is None or v.namespace == namespace) and (match is None or match(v))

        self.send_response(200)
        self.send_header("Content-Type", JSON)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        with sim.lock:
            sim.sync()
            if since is not None and since < sim.events_floor:
                lines = [
                    _event(
                        "ERROR",
                        status_body(
                            410, "Expired", f"too old resource version: {since} ({sim.events_floor})"
                        ),
                    )
                ]
                cursor = None
            elif since is None:
                lines = [_event("ADDED", v.data) for v in sim.views(kind, namespace) if wanted(v)]
                cursor = sim.rv
            else:
                lines, cursor = [], since
        try:
            if lines:
                self._chunk(b"".join(lines))
            last_sent = time.monotonic()
            while cursor is not None and not sim.stopped:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with sim.cond:
                    sim.sync()
                    if cursor < sim.events_floor:
                        out = [
                            _event(
                                "ERROR",
                                status_body(
                                    410, "Expired", f"too old resource version: {cursor} ({sim.events_floor})"
                                ),
                            )
                        ]
                        evs, cursor = [], None
                    else:
                        evs = sim.events_after(kind, cursor)
                        out = []
                    if not evs and cursor is not None:
                        sim.cond.wait(min(remaining, 0.25))
                        evs = sim.events_after(kind, cursor)
                    rv_now = sim.rv
                for rv, etype, old, new in evs:
                    cursor = rv
                    # like the API server, a change that moves an object into or out of the
                    # selection is an ADDED or a DELETED for this watcher
                    was = old is not None and wanted(old)
                    if wanted(new):
                        out.append(_event("ADDED" if etype == "MODIFIED" and not was else etype, new.data))
                    elif was and etype != "DELETED":
                        out.append(_event("DELETED", new.data))
                if bookmarks and not out and time.monotonic() - last_sent > 10 and cursor is not None:
                    cursor = max(cursor, rv_now)
                    out.append(
                        _event(
                            "BOOKMARK",
                            orjson.dumps(
                                {
                                    "kind": kind,
                                    "apiVersion": "v1",
                                    "metadata": {"resourceVersion": str(cursor)},
                                }
                            ),
                        )
                    )
                if out:
                    self._chunk(b"".join(out))
                    last_sent = time.monotonic()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    # -- exporters ---------------------------------------------------------------------------------------
    def _exporter(self, what: str, name: str) -> None:
        sim = self.server.sim
        with sim.lock:
            sim.sync()
            n = sim.nodes.get(name)
            if n is None or (what == "gpu" and not n.gpu_kind):
                self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
                return
            if not n.ready or what in sim.failed:
                self._send(
                    503,
                    b"exporter unreachable: node is down or the exporter failed\n",
                    "text/plain; charset=utf-8",
                )
                return
            if what == "node-exporter":
                body = stats.node_exporter_page(n)
            elif n.gpu_kind == "jetson":
                body = stats.jetson_page(sim, n)
            else:
                body = stats.dcgm_page(n)
        self._send(200, body, PROM)

    # -- /sim ------------------------------------------------------------------------------------------
    def _sim(self, method: str, path: str, q: dict) -> None:
        sim = self.server.sim

        def err(code: int, msg: str) -> None:
            self._send(code, orjson.dumps({"error": msg}))

        if path == "/sim/state" and method == "GET":
            with sim.lock:
                sim.sync()
                body = orjson.dumps(sim.state())
            self._send(200, body)
        elif path == "/sim/truth" and method == "GET":
            try:
                start = parse_time_us(q["start"]) if q.get("start") else None
                end = parse_time_us(q["end"]) if q.get("end") else None
            except ValueError as e:
                err(400, f"start/end must be RFC 3339 times: {e}")
                return
            with sim.lock:
                sim.sync()
                try:
                    doc = truth(sim, start, end)
                except ValueError as e:
                    err(400, str(e))
                    return
            self._send(200, orjson.dumps(doc))
        elif path == "/sim/control" and method == "POST":
            try:
                body = orjson.loads(self._body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
            except (orjson.JSONDecodeError, ValueError) as e:
                err(400, f"invalid JSON body: {e}")
                return
            if body.get("action") == "advance" and sim.fan is not None:
                sim.fan.refresh()  # time jumps: read the fan now, outside the lock
            with sim.lock:
                try:
                    state = sim.control(body)
                except LookupError as e:
                    err(404, str(e.args[0]))
                    return
                except ValueError as e:
                    err(409 if "manual-clock" in str(e) else 400, str(e))
                    return
            if sim.on_advance is not None:
                sim.on_advance()
            self._send(200, orjson.dumps(state))
        elif path in ("/sim/state", "/sim/truth", "/sim/control"):
            err(405, f"{method} is not allowed on {path}")
        else:
            err(404, f"no such simulator endpoint: {path}")


def _route(path: str) -> tuple[str, re.Match]:
    for rx, name in _ROUTES:
        m = rx.match(path)
        if m:
            return name, m
    raise ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _event(etype: str, data: bytes) -> bytes:
    return b'{"type":"' + etype.encode() + b'","object":' + data + b"}\n"


def _forbidden(verb: str, resource: str, name: str) -> ApiError:
    """The apiserver's RBAC refusal, worded as a real one is."""
    subject = f'{resource} "{name}"' if name else resource
    return ApiError(
        403,
        "Forbidden",
        f'{subject} is forbidden: User "system:serviceaccount:kubemon:kubemon" cannot {verb} resource '
        f'"{resource}" in API group "" at the cluster scope',
    )


def _metrics_down(resource: str) -> ApiError:
    what = f" (get {resource}.metrics.k8s.io)" if resource else ""
    return ApiError(503, "ServiceUnavailable", f"the server is currently unable to handle the request{what}")


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
