"""deploy/systemd/kubemon-fanhost.service: the host as an unprivileged user in the gpio group, with
a command line the host itself accepts, and a unit systemd reads without a complaint."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fanhost.config import parser

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "kubemon-fanhost.service"


def _service():
    """``{key: [values]}`` of the [Service] section (keys such as DeviceAllow repeat)."""
    section, out = None, {}
    text = UNIT.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_the_unit_runs_the_host_as_an_unprivileged_user_in_the_gpio_group():
    service = _service()
    assert service["User"] != ["root"] and service["User"] == ["fanhost"]
    assert "gpio" in service["SupplementaryGroups"][0].split()
    assert service["NoNewPrivileges"] == ["yes"] and service["CapabilityBoundingSet"] == [""]
    assert service["KillSignal"] == ["SIGTERM"]  # what leaves the fan on at full speed
    assert service["DevicePolicy"] == ["closed"] and "/dev/gpiomem rw" in service["DeviceAllow"]


def test_the_units_command_line_is_one_the_host_accepts_with_its_fail_safe_on():
    argv = shlex.split(_service()["ExecStart"][0])
    assert argv[1:3] == ["-m", "fanhost"]
    args = parser().parse_args(argv[3:])
    assert args.token_file == "/etc/kubemon-fanhost/token"
    assert args.heartbeat_timeout == 60.0  # the watchdog on (0 would turn it off)
    assert not args.mock_pins and not args.legacy_control  # real pins; no state-changing GETs


def test_systemd_reads_the_unit_without_a_warning(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    # the venv's python stands in for /opt/kubemon-fanhost's: verify wants an executable there
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/kubemon-fanhost/bin/python", sys.executable))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stdout + done.stderr
