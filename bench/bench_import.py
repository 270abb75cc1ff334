"""The legacy import's rate (points/s) and memory: ``manage.py importlegacy`` on Heapster history.

    .venv/bin/python bench/bench_import.py [--pods 1000] [--days 30] [--resolution 60]
        [--measurements cpu/usage_rate,memory/working_set] [--straight] [--days-list 1,2]

Starts two throw-away InfluxDBs, writes ``--days`` of Heapster-shaped history for ``--pods`` pods
(one container each, 20 nodes, 50 namespaces; rows at the ``pod_container`` and ``pod`` levels,
as Heapster wrote them, so the import must pick one) into the legacy one, then runs the import
in a child process and reports its wall time, points written per second, the time of the rollup
and tiers afterwards, and the child's peak RSS. ``--straight`` gives kubemon a one-day raw
retention, so that every hour goes straight into the hourly rollup (the path of old history);
otherwise every hour is written raw and rolled up (history within the raw retention).
``--days-list 1,2,4`` repeats the whole run for each length: the peak RSS should not grow with it.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchutil import bench_redis_url  # noqa: E402


def history(pods, start, days, resolution, measurements):
    """Heapster's lines for ``pods`` pods over ``days`` days, oldest first."""
    from tests.support.heapster import line

    t, stop = int(start.timestamp()), int((start + timedelta(days=days)).timestamp())
    while t < stop:
        for i in range(pods):
            tags = {"namespace_name": f"team-{i % 50:02d}", "pod_name": f"pod-{i:05d}",
                    "nodename": f"node-{i % 20:02d}", "labels": f"app:a{i % 7},tenant:team-{i % 50:02d}",
                    "pod_id": f"uid-{i}"}
            value = 50 + (i * 7 + t // 60) % 200
            for name in measurements:
                v = value if name.startswith("cpu") else value * 2**20
                yield line(name, {**tags, "type": "pod_container", "container_name": "app"}, v, t)
                yield line(name, {**tags, "type": "pod"}, v, t)
        t += resolution


def run_once(args, days):
    from deploy.local.influxdb_server import InfluxServer
    from tests.support.heapster import write_lines

    legacy, own = InfluxServer().start(), InfluxServer().start()
    workdir = tempfile.mkdtemp(prefix="kubemon-bench-import-")
    try:
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        start = end - timedelta(days=days)
        measurements = args.measurements.split(",")
        began = time.perf_counter()
        lines = write_lines(legacy.url, "k8s", history(args.pods, start, days, args.resolution, measurements),
                            batch=50_000)
        print(f"legacy history: {lines:,} rows ({args.pods} pods, {days} d at {args.resolution} s, "
              f"{len(measurements)} measurements, two levels) written in {time.perf_counter() - began:.0f} s")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kubemon.settings", "SECRET_KEY": "kubemon-bench-only",
               "INFLUXDB_URL": own.url, "INFLUXDB_DATABASE": "kubemon_bench", "INFLUXDB_SPOOL": "none",
               "INFLUXDB_TIMEOUT": "300", "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
               "LOG_LEVEL": "WARNING", "REDIS_URL": bench_redis_url(),
               "INFLUXDB_RAW_RETENTION": "1d" if args.straight else f"{days + 10}d"}
        command = [sys.executable, str(ROOT / "manage.py"), "importlegacy", "--url", legacy.url, "--quiet",
                   "--checkpoint", f"{workdir}/checkpoint.json"]
        for name in measurements:
            command += ["--measurement", name]
        began = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
        if status:
            print(output)
            raise SystemExit(f"the import failed (status {status})")
        done = re.search(r"done in .*", output).group(0)
        points = sum(int(a.replace(",", "")) + int(b.replace(",", ""))
                     for a, b in re.findall(r"wrote ([\d,]+) raw and ([\d,]+) hourly points", output))
        print(f"import ({'straight into the hourly rollup' if args.straight else 'raw, then rolled up'}): "
              f"{wall:.0f} s wall, {points:,} points; {done}; peak RSS {usage.ru_maxrss / 1024:.0f} MB")
        return wall, points, usage.ru_maxrss / 1024
    finally:
        legacy.cleanup()
        own.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--days-list", help="comma-separated lengths to compare (overrides --days)")
    parser.add_argument("--resolution", type=int, default=60)
    parser.add_argument("--measurements", default="cpu/usage_rate,memory/working_set")
    parser.add_argument("--straight", action="store_true", help="a one-day raw retention: all hours go hourly")
    args = parser.parse_args()
    rows = []
    for days in [int(d) for d in args.days_list.split(",")] if args.days_list else [args.days]:
        rows.append((days, *run_once(args, days)))
    print("\n| days | points | wall s | points/s (wall) | peak RSS MB |\n| ---: | ---: | ---: | ---: | ---: |")
    for days, wall, points, rss in rows:
        print(f"| {days} | {points:,} | {wall:.0f} | {points / wall:,.0f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
