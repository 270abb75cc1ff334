"""The simulator runs in a virtualenv that has only its own dependencies (simcluster/requirements.txt)."""

import subprocess
import urllib.request
import venv
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bare_python(tmp_path):
    """A fresh virtualenv with no pip and nothing installed but orjson (linked from this one)."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    only = tmp_path / "only-orjson"
    only.mkdir()
    (only / "orjson").symlink_to(Path(orjson.__file__).parent)
    (site / "only-orjson.pth").write_text(str(only) + "\n")
    return str(env_dir / "bin" / "python")


def test_the_bare_virtualenv_really_lacks_the_project_dependencies(bare_python):
    probe = subprocess.run([bare_python, "-c", "import django"], capture_output=True, text=True, timeout=30)
    assert probe.returncode != 0 and "No module named 'django'" in probe.stderr


def test_python_m_simcluster_help_works_with_only_its_own_dependencies(bare_python):
    proc = subprocess.run([bare_python, "-m", "simcluster", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m simcluster")


def test_the_simulator_serves_with_only_its_own_dependencies(bare_python, tmp_path):
    proc = subprocess.Popen([bare_python, "-m", "simcluster", "--port", "0", "--nodes", "3", "--pods", "10",
                             "--kubeconfig", str(tmp_path / "k"), "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("simcluster listening on http://127.0.0.1:"), proc.stderr.read() if not line else line
        url = line.strip().rsplit(" ", 1)[-1]
        with urllib.request.urlopen(url + "/api/v1/nodes", timeout=10) as response:
            nodes = orjson.loads(response.read())
        assert len(nodes["items"]) == 3
    finally:
        proc.terminate()
        proc.wait(10)
