#!/usr/bin/env python3
"""The container's entrypoint: one image, the role chosen by the command.

    entrypoint.py web          # migrate (under a lock, KUBEMON_MIGRATE=true) and serve ASGI (uvicorn)
    entrypoint.py worker       # the Celery worker (collection, rollup, billing tasks)
    entrypoint.py beat         # the Celery beat (one replica: it is the schedule)
    entrypoint.py migrate      # the database migrations alone, under a lock
    entrypoint.py healthcheck [web|worker|beat]
    entrypoint.py manage ARGS  # any manage.py command

It runs the same way in the image and in a plain virtualenv (tests/deploy/test_entrypoint.py):
the Python that runs it is the one that runs kubemon, and the project is the folder above
``deploy/`` (or ``KUBEMON_HOME``). The read-only root filesystem of the image is respected:
everything written goes under ``KUBEMON_STATE_DIR`` (default ``/tmp/kubemon``, an emptyDir).
Each role replaces this process (``exec``), so signals reach uvicorn and Celery directly.
"""

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

HOME = Path(os.environ.get("KUBEMON_HOME") or Path(__file__).resolve().parent.parent)
STATE = Path(os.environ.get("KUBEMON_STATE_DIR", "/tmp/kubemon"))
# A value still holding this came from the Secret template unchanged (deploy/kubernetes)
PLACEHOLDER = "change-me"
SECRET_VARIABLES = ("SECRET_KEY", "DATABASE_URL", "INFLUXDB_PASSWORD", "INFLUXDB_TOKEN", "API_PASSWORD",
                    "TEMPERATURE_PUSH_TOKEN", "FAN_TOKEN", "NODELIGHT_TOKEN")
MIGRATION_LOCK = 0x6B75626D  # "kubm": one PostgreSQL advisory lock for every replica's migrations


def _env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def refuse_placeholder_secrets():
    """Stop with a clear message when a secret is still the template's placeholder."""
    for name in SECRET_VARIABLES:
        path = os.environ.get(f"{name}_FILE")
        value = os.environ.get(name, "")
        if path:
            try:
                value = Path(path).read_text().strip()
            except OSError as exc:
                sys.exit(f"kubemon: {name}_FILE={path} cannot be read: {exc}")
        if PLACEHOLDER in value:
            sys.exit(f"kubemon: {name} is still the Secret template's placeholder ({PLACEHOLDER}...): "
                     "set it (docs/install.md, 'Secrets')")


def _exec(args):
    sys.stdout.flush()
    os.chdir(HOME)
    os.execv(sys.executable, [sys.executable, *args])  # noqa: S606 (a fixed program, no shell wanted)


def _django():
    sys.path.insert(0, str(HOME))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubemon.settings")
    import django

    django.setup()


def migrate():
    """``migrate``, one replica at a time: two web pods starting together must not race on it."""
    _django()
    from django.core.management import call_command
    from django.db import connection

    locked = connection.vendor == "postgresql"
    if locked:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    try:
        call_command("migrate", interactive=False, verbosity=1)
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
    connection.close()


def web():
    if os.environ.get("KUBEMON_MIGRATE", "false").lower() in ("1", "true", "yes"):
        migrate()
    _exec(["-m", "uvicorn", "kubemon.asgi:application",
           "--host", os.environ.get("KUBEMON_BIND", "0.0.0.0"),  # noqa: S104 (a pod's port)
           "--port", str(_env_int("PORT", 8000)),
           "--workers", str(_env_int("WEB_WORKERS", 1)), "--proxy-headers",
           "--forwarded-allow-ips", os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
           "--timeout-graceful-shutdown", "20", "--no-server-header",
           # The live view sends one delta text to every socket; permessage-deflate would compress
           # it once per socket (3 ms per 40 kB delta here: most of a 500-socket fan-out).
           "--ws-per-message-deflate", "false"])


def worker():
    _exec(["-m", "celery", "-A", "kubemon", "worker", "--loglevel", os.environ.get("LOG_LEVEL", "INFO"),
           "--concurrency", str(_env_int("WORKER_CONCURRENCY", 2)), "--hostname", "kubemon@%h"])


def beat():
    STATE.mkdir(parents=True, exist_ok=True)
    _exec(["-m", "celery", "-A", "kubemon", "beat", "--loglevel", os.environ.get("LOG_LEVEL", "INFO"),
           "--schedule", str(STATE / "celerybeat-schedule"), "--pidfile", str(STATE / "celerybeat.pid")])


def running_role(cmdline_path="/proc/1/cmdline"):
    """The role of the container's main process, from its command line (the image's HEALTHCHECK
    has no argument: one image serves every role)."""
    try:
        args = Path(cmdline_path).read_bytes().split(b"\0")
    except OSError:
        return "web"
    for role in (b"beat", b"worker"):
        if b"celery" in args and role in args:
            return role.decode()
    return "web"


def healthcheck(role=None):
    """Exit 0 when the role answers: web's /healthz (any answer but a refusal: 503 means a
    dependency is down, which restarting web would not mend), the worker's Celery ping."""
    role = role or running_role()
    if role == "web":
        url = f"http://127.0.0.1:{_env_int('PORT', 8000)}/healthz"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Host": "localhost"}), timeout=5):
                return 0
        except urllib.error.HTTPError as exc:
            return 0 if exc.code == 503 else 1
        except OSError:
            return 1
    if role == "worker":
        os.chdir(HOME)
        import subprocess

        done = subprocess.run([sys.executable, "-m", "celery", "-A", "kubemon", "inspect", "ping", "--timeout", "5",
                               "--destination", f"kubemon@{os.uname().nodename}"], capture_output=True, check=False)
        return done.returncode
    if role == "beat":
        return 0 if (STATE / "celerybeat-schedule").exists() or any(STATE.glob("celerybeat-schedule*")) else 1
    sys.exit(f"kubemon: no health check for {role!r}")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv else "web"
    if command == "healthcheck":
        return healthcheck(*argv[:1])
    roles = {"web": web, "worker": worker, "beat": beat, "migrate": migrate}
    if command == "manage":
        refuse_placeholder_secrets()
        _exec([str(HOME / "manage.py"), *argv])
    if command not in roles:
        sys.exit(f"kubemon: unknown command {command!r}; use web, worker, beat, migrate, healthcheck or manage")
    refuse_placeholder_secrets()
    roles[command]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
