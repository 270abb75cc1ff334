"""The core v1 API: pod, node and namespace lists and objects, pod deletion, and the kubelet
summary through the node proxy."""

from __future__ import annotations

import orjson

from . import stats
from .cluster import ApiError
from .objects import list_doc
from .responses import forbidden, lookup
from .selectors import SelectorError, node_name_of, parse_fields, parse_labels


class CoreApi:
    """Handler methods for ``/api/v1`` (a mixin of server.Handler; lists with ``watch`` go to
    watch.Watch)."""

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
                raise forbidden("get", "nodes/proxy", name)
            if not n.ready or "kubelet" in sim.failed:
                raise ApiError(
                    503,
                    "ServiceUnavailable",
                    f"error trying to reach service: dial tcp 127.0.0.1:{n.kubelet_port}: connect: connection refused",
                )
            data = stats.cached_summary(sim, n)
        self._send(200, data)
