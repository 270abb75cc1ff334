"""The simulated cluster as a test fixture: a subprocess on a manual clock."""

import contextlib
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


class Simulator:
    """The simulated cluster in a subprocess, on a manual clock.

    ``start``: its clock's start, epoch seconds or RFC 3339 (default two hours ago); ``extra_args``
    go to ``python -m simcluster`` as they are; ``options`` become ``--name value`` flags.
    """

    request_timeout = 30
    kube_timeout = 10

    def __init__(self, tmp_path, start=None, extra_args=(), **options):
        self.kubeconfig = str(Path(tmp_path) / "kubeconfig")
        if start is None:
            start = int(time.time()) - 2 * 3600
        if not isinstance(start, str):
            start = datetime.fromtimestamp(int(start), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        args = [sys.executable, "-m", "simcluster", "--port", "0", "--kubeconfig", self.kubeconfig,
                "--manual-clock", "--start", start, "--quiet", *extra_args]
        for name, value in options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for line in self.process.stdout:
            if "listening on" in line:
                self.url = line.strip().rsplit(" ", 1)[-1]
                break
        else:
            raise RuntimeError("the simulator did not start")

    def control(self, **body):
        response = requests.post(self.url + "/sim/control", json=body, timeout=self.request_timeout)
        response.raise_for_status()
        return response.json()

    def advance(self, seconds=15):
        return self.control(action="advance", seconds=seconds)

    def get(self, path, **params):
        response = requests.get(self.url + path, params=params, timeout=self.request_timeout)
        response.raise_for_status()
        return response.json()

    def kube(self):
        from collectors.kube import KubeClient

        return KubeClient.from_config(self.kubeconfig, timeout=self.kube_timeout)

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def make_simulator(tmp_path):
    """A factory: ``make_simulator(seed=7, nodes=5, ...)`` starts one; all are stopped afterwards."""
    started = []

    def make(**options):
        simulator = Simulator(tmp_path / str(len(started)), **options)
        started.append(simulator)
        return simulator

    (tmp_path / "0").mkdir()
    (tmp_path / "1").mkdir()
    yield make
    for simulator in started:
        simulator.stop()


@contextlib.contextmanager
def as_worker(simulator, settings):
    """Run cycles on a worker's own client of ``simulator`` (``collectors.kube.get_kube``, and the
    pod watch it starts on first use, KUBERNETES_POD_WATCH on); yields ``collectors.kube`` so that
    a test can see which watches were started. Both are reset after."""
    from collectors import kube as kube_module

    settings.KUBECONFIG = simulator.kubeconfig
    settings.KUBERNETES_POD_WATCH = True
    kube_module.reset_kube()
    try:
        yield kube_module
    finally:
        kube_module.reset_kube()
