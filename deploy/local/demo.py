"""``make demo``: the whole of kubemon on this machine, watching a simulated cluster.

Starts a throw-away InfluxDB, migrates the embedded SQLite database, creates a demo tenant and
user, then runs the simulated cluster, a Celery worker with beat, and the ASGI server on
http://127.0.0.1:8000. Ctrl-C stops everything it started.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import webbrowser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / ".run"
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
sys.path.insert(0, str(ROOT))  # run as a script: the project root makes `deploy` importable

from deploy.local.influxdb_server import InfluxServer  # noqa: E402

HOST, PORT = "127.0.0.1", int(os.environ.get("KUBEMON_DEMO_PORT", "8000"))
FAN_PORT = int(os.environ.get("KUBEMON_DEMO_FAN_PORT", "8010"))
FAN_URL = f"http://{HOST}:{FAN_PORT}"
# The simulated tower sits near 50-60 °C under the demo's load without the fan and some 15 °C
# cooler with it: a maximum of 55 °C makes the fan start, the temperatures fall, and it stop.
DEMO_FAN_MAXTEMP = os.environ.get("KUBEMON_DEMO_FAN_MAXTEMP", "55")
DEMO_USER, DEMO_TENANT = "demo", "physics"
# The simulated cluster labels its namespaces kubemon.io/tenant=<slug> with these slugs; the
# inventory cycle assigns the namespaces to the tenants once they exist.
DEMO_TENANTS = {"physics": "Physics", "ml-lab": "Machine Learning Lab", "team-a": "Team A", "team-b": "Team B",
                "biology": "Biology"}


def persistent_secret(name):
    path = RUN / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)  # secrets: the fan host warns about a token file others can read
    return path.read_text().strip()


def manage(*args, env, input_text=None, check=True):
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, input=input_text, text=True,
                          check=check, capture_output=True)


def wait_for_http(url, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def prepare_database(env):
    """Migrate, create the InfluxDB database, the demo tenants and the demo user; returns its password."""
    print("preparing the database...")
    manage("migrate", "--noinput", env=env)
    manage("setupinfluxdb", env=env)
    password = persistent_secret("demo-password")
    for slug, name in DEMO_TENANTS.items():
        manage("createtenant", slug, "--name", name, env=env, check=False)
    manage("createuser", "--username", DEMO_USER, "--email", "demo@example.org", "--tenant", DEMO_TENANT,
           "--role", "admin", "--staff", "--password-stdin", env=env, input_text=password + "\n", check=False)
    return password


def start_processes(env, kubeconfig, push_token, children):
    """The simulated cluster, Celery (worker and beat) and the web server, logging to .run/demo.log."""
    log = open(RUN / "demo.log", "a")
    # The fan host on mock pins (docs/fan.md): the portal's auto mode drives it, the simulated
    # tower reads it (--fan-url) and cools while it runs, so the loop is closed.
    print(f"starting the fan host (mock pins) on {FAN_URL}...")
    children.append(subprocess.Popen(
        [PYTHON, "-m", "fanhost", "--host", HOST, "--port", str(FAN_PORT), "--token-file", str(RUN / "fan-token"),
         "--mock-pins", "--heartbeat-timeout", "60", "--quiet"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    wait_for_http(f"{FAN_URL}/fan/status", timeout=15)
    print("starting the simulated cluster...")
    children.append(subprocess.Popen(
        [PYTHON, "manage.py", "simcluster", "--nodes", "8", "--pods", "120", "--gpu-nodes", "2",
         "--jetson-nodes", "1", "--port", "0", "--kubeconfig", str(kubeconfig),
         "--kubelet-ca", env["KUBELET_CA_FILE"],
         "--push-temperatures-to", f"http://{HOST}:{PORT}", "--token", push_token, "--fan-url", FAN_URL],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    for _ in range(100):
        if kubeconfig.exists():
            break
        time.sleep(0.1)
    print("starting Celery (worker and beat)...")
    children.append(subprocess.Popen(
        [PYTHON, "-m", "celery", "-A", "kubemon", "worker", "--beat", "--loglevel=INFO", "--concurrency=2",
         "--schedule", str(RUN / "celerybeat-schedule")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    print("starting the web server...")
    children.append(subprocess.Popen(
        [PYTHON, "-m", "uvicorn", "kubemon.asgi:application", "--host", HOST, "--port", str(PORT),
         "--ws-per-message-deflate", "false"],  # as deploy/entrypoint.py serves it
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))


def demo_login_url(env):
    """A one-time URL that logs the demo user in (web/accounts_demo.py), or the plain login page."""
    result = manage("demologin", "--username", DEMO_USER, env=env, check=False)
    if result.returncode != 0:
        print(f"no demo login link: {result.stderr.strip()}")
        return f"http://{HOST}:{PORT}/web/login/"
    return f"http://{HOST}:{PORT}{result.stdout.strip()}"


def open_in_browser(url):
    """Open ``url`` where there is a screen to show it on; a headless machine only gets the printed URL."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin"):
        return
    try:
        webbrowser.open(url, new=2)
    except webbrowser.Error:
        pass


def main():
    RUN.mkdir(exist_ok=True)
    influx = InfluxServer(data_dir=RUN / "demo-influxdb")
    children = []

    def stop(*_):
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        influx.cleanup()
        print("\nkubemon demo stopped.")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("starting InfluxDB...")
    influx.start()
    kubeconfig = RUN / "simcluster.kubeconfig"
    push_token = persistent_secret("temperature-token")
    env = dict(
        os.environ,
        DEBUG="true",
        SECRET_KEY=persistent_secret("secret-key"),
        DATABASE_URL=os.environ.get("KUBEMON_DEMO_DATABASE_URL", f"sqlite:///{RUN / 'demo.sqlite3'}"),
        INFLUXDB_URL=influx.url,
        INFLUXDB_DATABASE="kubemon",
        KUBECONFIG=str(kubeconfig),
        # the collector reads each simulated kubelet over TLS (KUBELET_ACCESS=direct), trusting its CA
        KUBELET_CA_FILE=str(RUN / "simcluster-kubelet-ca.crt"),
        TEMPERATURE_PUSH_TOKEN=push_token,
        PYTHONUNBUFFERED="1",
        WEB_DEMO_LOGIN="true",  # one-time login links (manage.py demologin): the demo opens logged in
        FAN_SERVER_URL=FAN_URL,
        FAN_TOKEN=persistent_secret("fan-token"),
        FAN_MAXTEMP=DEMO_FAN_MAXTEMP,
        FAN_DWELL_SECONDS="60",
        NODELIGHT_TOKEN=persistent_secret("nodelight-token"),
    )
    try:
        password = prepare_database(env)
        start_processes(env, kubeconfig, push_token, children)
        if not wait_for_http(f"http://{HOST}:{PORT}/healthz"):
            print(f"the web server did not start; see {RUN / 'demo.log'}")
            stop()
    except subprocess.CalledProcessError as exc:
        print(f"demo set-up failed: {' '.join(exc.cmd[1:])}\n{exc.stdout}{exc.stderr}")
        stop()
    login_url = demo_login_url(env)
    print(f"""
kubemon is running: http://{HOST}:{PORT}/
  open:     {login_url}   (logs in as {DEMO_USER} once; valid 10 minutes)
  login:    {DEMO_USER} / {password}   (tenant {DEMO_TENANT}, staff)
  API:      http://{HOST}:{PORT}/api/metrics
  health:   http://{HOST}:{PORT}/healthz
  fan:      http://{HOST}:{PORT}/web/fan/   (host {FAN_URL}, mock pins; on at {DEMO_FAN_MAXTEMP} °C)
  logs:     {RUN / 'demo.log'}
Press Ctrl-C to stop.""", flush=True)
    open_in_browser(login_url)
    while True:
        for child in children:
            if child.poll() is not None:
                print(f"a demo process exited ({child.args[2:4]}); see {RUN / 'demo.log'}")
                stop()
        time.sleep(1)


if __name__ == "__main__":
    main()
