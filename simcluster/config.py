"""Simulator options: one dataclass, validated in one place for both entry points.

``python -m simcluster`` and ``manage.py simcluster`` share ``add_arguments`` and
``options_from_namespace``, so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .timeutil import parse_time_us


class ConfigError(ValueError):
    """An option value that cannot work; the message is shown to the user as is."""


@dataclass
class Options:
    seed: int = 1
    nodes: int = 5
    pods: int = 60
    namespaces: int = 6
    gpu_nodes: int = 0
    jetson_nodes: int = 0
    speed: float = 1.0
    start: int = 0  # epoch seconds; 0 = now
    manual_clock: bool = False
    step: int = 15
    port: int = 0
    kubeconfig: str | None = None
    kubelet_ca: str | None = None
    push_temperatures_to: str | None = None
    token: str | None = None
    fan_url: str | None = None
    quiet: bool = False
    # node name -> seconds its kubelet's clock is ahead (negative: behind) of the simulated clock
    clock_skew: dict[str, int] = field(default_factory=dict)

    @property
    def control_planes(self) -> int:
        return 1 if self.nodes < 10 else 3

    @property
    def system_pods(self) -> int:
        """kube-proxy on every node, 4 static pods per control-plane node, an exporter per GPU or
        Jetson node, two coredns replicas and metrics-server (scenario.system_workloads)."""
        return self.nodes + 4 * self.control_planes + self.gpu_nodes + self.jetson_nodes + 3

    @property
    def plain_workers(self) -> int:
        return self.nodes - self.control_planes - self.gpu_nodes - self.jetson_nodes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options (argparse, and Django's CommandParser which subclasses it)."""
    g = parser.add_argument_group("scenario")
    g.add_argument("--seed", type=int, default=1, help="scenario seed: same seed, same cluster and history")
    g.add_argument("--nodes", type=int, default=5, help="nodes in total, control plane included (default 5)")
    g.add_argument("--pods", type=int, default=60, help="pods at start, system pods included (default 60)")
    g.add_argument("--namespaces", type=int, default=6, help="tenant namespaces (default 6)")
    g.add_argument("--gpu-nodes", type=int, default=0, help="workers with NVIDIA GPUs and a DCGM page")
    g.add_argument("--jetson-nodes", type=int, default=0, help="Jetson workers with a Jetson exporter page")
    c = parser.add_argument_group("clock")
    c.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)")
    c.add_argument("--start", default=None, help="RFC 3339 start of the simulated clock (default now)")
    c.add_argument("--manual-clock", action="store_true", help="time moves only on POST /sim/control advance")
    c.add_argument(
        "--clock-skew", action="append", default=[], metavar="NODE=SECONDS",
        help="that node's kubelet clock is SECONDS ahead (negative: behind): every time it reports "
        "(summaries, metrics.k8s.io timestamps, pod and container status times) is off by it; repeatable",
    )
    c.add_argument(
        "--step", type=int, default=15, help="simulation step = metrics window, seconds (default 15)"
    )
    s = parser.add_argument_group("serving")
    s.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one (default 0)")
    s.add_argument(
        "--kubeconfig", default=None, metavar="PATH", help="write a kubeconfig for the cluster here"
    )
    s.add_argument(
        "--kubelet-ca", default=None, metavar="PATH",
        help="write the CA of the kubelets' serving certificates here (kubemon's KUBELET_CA_FILE)",
    )
    s.add_argument(
        "--push-temperatures-to",
        default=None,
        metavar="URL",
        help="base URL that temperature agents push to (…/k8s/collect/TOKEN/temperature)",
    )
    s.add_argument("--token", default=None, help="token for --push-temperatures-to")
    s.add_argument("--fan-url", default=None, metavar="URL", help="fan host; GET URL/fan/status is polled")
    s.add_argument("--quiet", action="store_true", help="no request log on stderr")


def _check_url(name: str, url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")


def _clock_skews(values) -> dict[str, int]:
    if isinstance(values, dict):
        values = [f"{node}={seconds}" for node, seconds in values.items()]
    skews = {}
    for value in values:
        node, sep, seconds = str(value).partition("=")
        try:
            skew = int(seconds)
        except ValueError:
            skew = None
        if not node or not sep or skew is None:
            raise ConfigError(f"--clock-skew takes NODE=SECONDS (whole seconds), got {value!r}")
        if abs(skew) > 86_400:
            raise ConfigError(f"--clock-skew {value}: at most a day (86400 s) ahead or behind")
        skews[node] = skew
    return skews


def options_from_namespace(ns: argparse.Namespace | dict) -> Options:
    """Validate parsed arguments; raise ConfigError with a message meant for the user."""
    d = vars(ns) if isinstance(ns, argparse.Namespace) else dict(ns)
    o = Options(
        seed=d.get("seed", 1),
        nodes=d.get("nodes", 5),
        pods=d.get("pods", 60),
        namespaces=d.get("namespaces", 6),
        gpu_nodes=d.get("gpu_nodes", 0),
        jetson_nodes=d.get("jetson_nodes", 0),
        speed=d.get("speed", 1.0),
        manual_clock=bool(d.get("manual_clock", False)),
        step=d.get("step", 15),
        port=d.get("port", 0),
        kubeconfig=d.get("kubeconfig"),
        kubelet_ca=d.get("kubelet_ca"),
        token=d.get("token"),
        quiet=bool(d.get("quiet", False)),
    )
    o.clock_skew = _clock_skews(d.get("clock_skew") or [])
    if o.nodes < 2:
        raise ConfigError("--nodes must be at least 2 (a control-plane node and a worker)")
    if o.nodes > 5000:
        raise ConfigError("--nodes must be at most 5000")
    if o.gpu_nodes < 0 or o.jetson_nodes < 0:
        raise ConfigError("--gpu-nodes and --jetson-nodes cannot be negative")
    if o.plain_workers < 1:
        raise ConfigError(
            f"--nodes {o.nodes} leaves no plain worker: {o.control_planes} control-plane, "
            f"{o.gpu_nodes} GPU and {o.jetson_nodes} Jetson node(s); raise --nodes"
        )
    if o.namespaces < 1 or o.namespaces > 1000:
        raise ConfigError("--namespaces must be between 1 and 1000")
    if o.pods > 200_000:
        raise ConfigError("--pods must be at most 200000")
    if o.pods < o.system_pods:
        raise ConfigError(
            f"--pods {o.pods} is too small: {o.nodes} nodes already run {o.system_pods} system pods "
            f"(kube-proxy on every node, control-plane and exporter pods); use --pods {o.system_pods} or more"
        )
    if not (o.speed > 0) or o.speed > 1_000_000:
        raise ConfigError("--speed must be a positive number of simulated seconds per second")
    if o.step < 1 or o.step > 86_400:
        raise ConfigError("--step must be a whole number of seconds between 1 and 86400")
    if not 0 <= o.port <= 65535:
        raise ConfigError("--port must be between 0 and 65535")
    start = d.get("start")
    if start:
        try:
            us = parse_time_us(start)
        except ValueError as exc:
            raise ConfigError(f"--start: {exc}") from None
        o.start = us // 1_000_000
    else:
        o.start = int(time.time())
    o.push_temperatures_to = _check_url("--push-temperatures-to", d.get("push_temperatures_to"))
    o.fan_url = _check_url("--fan-url", d.get("fan_url"))
    if o.push_temperatures_to and not o.token:
        raise ConfigError("--push-temperatures-to needs --token (the agents' URL contains it)")
    return o
