"""metrics.k8s.io/v1beta1 as metrics-server serves it: NodeMetrics and PodMetrics."""

from __future__ import annotations

import orjson

from . import stats
from .cluster import ApiError
from .responses import lookup, metrics_down
from .selectors import SelectorError, parse_labels
from .timeutil import fmt_time

API_VERSION = "metrics.k8s.io/v1beta1"


def _doc(kind: str, body: dict) -> bytes:
    return orjson.dumps({"kind": kind, "apiVersion": API_VERSION, **body})


def _label_selector(q: dict):
    try:
        return parse_labels(q.get("labelSelector"))
    except SelectorError as e:
        raise ApiError(400, "BadRequest", str(e)) from None


class MetricsApi:
    """Handler methods for ``/apis/metrics.k8s.io/v1beta1`` (a mixin of server.Handler)."""

    def _metrics_sim(self, resource: str):
        """The cluster, unless the metrics API is failed (a ``fail`` control): then a 503."""
        sim = self.server.sim
        if "metrics" in sim.failed:
            raise metrics_down(resource)
        return sim

    def _r_m_nodes(self, method, q):
        sim = self._metrics_sim("nodes")
        labels = _label_selector(q)
        with sim.lock:
            sim.sync()
            now = fmt_time(sim.clock.now())
            items = [
                stats.node_metrics(sim, n, now)
                for n in sorted(sim.node_list, key=lambda n: n.name)
                if n.ready and (labels is None or labels(n.labels))
            ]
        self._send(200, _doc("NodeMetricsList", {"metadata": {}, "items": items}))

    def _r_m_node(self, method, q, name):
        sim = self._metrics_sim("nodes")
        with sim.lock:
            sim.sync()
            n = lookup(sim.nodes, name, "nodemetrics", name, lambda n: n.ready)
            doc = stats.node_metrics(sim, n, fmt_time(sim.clock.now()))
        self._send(200, _doc("NodeMetrics", doc))

    def _r_m_pods(self, method, q, ns=None):
        sim = self._metrics_sim("pods")
        labels = _label_selector(q)
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
        self._send(200, _doc("PodMetricsList", {"metadata": {}, "items": items}))

    def _r_m_pod(self, method, q, ns, name):
        sim = self._metrics_sim("pods")
        with sim.lock:
            sim.sync()
            p = lookup(sim.by_key, (ns, name), "podmetrics", f"{ns}/{name}", stats.has_metrics)
            doc = stats.pod_metrics(sim, p, fmt_time(sim.clock.now()))
        self._send(200, _doc("PodMetrics", doc))
