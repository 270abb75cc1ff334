"""A year of pod churn written through kubemon's write path into InfluxDB with the shipped configuration.

    .venv/bin/python bench/bench_cardinality.py [--pods 1000000] [--days 365] [--peer inmem|none]

Starts a throw-away ``influxd`` from ``deploy/influxdb/influxdb.conf`` as kubemon ships it (tsi1
index, ``max-series-per-database`` 1,000,000, ``max-values-per-tag`` 100,000), creates kubemon's
database and retention policies (``TimeseriesStore.ensure_database``, the settings' durations),
and writes, day by day in time order, what a year of churn with ``--pods`` distinct pod names
leaves in it, every point through ``TimeseriesStore.write`` (line protocol, batches, the refusal
handling and its count):

- every pod-hour of the pods of the pod detail's days (``INFLUXDB_HOURLY_RETENTION``, 90 days as
  shipped) in the ``hourly`` rollup (``kubernetes_pod_container`` and ``kubernetes_pod_network``,
  the rollup's tags and columns) and every pod-day in ``pod_daily``; the policies refuse older
  points, which would have expired. Every namespace-hour and namespace-day of the year in
  ``namespace_hourly`` and ``namespace_daily``, every controller-hour and controller-day in
  ``controller_hourly`` and ``controller_daily`` (namespace, controller kind and controller: the
  tiers that outlive the pod detail);
- for the pods of the raw retention's last days, one raw sample per pod-hour of each of the
  collectors' per-pod measurements (``kubernetes_pod_container`` with the usage collector's fields,
  ``kubernetes_pod_network``, ``kubernetes_pod_volume`` with each pod's own ``kube-api-access-…``
  token volume, ``kubernetes_pod`` from the inventory). The raw policy refuses older points
  ("beyond retention policy"), which the year's older samples would have been when they expired.

Series, not samples, are what the limits count, so a pod-hour gets one raw sample instead of 240.
The rollup's own ``SELECT … INTO`` writes the same series server-side; here they go through the
client's write path. A pod runs one container for 1 hour (80 % of pods: CronJob runs and Jobs),
2 to 6 hours (15 %) or a day (5 %), in one of ``--namespaces`` namespaces under one of 500
controllers each (Job, ReplicaSet, StatefulSet names).

It reports the lines written and refused (must be 0), InfluxDB's series and per-tag-value counts,
what ``/healthz`` says of them (``store.cardinality()``, timed), the write time and rate, influxd's
peak and final memory, the data directory's size and this process's peak memory. ``--peer inmem``
then writes the same year into a second InfluxDB with the same file but ``index-version = "inmem"``,
the index that enforces both limits, for comparison in the same run.
"""

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchutil import bench_redis_url  # noqa: E402

sys.path.insert(0, str(ROOT))

HOUR = 3600
DAY = 86400
CONTROLLERS = 500
KINDS = ("job", "rs", "sts")


class Server:
    """A throw-away influxd from the shipped configuration, ``index`` swapped in when asked."""

    def __init__(self, index="tsi1"):
        from deploy.local.influxdb_server import CONFIG_TEMPLATE, InfluxServer

        self.index = index
        self.server = InfluxServer()
        template = CONFIG_TEMPLATE.read_text()
        if index != "tsi1":
            template = template.replace('index-version = "tsi1"', f'index-version = "{index}"')
        server = self.server

        def write_config():
            server.data_dir.mkdir(parents=True, exist_ok=True)
            path = server.data_dir / "influxdb.conf"
            path.write_text(template.format(rpc_port=server.rpc_port, data_dir=server.data_dir, http_host="127.0.0.1",
                                            http_port=server.http_port, auth_enabled="false"))
            return path

        server.write_config = write_config
        server.start()

    @property
    def url(self):
        return self.server.url

    def memory(self):
        """influxd's peak and current resident memory, MiB (``/proc/<pid>/status``)."""
        status = Path(f"/proc/{self.server.process.pid}/status").read_text()
        found = dict(re.findall(r"^(VmHWM|VmRSS):\s+(\d+) kB", status, re.M))
        return {"peak_mib": int(found["VmHWM"]) // 1024, "rss_mib": int(found["VmRSS"]) // 1024}

    def disk_mib(self):
        out = subprocess.run(["du", "-sm", str(self.server.data_dir)], capture_output=True, text=True).stdout
        return int(out.split()[0]) if out else None

    def cleanup(self):
        self.server.cleanup()


def churn(pods, days, namespaces, seed, now):
    """``[(day start, [(namespace, controller, pod, first hour, hours), ...]), ...]``, day by day."""
    rng = random.Random(seed)
    year_start = (now - days * DAY) // DAY * DAY
    made = 0
    for day in range(days):
        count = pods * (day + 1) // days - made
        day_start = year_start + day * DAY
        today = []
        for i in range(made, made + count):
            controller = rng.randrange(CONTROLLERS)
            namespace = f"team-{controller % namespaces:02d}"
            kind = KINDS[controller % len(KINDS)]
            roll = rng.random()
            hours = 1 if roll < 0.80 else rng.randint(2, 6) if roll < 0.95 else 24
            first = day_start + rng.randrange(24) * HOUR
            hours = max(1, min(hours, (now - first) // HOUR))
            today.append((namespace, f"{kind}-{controller:03d}", f"{kind}-{controller:03d}-{i:07x}", first, hours))
        made += count
        yield day_start, today


def points_of_day(day_start, today, namespaces, raw_since, fields):
    """``{policy: [Point, ...]}`` of one day's pods (``fields`` builds a container sample's fields)."""
    from kubemon.timeseries import Point
    from kubemon.timeseries.schema import CONTAINER, NETWORK, POD, VOLUME

    out = {"hourly": [], "pod_daily": [], "raw": [], "namespace_hourly": [], "namespace_daily": [],
           "controller_hourly": [], "controller_daily": []}
    controller_hours = {}
    for namespace, controller, pod, first, hours in today:
        node = f"node-{hash(pod) % 200:03d}"
        container = {"namespace": namespace, "pod_name": pod, "container_name": "main", "node_name": node}
        network = {"namespace": namespace, "pod_name": pod, "node_name": node}
        days_touched = set()
        for hour in range(first, first + hours * HOUR, HOUR):
            out["hourly"].append(Point(CONTAINER, container, {
                "cpu_core_seconds": 180.0, "memory_working_set_bytes_integral": 3.6e11,
                "memory_working_set_bytes_samples": 240, "memory_working_set_bytes_max": 1.2e8,
                "interval_seconds": 3600.0}, hour))
            out["hourly"].append(Point(NETWORK, network, {"rx_bytes_max": 10**9, "tx_bytes_max": 10**8,
                                                          "interval_seconds": 3600.0}, hour))
            days_touched.add(hour // DAY * DAY)
            controller_hours[(namespace, controller, hour)] = controller_hours.get((namespace, controller, hour), 0) + 1
            if hour >= raw_since:
                sample = hour + 420
                out["raw"] += [
                    Point(CONTAINER, container, fields(50.0, 2**27), sample),
                    Point(NETWORK, network, {"rx_bytes": 10**9, "rx_errors": 0, "tx_bytes": 10**8, "tx_errors": 0,
                                             "interval_seconds": 15.0}, sample),
                    Point(VOLUME, {**network, "volume_name": f"kube-api-access-{pod[-5:]}"},
                          {"used_bytes": 12288, "capacity_bytes": 2**31, "available_bytes": 2**31 - 12288,
                           "inodes": 6258720, "inodes_free": 6258711, "inodes_used": 9}, sample),
                    Point(POD, network, {"phase": "Running", "state": "running", "reason": "", "ready_containers": 1,
                                         "containers": 1, "restarts_total": 0, "owner_kind": "Job",
                                         "owner_name": controller, "uptime_seconds": 420}, sample),
                ]
        for day in days_touched:
            out["pod_daily"].append(Point(CONTAINER, {"namespace": namespace, "pod_name": pod},
                                          {"cpu_core_seconds": 180.0 * hours, "interval_seconds": 3600.0 * hours},
                                          day))
    controller_days = {}
    for (namespace, controller, hour), running in sorted(controller_hours.items()):
        tags = {"namespace": namespace, "controller_kind": "job", "controller": controller}
        out["controller_hourly"].append(Point(CONTAINER, tags, {"cpu_core_seconds": 180.0 * running,
                                                                "interval_seconds": 3600.0 * running}, hour))
        key = (namespace, controller, hour // DAY * DAY)
        controller_days[key] = controller_days.get(key, 0) + running
    for (namespace, controller, day), running in controller_days.items():
        out["controller_daily"].append(Point(CONTAINER, {"namespace": namespace, "controller_kind": "job",
                                                         "controller": controller},
                                             {"cpu_core_seconds": 180.0 * running,
                                              "interval_seconds": 3600.0 * running}, day))
    for n in range(namespaces):
        tags = {"namespace": f"team-{n:02d}"}
        for hour in range(day_start, day_start + DAY, HOUR):
            out["namespace_hourly"].append(Point(CONTAINER, tags, {"cpu_core_seconds": 1800.0,
                                                                   "interval_seconds": 36000.0}, hour))
        out["namespace_daily"].append(Point(CONTAINER, tags, {"cpu_core_seconds": 43200.0}, day_start))
    return out


def write_year(store, args, now):
    from kubemon.timeseries import WriteReport
    from tests.support.base import container_fields

    raw_since = now - args.raw_days * DAY
    # Pod detail older than its retention would be refused ("beyond retention policy"): it has expired.
    detail_since = now - args.detail_days * DAY
    report = WriteReport()
    lines = {}
    started = time.perf_counter()
    for number, (day_start, today) in enumerate(churn(args.pods, args.days, args.namespaces, args.seed, now)):
        for policy, points in points_of_day(day_start, today, args.namespaces, raw_since, container_fields).items():
            if day_start + 2 * DAY < raw_since and policy == "raw":
                continue
            if policy in ("hourly", "pod_daily"):
                points = [point for point in points if point[3] >= detail_since]
            part = store.write(points, policy=policy)
            report.merge(part)
            lines[policy] = lines.get(policy, 0) + len(points)
        if number % 30 == 29 or number == args.days - 1:
            print(f"  day {number + 1}/{args.days}: {report.written:,} lines written, {report.rejected:,} refused, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    return report, lines, time.perf_counter() - started


def dropped(errors):
    """What InfluxDB said it dropped, by reason (``partial write: <reason> ... dropped=N``)."""
    reasons = {}
    for error in errors:
        count = re.search(r"dropped=(\d+)", error)
        reason = "max-values-per-tag" if "max-values-per-tag" in error else "max-series-per-database" if (
            "max-series" in error) else "beyond retention policy" if "retention" in error else error[:80]
        reasons[reason] = reasons.get(reason, 0) + (int(count.group(1)) if count else 0)
    return reasons


def run(index, args, now):
    from kubemon.timeseries import open_store

    server = Server(index)
    try:
        store = open_store(server.url, "kubemon", batch_lines=args.batch, timeout=300, create_database=True)
        from django.conf import settings

        store.ensure_database(settings.INFLUXDB_RAW_RETENTION, settings.INFLUXDB_HOURLY_RETENTION,
                              settings.INFLUXDB_NAMESPACE_RETENTION, settings.INFLUXDB_CONTROLLER_RETENTION)
        print(f"{index}: influxd at {server.url}, retention policies {store.retention_policies()}", flush=True)
        report, lines, seconds = write_year(store, args, now)
        memory_after_write = server.memory()
        # /healthz's statements one by one: which of them costs (a year's database is large).
        from kubemon.timeseries.cardinality import TAG_KEYS
        from kubemon.timeseries.schema import RETENTION_POLICIES, quote_identifier

        statement_seconds = {}
        for label, statement in [("SHOW SERIES CARDINALITY", "SHOW SERIES CARDINALITY")] + [
                (f"SHOW TAG VALUES CARDINALITY FROM {p}./.*/ WITH KEY = pod_name",
                 f'SHOW TAG VALUES CARDINALITY FROM {quote_identifier(p)}./.*/ WITH KEY = "pod_name"')
                for p in ("raw", "hourly", "pod_daily")] + [
                ("SHOW TAG VALUES CARDINALITY FROM controller_hourly./.*/ WITH KEY = controller",
                 'SHOW TAG VALUES CARDINALITY FROM "controller_hourly"./.*/ WITH KEY = "controller"')]:
            started = time.perf_counter()
            store.query(statement)
            statement_seconds[label] = round(time.perf_counter() - started, 2)
            print(f"  {label}: {statement_seconds[label]} s, influxd {server.memory()}", flush=True)
        started = time.perf_counter()
        health = store.cardinality()
        health_seconds = time.perf_counter() - started
        memory_after_health = server.memory()
        print(f"  /healthz's cardinality ({len(TAG_KEYS) + 2} statements): "
              f"{health_seconds:.1f} s, influxd {memory_after_health}", flush=True)
        exact = {}
        if args.exact:  # minutes on a year's database
            # Without FROM, SHOW SERIES reads the default policy (raw) only: each policy on its own.
            statements = [f"SHOW SERIES EXACT CARDINALITY FROM {quote_identifier(p)}./.*/" for p in RETENTION_POLICIES]
            exact = dict(zip(RETENTION_POLICIES, store.query_many(statements), strict=True))
        result = {
            "index": index, "pods": args.pods, "days": args.days,
            "lines": lines, "written": report.written, "refused": report.rejected,
            "influxdb_dropped": dropped(report.errors), "write_seconds": round(seconds, 1),
            "lines_per_second": round(report.written / seconds) if seconds else None,
            "series_estimate": health.get("series"),
            "series_exact_by_policy": {policy: sum(s["values"][0][0] for s in found if s.get("values"))
                                       for policy, found in exact.items()},
            "tag_values": health.get("tag_values"), "healthz_warnings": health.get("warnings", []),
            "healthz_cardinality_seconds": round(health_seconds, 2), "statement_seconds": statement_seconds,
            "influxd_memory_after_write": memory_after_write, "influxd_memory_after_healthz": memory_after_health,
            "influxd_memory_end": server.memory(),
            "data_dir_mib": server.disk_mib(),
            "retention_policies": store.retention_policies(),
        }
        return result
    finally:
        server.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1_000_000, help="distinct pod names over the year")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--raw-days", type=int, default=29, help="the last days that get raw samples (raw keeps 30)")
    parser.add_argument("--detail-days", type=int, default=89,
                        help="the last days that get pod detail (INFLUXDB_HOURLY_RETENTION keeps 90)")
    parser.add_argument("--batch", type=int, default=5000, help="lines per write request (INFLUXDB_BATCH_LINES)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peer", choices=("inmem", "none"), default="inmem")
    parser.add_argument("--exact", action="store_true", help="also count every policy's series exactly (slow)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    if args.pods < 1 or args.days < 1 or args.namespaces < 1:
        parser.error("--pods, --days and --namespaces must be positive")

    workdir = tempfile.mkdtemp(prefix="kubemon-bench-cardinality-")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "kubemon.settings", "SECRET_KEY": "kubemon-bench-only",
                       "INFLUXDB_SPOOL": "none", "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
                       "LOG_LEVEL": "WARNING", "REDIS_URL": bench_redis_url()})
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the throw-away influxd on the way out
    import django

    django.setup()
    import logging

    logging.getLogger("kubemon.timeseries.store").setLevel(logging.CRITICAL)  # a refusal is counted, not logged
    now = int(time.time()) // HOUR * HOUR
    print(f"load before: {os.getloadavg()}", flush=True)
    results = [run("tsi1", args, now)]
    if args.peer != "none":
        results.append(run(args.peer, args, now))
    for result in results:
        result["bench_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"load after: {os.getloadavg()}")
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
