"""The exporters' pages on the nodes: node-exporter, and DCGM or Jetson for the GPUs."""

from __future__ import annotations

from . import stats
from .responses import PROM, TEXT


class Exporters:
    """Handler methods for ``/node-exporter/{node}/metrics`` and ``/gpu/{node}/metrics`` (a mixin
    of server.Handler). Their errors are plain text, as an exporter's are."""

    def _exporter(self, what: str, name: str) -> None:
        sim = self.server.sim
        with sim.lock:
            sim.sync()
            n = sim.nodes.get(name)
            if n is None or (what == "gpu" and not n.gpu_kind):
                self._send(404, b"404 page not found\n", TEXT)
                return
            if not n.ready or what in sim.failed:
                self._send(503, b"exporter unreachable: node is down or the exporter failed\n", TEXT)
                return
            if what == "node-exporter":
                body = stats.node_exporter_page(n)
            elif n.gpu_kind == "jetson":
                body = stats.jetson_page(sim, n)
            else:
                body = stats.dcgm_page(n)
        self._send(200, body, PROM)
