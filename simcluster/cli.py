"""Entry points: ``python -m simcluster`` (``main``) and in-process use (``start``).

``manage.py simcluster`` parses the same options (``config.add_arguments``) and calls ``run``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from . import kubeconfig
from .agents import FanWatcher, TemperaturePusher
from .cluster import Cluster
from .config import ConfigError, Options, add_arguments, options_from_namespace
from .kubelets import KubeletFleet
from .server import SimServer, Ticker
from .timeutil import fmt_time

DESCRIPTION = (
    "A simulated Kubernetes cluster on 127.0.0.1: the API (pods, nodes, namespaces, watch, "
    "metrics.k8s.io, the kubelet summary through the node proxy), each node's kubelet over TLS on "
    "its own port, DCGM/Jetson GPU exporter pages, "
    "temperature agents, and /sim/truth with the exact resource usage."
)


class Running:
    """A started simulator: its URL, its cluster, and ``stop()``."""

    def __init__(self, server: SimServer, sim: Cluster, thread: threading.Thread, extras: list):
        self.server = server
        self.sim = sim
        self.thread = thread
        self.extras = extras

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def kubelet_ca(self) -> str:
        """The file of the CA that signs every simulated kubelet's certificate."""
        return self.sim.kubelets.ca_cert

    def stop(self) -> None:
        with self.sim.lock:
            self.sim.stopped = True
            self.sim.cond.notify_all()
        for e in self.extras:
            e.stop()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start(opts: Options) -> Running:
    """Build the cluster and serve it from background threads (tests, benchmarks, ``run``)."""
    server = SimServer(opts.port, quiet=opts.quiet)
    extras: list = []
    fan = None
    try:
        if opts.fan_url:
            fan = FanWatcher(opts.fan_url)
            fan.refresh()
            fan.start()
            extras.append(fan)
        kubelets = KubeletFleet(quiet=opts.quiet)
        extras.append(kubelets)
        sim = Cluster(opts, server.url, fan, kubelets)
        server.sim = sim
        kubelets.start(sim)
        if opts.kubelet_ca:  # before the kubeconfig, whose appearance tells a parent we are ready
            kubeconfig.write_file(opts.kubelet_ca, kubelets.tls.ca.ca_pem())
        if opts.kubeconfig:
            kubeconfig.write(opts.kubeconfig, server.url)
    except BaseException:
        for e in extras:
            e.stop()
        server.server_close()
        raise
    if not opts.manual_clock:
        ticker = Ticker(sim)
        ticker.start()
        extras.append(_Stopper(ticker.stop))
    if opts.push_temperatures_to:
        pusher = TemperaturePusher(sim, opts.push_temperatures_to, opts.token or "")
        sim.pusher = pusher
        sim.on_advance = pusher.wake
        pusher.start()
        extras.append(pusher)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="simcluster-http", daemon=True
    )
    thread.start()
    return Running(server, sim, thread, extras)


class _Stopper:
    def __init__(self, event: threading.Event):
        self.event = event

    def stop(self) -> None:
        self.event.set()


def run(opts: Options) -> int:
    """Serve in the foreground until SIGINT/SIGTERM. Returns the process exit status."""
    try:
        r = start(opts)
    except ConfigError as e:  # found while building the cluster (an unknown --clock-skew node)
        sys.stderr.write(f"simcluster: {e}\n")
        return 2
    except OSError as e:
        sys.stderr.write(f"simcluster: cannot listen on 127.0.0.1:{opts.port}: {e.strerror or e}\n")
        return 1
    print(f"simcluster listening on {r.url}", flush=True)
    sim = r.sim
    sys.stderr.write(
        f"simcluster: {len(sim.node_list)} nodes, {len(sim.pods)} pods, {len(sim.namespaces)} namespaces; "
        f"clock starts {fmt_time(sim.t0)}, "
        + ("manual" if opts.manual_clock else f"speed {opts.speed:g}x")
        + f", step {opts.step}s"
        + (f"; kubeconfig {opts.kubeconfig}" if opts.kubeconfig else "")
        + (f"; kubelet CA {opts.kubelet_ca}" if opts.kubelet_ca else "")
        + "\n"
    )
    done = threading.Event()

    def _quit(signum, frame):
        done.set()

    try:
        signal.signal(signal.SIGTERM, _quit)
        signal.signal(signal.SIGINT, _quit)
    except ValueError:  # not the main thread: rely on the caller to stop us
        pass
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    r.stop()
    return 0


def build_parser(prog: str = "python -m simcluster") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        opts = options_from_namespace(ns)
    except ConfigError as e:
        parser.error(str(e))  # usage + message on stderr, exit status 2, no traceback
    return run(opts)
