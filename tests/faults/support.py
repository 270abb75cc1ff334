"""What the fault runs share: a beat in simulated time, a Redis server of the run's own, and the
checks every run ends with (exact point counts, no interval charged twice, the truth).

``Beat`` runs the cycles in-process as the beat schedule does, on the simulator's manual clock:
every 15 s the clock advances 15 s, then the usage and GPU cycles run; the inventory and spool
replay every 30 s; the rollup every 5 minutes (it takes "now" from the sources' clock in Redis).
Every report is kept with its simulated time, so a run can say what each cycle wrote.

The checks read InfluxDB's raw points:

- ``stored_points``: points per cycle and measurement in InfluxDB, against what the cycles
  reported writing;
- ``double_charged``: a container point whose ``interval_seconds`` is longer than the time since
  the series' previous point, or whose ``cpu_core_seconds`` is more than the kubelet counter rose
  since it: the interval (or its CPU) charged twice. A rerun rewrites a point at the same
  timestamp (InfluxDB keeps one), so a duplicate can only show this way;
- ``truth_errors``: every namespace's CPU core-seconds and memory byte-seconds over a window,
  against ``/sim/truth`` for the same window.
"""

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from collectors import cycles
from collectors.timeutil import epoch_seconds
from kubemon.timeseries.schema import CONTAINER, NODE, source_identifier

CADENCE = 15
INVENTORY_EVERY = 30
SPOOL_EVERY = 30
ROLLUP_EVERY = 300
CPU_TOLERANCE = 0.001
MEMORY_TOLERANCE = 0.005


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throw-away ``redis-server`` on a free loopback port, with its data in a folder of its own.

    ``appendonly`` as kubemon's deployments run it (deploy/compose.yaml, deploy/kubernetes: AOF, no
    RDB snapshots); ``appendonly=False`` as ``make services`` runs it (nothing kept across a restart).
    """

    def __init__(self, appendonly=True):
        self.appendonly = appendonly
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="kubemon-fault-redis-"))
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout=10):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(self.dir),
                "--appendonly", "yes" if self.appendonly else "no", "--protected-mode", "no"]
        with open(self.dir / "redis.log", "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port}; see {self.dir / 'redis.log'}")

    def stop(self, sig=signal.SIGTERM):
        """Stop it (SIGTERM: a clean shutdown that writes the AOF; SIGKILL: a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(10)
        self.process = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Beat:
    """The beat schedule in simulated time over in-process cycles."""

    simulator: object
    store: object
    redis: object
    kube: object = None
    reports: list = field(default_factory=list)  # (simulated time, report)
    now: int = 0
    steps_run: int = 0

    def __post_init__(self):
        self.kube = self.kube or self.simulator.kube()
        self.now = sim_now(self.simulator)

    def run(self, function, **kwargs):
        report = function(store=self.store, redis=self.redis, **kwargs)
        self.reports.append((self.now, report))
        return report

    def step(self, rollup=True):
        """Advance 15 simulated seconds and run what the beat would; returns the usage report."""
        self.simulator.advance(CADENCE)
        self.now += CADENCE
        self.steps_run += 1
        elapsed = self.steps_run * CADENCE  # the beat's schedules count from its start
        kube = {"kube": self.kube}
        usage = self.run(cycles.run_usage_cycle, **kube)
        self.run(cycles.run_gpu_cycle, **kube)
        if elapsed % INVENTORY_EVERY == 0:
            self.run(cycles.run_inventory_cycle, **kube)
        if elapsed % SPOOL_EVERY == 0:
            self.run(cycles.run_spool_replay)
        if rollup and elapsed % ROLLUP_EVERY == 0:
            self.run(cycles.run_rollup_cycle)
        return usage

    def steps(self, count, **kwargs):
        return [self.step(**kwargs) for _ in range(count)]

    def reported_points(self):
        """``{(cycle, measurement): points}`` the cycles said they wrote (or spooled)."""
        counts = {}
        for _, report in self.reports:
            cycle = report.name.partition("/")[0]
            if cycle in ("usage", "gpu", "inventory"):
                for measurement, value in report.points.items():
                    counts[(cycle, measurement)] = counts.get((cycle, measurement), 0) + value
        return counts


def fixed_start(hour, days_back=2):
    """An RFC 3339 start for the simulator at ``hour`` UTC ``days_back`` days ago: the simulated
    cluster's history (its CronJobs' runs, its daily curves) then repeats run after run, so that a
    fault lands on the same pods every time."""
    from datetime import UTC, datetime, timedelta

    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_back)
    return (day + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")


def sim_now(simulator):
    """The simulator's clock, epoch seconds."""
    return int(epoch_seconds(simulator.get("/sim/state")["now"]))


# Points of one series and time written by two cycles are one point in InfluxDB (the inventory's
# node point every 30 s shares the usage cycle's sample time): each cycle's are counted by a field
# only that cycle writes.
FIELD_OF = {("usage", NODE): "interval_seconds", ("inventory", NODE): "capacity_pods"}


def stored_points(store, reported):
    """``{(cycle, measurement): points in raw}`` for the keys of ``reported_points``: a field's
    count (``FIELD_OF``), else the most of any field's count."""
    counts = {}
    for cycle, measurement in reported:
        name = FIELD_OF.get((cycle, measurement))
        column = f'count("{name}")' if name else "count(*)"
        series = store.query(f"SELECT {column} FROM {source_identifier(measurement)}")  # noqa: S608  (whitelisted)
        values = [v for v in series[0]["values"][0][1:] if v is not None] if series else []
        counts[(cycle, measurement)] = max(values, default=0)
    return counts


def container_points(store):
    """``{(namespace, pod, container): [(time, interval, cpu_core_seconds, counter ns), ...]}``, by time."""
    series = store.query(
        'SELECT "interval_seconds", "cpu_core_seconds", "cpu_usage_core_nanoseconds" '  # noqa: S608  (whitelisted)
        f"FROM {source_identifier(CONTAINER)} GROUP BY \"namespace\", \"pod_name\", \"container_name\"", epoch="s")
    points = {}
    for item in series:
        tags = item["tags"]
        key = (tags["namespace"], tags["pod_name"], tags["container_name"])
        points.setdefault(key, []).extend(tuple(row) for row in item["values"])
    for rows in points.values():
        rows.sort()
    return points


def double_charged(store):
    """Container points that charge time or CPU a previous point of their series already covered."""
    found = []
    for key, rows in container_points(store).items():
        for previous, current in zip(rows, rows[1:], strict=False):
            spacing = current[0] - previous[0]
            if current[1] is not None and current[1] > spacing + 1e-6:
                found.append(f"{'/'.join(key)} at {current[0]}: interval {current[1]} s, {spacing} s after the last")
            if None not in (current[2], current[3], previous[3]) and current[3] >= previous[3] \
                    and current[2] > (current[3] - previous[3]) / 1e9 + 1e-6:
                found.append(f"{'/'.join(key)} at {current[0]}: {current[2]} core-s, the counter rose "
                             f"{(current[3] - previous[3]) / 1e9} core-s")
    return found


def per_namespace(store, field_name, start, end, policy="raw"):
    series = store.query(
        f'SELECT sum("{field_name}") FROM {source_identifier(CONTAINER, policy)} '  # noqa: S608  (whitelisted)
        'WHERE time > $start AND time <= $end GROUP BY "namespace"', params={"start": start, "end": end})
    return {s["tags"]["namespace"]: s["values"][0][1] for s in series}


def truth_errors(simulator, store, start, end):
    """``{namespace: (CPU relative error, memory relative error)}`` over ``(start, end]`` for every
    namespace with at least a core-second of truth."""
    truth = simulator.get("/sim/truth", start=_iso(start), end=_iso(end))["namespaces"]
    cpu = per_namespace(store, "cpu_core_seconds", start * 10**9, end * 10**9)
    memory = per_namespace(store, "memory_working_set_bytes_integral", start * 10**9, end * 10**9)
    errors = {}
    for namespace, expected in truth.items():
        if expected["cpu_core_seconds"] < 1:
            continue
        errors[namespace] = (cpu.get(namespace, 0.0) / expected["cpu_core_seconds"] - 1,
                             memory.get(namespace, 0.0) / expected["memory_byte_seconds"] - 1)
    return errors


def within_truth(errors):
    return all(abs(c) <= CPU_TOLERANCE and abs(m) <= MEMORY_TOLERANCE for c, m in errors.values())


def describe(errors):
    return ", ".join(f"{ns}: CPU {c:+.3%} memory {m:+.3%}" for ns, (c, m) in sorted(errors.items()))


def _iso(epoch):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(name, figures):
    """Print a run's figures (``pytest -s`` shows them) and append them, as one JSON line, to the
    file ``KUBEMON_FAULT_FIGURES`` names (docs/reliability.md takes its figures from there)."""
    import json
    import os

    line = json.dumps({"run": name, **figures}, default=str)
    print(f"\nFAULT FIGURES {line}")
    path = os.environ.get("KUBEMON_FAULT_FIGURES")
    if path:
        with open(path, "a") as handle:
            handle.write(line + "\n")


def pod_errors(simulator, store, start, end, namespace):
    """``{pod: (truth core-s, kubemon core-s)}`` of one namespace over ``(start, end]``: what a
    failed namespace comparison shows."""
    truth = {}
    for pod in simulator.get("/sim/truth", start=_iso(start), end=_iso(end))["pods"]:
        if pod["namespace"] == namespace:
            truth[pod["pod"]] = truth.get(pod["pod"], 0.0) + pod["cpu_core_seconds"]
    series = store.query(
        f'SELECT sum("cpu_core_seconds") FROM {source_identifier(CONTAINER)} '  # noqa: S608  (whitelisted)
        'WHERE "namespace" = $ns AND time > $start AND time <= $end GROUP BY "pod_name"',
        params={"ns": namespace, "start": start * 10**9, "end": end * 10**9})
    got = {s["tags"]["pod_name"]: s["values"][0][1] for s in series}
    return {pod: (round(truth.get(pod, 0.0), 3), round(got.get(pod, 0.0), 3)) for pod in sorted(set(truth) | set(got))
            if abs(truth.get(pod, 0.0) - got.get(pod, 0.0)) > 1e-6}
