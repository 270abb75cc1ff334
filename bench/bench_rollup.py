"""The rollup task's costs: one hour's rollup, the late-data audit, re-rolling late hours.

    .venv/bin/python bench/bench_rollup.py [--pods 200] [--days 2]

Starts a throw-away InfluxDB, writes ``--days`` days of raw 15 s samples for ``--pods`` pods the
way the usage collector does (kubemon's fields, Telegraf's integer types), rolls them up, then
times, three times each (best and median): the rollup of one hour (what the 5-minute task does
for each of its three hours), ``audit_rollup`` over the days (the hourly comparison of raw and
rollup counts), re-rolling 24 late hours, and, as the peer, InfluxDB's own scan of the same raw
span: ``count()`` of one field grouped by hour, the least any audit could read.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchutil import bench_redis_url  # noqa: E402

sys.path.insert(0, str(ROOT))


def timed(function, repeat=3):
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return min(seconds), statistics.median(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--days", type=int, default=2)
    args = parser.parse_args()

    from deploy.local.influxdb_server import InfluxServer

    influx = InfluxServer().start()
    workdir = tempfile.mkdtemp(prefix="kubemon-bench-rollup-")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "kubemon.settings", "SECRET_KEY": "kubemon-bench-only",
                       "INFLUXDB_URL": influx.url, "INFLUXDB_DATABASE": "kubemon_bench", "INFLUXDB_SPOOL": "none",
                       "INFLUXDB_TIMEOUT": "120",  # the first rollup of the whole span is one long statement
                       "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3", "LOG_LEVEL": "WARNING",
                       "REDIS_URL": bench_redis_url()})
    try:
        import django

        django.setup()
        from collectors.rollup import audit_rollup, reroll_late_hours, rollup_window
        from kubemon.redis import get_redis
        from kubemon.timeseries import Point, get_store
        from tests.support.base import container_fields

        get_redis().flushdb()
        store = get_store()
        store.ensure_database("40d", "400d")
        now = datetime.now(UTC)
        end = now.replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=args.days)
        started = time.perf_counter()
        written, t, batch = 0, int(start.timestamp()), []
        while t < int(end.timestamp()):
            for i in range(args.pods):
                tags = {"namespace": f"team-{i % 50:03d}", "pod_name": f"pod-{i:05d}", "container_name": "app",
                        "node_name": f"node-{i % 20:02d}"}
                batch.append(Point("kubernetes_pod_container", tags, container_fields(50.0 + i % 200, 2**27 + i), t))
            t += 15
            if len(batch) >= 50_000:
                written += store.write(batch).written
                batch = []
        written += store.write(batch).written
        print(f"wrote {written:,} raw points ({args.pods} pods, {args.days} days) in "
              f"{time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        for hour in range(args.days * 24):
            rollup_window(start + timedelta(hours=hour), start + timedelta(hours=hour + 1), store=store)
        print(f"first rollup of {args.days * 24} hours: {time.perf_counter() - started:.1f} s")

        hour = end - timedelta(hours=5)
        rows = [("rollup of one hour", lambda: rollup_window(hour, hour + timedelta(hours=1), store=store))]
        late = [end - timedelta(hours=h) for h in range(4, 28)]
        rows.append(("re-roll 24 late hours", lambda: (store.backlog.mark(late), reroll_late_hours(store))))
        rows.append((f"audit, {args.days} days", lambda: audit_rollup(now, days=args.days, store=store)))
        params = {"start": int(start.timestamp()) * 10**9, "end": int(end.timestamp()) * 10**9}
        scan = ('SELECT count("cpu_usage_nanocores") FROM "kubemon_bench"."raw"."kubernetes_pod_container" '
                "WHERE time >= $start AND time < $end GROUP BY time(1h) fill(none)")
        rows.append((f"peer: InfluxDB raw count scan, {args.days} days",
                     lambda: store.query(scan, params=params, epoch="s")))
        print("\n| step | best s | median s |\n| --- | ---: | ---: |")
        for label, function in rows:
            best, median = timed(function)
            print(f"| {label} | {best:.2f} | {median:.2f} |")
        found = audit_rollup(now, days=args.days, store=store)
        print(f"\nthe audit found {len(found)} late hours in a complete rollup (expected 0)")
    finally:
        influx.cleanup()


if __name__ == "__main__":
    main()
