"""A simulated Kubernetes cluster for kubemon's tests, benchmarks and demo (DESIGN §8).

It serves, over plain HTTP on 127.0.0.1, the parts of the Kubernetes API that kubemon reads, the
kubelet summary, metrics.k8s.io, DCGM/Jetson exporter pages, temperature agents, and
``/sim/truth``: the exact resource usage, to measure accounting error against. It shares no code
with the collectors, and no production module imports it. See docs/simulator.md.
"""

from .cli import Running, main, run, start
from .config import ConfigError, Options, add_arguments, options_from_namespace

__all__ = [
    "ConfigError",
    "Options",
    "Running",
    "add_arguments",
    "main",
    "options_from_namespace",
    "run",
    "start",
]
