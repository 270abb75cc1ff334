"""The command line: ``python -m simcluster`` and ``manage.py simcluster``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"^simcluster listening on (http://127\.0\.0\.1:(\d+))$")


def launch(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def first_line(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline().strip()
    if not line:
        proc.kill()
        raise AssertionError(f"no output; stderr: {proc.stderr.read()}")
    return line


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_module_entry_point_serves_and_writes_a_kubeconfig(tmp_path):
    kubeconfig = tmp_path / "k"
    proc = launch(
        [
            sys.executable,
            "-m",
            "simcluster",
            "--port",
            "0",
            "--nodes",
            "3",
            "--pods",
            "30",
            "--kubeconfig",
            str(kubeconfig),
            "--quiet",
        ]
    )
    try:
        m = LISTENING.match(first_line(proc))
        assert m, "the first line must announce the URL"
        assert kubeconfig.stat().st_mode & 0o777 == 0o600
        api = config.new_client_from_config(config_file=str(kubeconfig))
        assert api.configuration.host == m.group(1)
        v1 = client.CoreV1Api(api)
        assert [n.metadata.name for n in v1.list_node().items] == ["cp-1", "node-01", "node-02"]
        assert len(v1.list_pod_for_all_namespaces().items) == 30
        assert config.list_kube_config_contexts(config_file=str(kubeconfig))[1]["name"] == "simcluster"
    finally:
        code = stop(proc)
    assert code == 0  # SIGTERM is a clean shutdown


@pytest.mark.parametrize(
    "args,message",
    [
        (["--nodes", "1"], "--nodes must be at least 2"),
        (["--nodes", "3", "--pods", "5"], "--pods 5 is too small"),
        (["--start", "last tuesday"], "--start"),
        (["--speed", "0"], "--speed must be a positive"),
        (["--step", "0"], "--step must be"),
        (["--push-temperatures-to", "http://127.0.0.1:9"], "needs --token"),
        (["--fan-url", "ftp://x"], "--fan-url must be an http"),
        (["--nodes", "4", "--gpu-nodes", "3"], "leaves no plain worker"),
        (["--pods", "many"], "invalid int value"),
    ],
)
def test_bad_options_exit_with_a_message_and_no_traceback(args, message):
    proc = subprocess.run(
        [sys.executable, "-m", "simcluster", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_port_in_use_is_reported_without_a_traceback():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "simcluster", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "Traceback" not in proc.stderr


# manage.py needs the project's settings to load (SECRET_KEY, or DEBUG=true for development)
DJANGO_ENV = {"DEBUG": "true", "DJANGO_SETTINGS_MODULE": "kubemon.settings"}


def test_management_command_runs_the_simulator(tmp_path):
    kubeconfig = tmp_path / "k"
    proc = launch(
        [
            sys.executable,
            "manage.py",
            "simcluster",
            "--nodes",
            "5",
            "--pods",
            "60",
            "--gpu-nodes",
            "1",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            "--quiet",
        ],
        DJANGO_ENV,
    )
    try:
        m = LISTENING.match(first_line(proc))
        assert m
        v1 = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        nodes = [n.metadata.name for n in v1.list_node().items]
        assert nodes == ["cp-1", "gpu-01", "node-01", "node-02", "node-03"]
    finally:
        code = stop(proc)
    assert code == 0


def test_management_command_rejects_bad_options_cleanly():
    proc = subprocess.run(
        [sys.executable, "manage.py", "simcluster", "--nodes", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **DJANGO_ENV},
    )
    assert proc.returncode == 1
    assert "CommandError: --nodes must be at least 2" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_simulator_imports_nothing_from_kubemon_or_the_collectors():
    # DESIGN §8: a stand-in that shared the collectors' code would make their tests prove nothing
    code = (
        "import sys, simcluster, simcluster.cli\n"
        "top = ('kubemon', 'django', 'api', 'billing', 'web', 'fan')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in top\n"
        "             or (m.startswith('collectors.') and not m.startswith('simcluster')))\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""
