"""``POST /api/cpu/usage_rate`` with ``agg=all-namespace`` over 1 hour and 30 days, and the cost of auth.

    .venv/bin/python bench/bench_api.py [--pods 1000] [--days 30] [--namespaces 50] [--requests 40] [--only TEXT]

Starts a throw-away InfluxDB and fills it like the collectors and the rollup task would: hourly
rollup points (the layout of ``kubemon/timeseries/schema.py``) for every pod and every finished
hour of the last ``--days`` + 1 days, and raw 15 s samples for the first hour and the last two
(older raw data is not read by these queries: the rollup covers it).
"Cold" cases empty the day cache (metrics/daycache.py) before each request; "warm" ones
repeat the same request. Then it sends requests through the whole
Django stack in-process (URL routing, header authentication, validation, InfluxDB over HTTP on
loopback, JSON rendering) and prints p50/p95. Authentication is timed on its own, including the
failed-attempt throttle's Redis read and the credential's database read.

The database is a throw-away SQLite file unless ``DATABASE_URL`` is set, in which case a
temporary database is created on that server (PostgreSQL in CI) and dropped at the end. Redis
database 14 (or `BENCH_REDIS_DB`) is used (flushed).
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

CONTAINER = "kubernetes_pod_container"
INTERVAL = 15


def configure(influx_url, workdir, days=30):
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "kubemon.settings",
        "SECRET_KEY": "kubemon-bench-only",
        "INFLUXDB_URL": influx_url,
        "INFLUXDB_DATABASE": "kubemon_bench",
        "INFLUXDB_SPOOL": "none",
        # Raw samples of the window's first hour are --days old: keep them past the default retention.
        "INFLUXDB_RAW_RETENTION": f"{days + 10}d",
        # ... and pod detail for the whole window (shipped: 90 days), so a tenant's pods over a year
        # can be asked; per-namespace questions read the namespace tiers either way.
        "INFLUXDB_HOURLY_RETENTION": f"{max(days + 10, 90)}d",
        "REDIS_URL": bench_redis_url(),
        "LOG_LEVEL": "WARNING",
    })
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    # A database of the benchmark's own (a file in its work folder for SQLite, never the repo root).
    test_name = f"kubemon_bench_{os.getpid()}"
    if connection.vendor == "sqlite":
        test_name = os.path.join(workdir, "test.sqlite3")
    connection.settings_dict.setdefault("TEST", {})["NAME"] = test_name
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    return connection


def pod_names(pods, namespaces):
    return [(f"team-{i % namespaces:03d}", f"pod-{i:05d}") for i in range(pods)]


def hourly_fields(cpu_millicores, memory):
    """One hour of 240 identical samples, rolled up (the fields the CPU and memory queries read)."""
    samples = 3600 // INTERVAL
    fields = {"interval_seconds": float(INTERVAL * samples), "cpu_core_seconds": cpu_millicores / 1000 * 3600}
    for name, value in (("cpu_usage_nanocores", cpu_millicores * 1e6), ("memory_usage_bytes", memory)):
        fields.update({f"{name}_integral": value * 3600, f"{name}_sum": value * samples, f"{name}_max": value,
                       f"{name}_samples": samples})
    return fields


def with_heads(hourly, sample):
    """``hourly`` with the hour's heads (kubemon/timeseries/heads.py), as the rollup sums them from
    the raw samples: each hour's first sample lies on the hour and stands wholly for the 15 s before it."""
    from kubemon.timeseries.heads import HEAD_FIELDS, HEAD_SUFFIX

    return {**hourly, **{name + HEAD_SUFFIX: sample[name] for name in HEAD_FIELDS[CONTAINER] if name in sample}}


def raw_fields(cpu_millicores, memory):
    return {"cpu_usage_nanocores": cpu_millicores * 1e6,
            "cpu_usage_nanocores_integral": cpu_millicores * 1e6 * INTERVAL,
            "cpu_core_seconds": cpu_millicores / 1000 * INTERVAL, "memory_usage_bytes": memory,
            "memory_usage_bytes_integral": memory * INTERVAL, "interval_seconds": float(INTERVAL)}


def fill(store, pods, days, namespaces, now, legacy_hours):
    from kubemon.timeseries import Point

    names = pod_names(pods, namespaces)
    first_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=days)
    # The rollup task keeps every finished hour rolled up (it recomputes the last ones every 5 min).
    last_whole = now.replace(minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    hourly = 0
    batch = []
    # Every hour of a pod is the same: its fields once per pod.
    per_pod = [with_heads(hourly_fields(50.0 + i % 200, 2.0**27 + i), raw_fields(50.0 + i % 200, 2.0**27 + i))
               for i in range(len(names))]
    hour = first_hour - timedelta(days=1)  # a day more, for the calendar-aligned window
    while hour < last_whole:
        stamp = int(hour.timestamp())
        for i, (ns, pod) in enumerate(names):
            tags = {"namespace": ns, "pod_name": pod, "container_name": "app", "node_name": f"node-{i % 50:02d}"}
            batch.append(Point(CONTAINER, tags, per_pod[i], stamp))
        if len(batch) >= 50_000:
            hourly += store.write(batch, policy="hourly").written
            batch = []
        hour += timedelta(hours=1)
    hourly += store.write(batch, policy="hourly").written
    # Raw samples: the first hour (ragged edge of a window starting inside it) and the recent ones,
    # and ``legacy_hours`` more for the legacy system's raw scan.
    raw = 0
    spans = [(first_hour, first_hour + timedelta(hours=1 + legacy_hours)), (last_whole - timedelta(hours=1), now)]
    for n, (begin, end) in enumerate(spans):
        batch = []
        t = int(begin.timestamp())
        while t < int(end.timestamp()):
            cycle = []
            for i, (ns, pod) in enumerate(names):
                tags = {"namespace": ns, "pod_name": pod, "container_name": "app", "node_name": f"node-{i % 50:02d}"}
                cycle.append(Point(CONTAINER, tags, raw_fields(50.0 + i % 200, 2.0**27 + i), t))
            if n == 1:  # the recent hours: the usage cycles' running sums too (kubemon/openhour.py)
                save_running_sums(cycle, t)
            batch += cycle
            t += INTERVAL
            if len(batch) >= 50_000:
                raw += store.write(batch).written
                batch = []
        raw += store.write(batch).written
    return hourly, raw, time.perf_counter() - started, first_hour


def save_running_sums(points, slot):
    from kubemon.openhour import OpenHourSums
    from kubemon.redis import get_redis

    redis = get_redis()
    sums = OpenHourSums()
    sums.add(points)
    pipe = redis.pipeline(transaction=True)
    sums.save(redis, pipe, slot, slot - INTERVAL, INTERVAL)
    pipe.execute()


def build_namespace_tier(first_hour, now):
    """What the rollup task does: the namespace and pod tiers from the hourly rollup, and their markers."""
    from collectors.rollup import roll_namespaces
    from collectors.tiers import fill_pod_tier
    from kubemon.redis import get_redis
    from kubemon.timeseries.heads import set_heads_since
    from kubemon.timeseries.tiers import set_namespace_tier_since

    started = time.perf_counter()
    begin = first_hour - timedelta(days=1)
    end, written = now.replace(minute=0, second=0, microsecond=0), 0
    day = begin
    while day < end:  # two days per statement, as collectors.tiers fills it
        written += roll_namespaces(day, min(day + timedelta(days=2), end))
        day += timedelta(days=2)
    set_namespace_tier_since(get_redis(), begin)
    # The rollup task's marker: the hourly points carry their samples' heads from then on.
    set_heads_since(get_redis(), begin)
    # The pod tier's filling, run after run until it reaches the oldest hourly data.
    for _ in range(100):
        if fill_pod_tier(get_redis(), now, days=60)[0] <= begin:
            break
    return written, time.perf_counter() - started


def time_legacy(store, first_hour, hours, count):
    """The legacy system's way: ``sum(value)`` over every raw sample of the window, by namespace
    (``../shared/reference/prior-systems.md`` §1), over ``hours`` of raw data."""
    statement = ('SELECT sum("cpu_usage_nanocores") FROM "raw"."kubernetes_pod_container" '
                 'WHERE time >= $b AND time < $e GROUP BY "namespace"')
    params = {"b": int(first_hour.timestamp()) * 10**9,
              "e": int((first_hour + timedelta(hours=hours)).timestamp()) * 10**9}
    durations = []
    for _ in range(count + 1):
        started = time.perf_counter()
        series = store.query(statement, params=params)
        durations.append(time.perf_counter() - started)
    return durations[1:], len(series)


def percentiles(samples):
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def time_requests(client, headers, body, metric, count, cold=False):
    import json

    from metrics import daycache

    payload = json.dumps(body)
    durations = []
    rows = None
    for _ in range(count + 3):
        if cold:
            daycache.clear()
        started = time.perf_counter()
        response = client.generic("POST", f"/api/{metric}", payload, content_type="application/json", **headers)
        durations.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content[:300]
        rows = response.json()
    return durations[3:], rows


def time_auth(headers, count):
    from django.test import RequestFactory

    from api.authentication import HeaderCredentialAuthentication

    auth = HeaderCredentialAuthentication()
    request = RequestFactory().post("/api/cpu/usage_rate", **headers)
    durations = []
    for _ in range(count + 50):
        started = time.perf_counter()
        auth.authenticate(request)
        durations.append(time.perf_counter() - started)
    return durations[50:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--only", default="", help="run the cases whose label contains this text")
    parser.add_argument("--legacy-hours", type=int, default=24,
                        help="hours of raw samples the legacy row scans (its 30-day figure is scaled from them)")
    args = parser.parse_args()

    from deploy.local.influxdb_server import InfluxServer

    # Building the tiers is one long statement per two days: on a loaded machine it outlasts
    # the default 10 s timeout (bench_allocation and bench_statement do the same).
    os.environ.setdefault("INFLUXDB_TIMEOUT", "120")
    influx = InfluxServer().start()
    workdir = tempfile.mkdtemp(prefix="kubemon-bench-api-")
    connection = None
    try:
        connection = configure(influx.url, workdir, args.days)
        from django.test import Client

        from billing.models import ApiCredential, Tenant
        from kubemon.redis import get_redis
        from kubemon.timeseries import get_store

        get_redis().flushdb()
        store = get_store()
        from django.conf import settings

        store.ensure_database(settings.INFLUXDB_RAW_RETENTION, settings.INFLUXDB_HOURLY_RETENTION)
        now = datetime.now(UTC)
        hourly, raw, seconds, first_hour = fill(store, args.pods, args.days, args.namespaces, now, args.legacy_hours)
        print(f"wrote {hourly:,} hourly and {raw:,} raw points in {seconds:.1f} s")
        tier, seconds = build_namespace_tier(first_hour, now)
        print(f"namespace tier: {tier:,} points from the hourly rollup in {seconds:.1f} s (and the pod tier)")

        _, secret = ApiCredential.generate("bench-global")
        global_headers = {"HTTP_X_USERNAME": "bench-global", "HTTP_X_PASSWORD": secret}
        tenant = Tenant.objects.create(name="Team 000", slug="team-000")
        tenant.assign("team-000")
        _, tenant_secret = ApiCredential.generate("bench-tenant", tenant=tenant)
        tenant_headers = {"HTTP_X_USERNAME": "bench-tenant", "HTTP_X_PASSWORD": tenant_secret}
        client = Client()
        days = args.days
        to_now = {"timeBeginInterval": first_hour.isoformat(), "timeEndInterval": now.isoformat()}
        ragged = {"timeBeginInterval": (first_hour + timedelta(minutes=20)).isoformat(),
                  "timeEndInterval": now.isoformat()}
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        calendar = {"timeBeginInterval": (midnight - timedelta(days=days)).strftime("%Y-%m-%d"),
                    "timeEndInterval": midnight.strftime("%Y-%m-%d")}
        ns_rows, pod_rows = args.namespaces, args.pods
        one_ns = {"agg": "pod-by-namespace", "namespace": "team-000"}
        cases = [
            ("all-namespace, last 1 hour (raw data)", global_headers, {"agg": "all-namespace"}, ns_rows, False),
            (f"all-namespace, {days} days to now, cold", global_headers, {"agg": "all-namespace", **to_now},
             ns_rows, True),
            (f"all-namespace, {days} days to now, warm", global_headers, {"agg": "all-namespace", **to_now},
             ns_rows, False),
            (f"all-namespace, {days} days to now, begin at :20, warm", global_headers,
             {"agg": "all-namespace", **ragged}, ns_rows, False),
            (f"all-namespace, {days} whole days to midnight, cold", global_headers,
             {"agg": "all-namespace", **calendar}, ns_rows, True),
            (f"all-namespace, {days} whole days to midnight, warm", global_headers,
             {"agg": "all-namespace", **calendar}, ns_rows, False),
            (f"pod-by-namespace (tenant), {days} days to now, cold", tenant_headers, {**one_ns, **to_now},
             pod_rows // ns_rows, True),
            (f"pod-by-namespace (tenant), {days} days to now, warm", tenant_headers, {**one_ns, **to_now},
             pod_rows // ns_rows, False),
            (f"all-pod, {days} days to now, cold", global_headers, {"agg": "all-pod", **to_now}, pod_rows, True),
            (f"all-pod, {days} days to now, warm", global_headers, {"agg": "all-pod", **to_now}, pod_rows, False),
        ]
        month = ragged
        print(f"\n{args.pods} pods in {args.namespaces} namespaces, {args.requests} requests each (after 3 warm-up)")
        print("| query | rows | p50 ms | p95 ms |\n| --- | ---: | ---: | ---: |")
        for label, headers, body, expected_rows, cold in cases:
            if args.only and args.only not in label:
                continue
            durations, rows = time_requests(client, headers, body, "cpu/usage_rate", args.requests, cold=cold)
            assert len(rows) == expected_rows, (label, len(rows))
            p50, p95 = percentiles(durations)
            print(f"| {label} | {len(rows)} | {p50 * 1000:.1f} | {p95 * 1000:.1f} |")
        if not args.only or "legacy" in args.only:
            durations, groups = time_legacy(store, first_hour, args.legacy_hours, 5)
            p50, p95 = percentiles(durations)
            scale = days * 24 / args.legacy_hours
            print(f"| legacy: sum(value) over raw data by namespace, {args.legacy_hours} h | {groups} | "
                  f"{p50 * 1000:.1f} | {p95 * 1000:.1f} |")
            print(f"| legacy: the same over {days} days (scaled ×{scale:g}: a raw scan is linear in samples) | "
                  f"{groups} | {p50 * scale * 1000:.0f} | {p95 * scale * 1000:.0f} |")
        # Check the answer as well as the speed: mean millicores of the first namespace over the month.
        expected_mean = sum(50.0 + i % 200 for i in range(0, args.pods, args.namespaces))
        _, rows = time_requests(client, global_headers, {"agg": "all-namespace", **month}, "cpu/usage_rate", 1)
        got = rows[0]["integral"] / (now - first_hour - timedelta(minutes=20)).total_seconds()
        # The last raw sample stands for the 15 s after it, which may run past "now": a few ppm at most.
        print(f"\nteam-000 mean over the window: {got:.3f} millicores (written: {expected_mean:.3f}, "
              f"relative difference {abs(got - expected_mean) / expected_mean:.1e})")

        durations = time_auth(global_headers, 2000)
        p50, p95 = percentiles(durations)
        print(f"\nheader authentication ({connection.vendor}): p50 {p50 * 1e6:.0f} µs, p95 {p95 * 1e6:.0f} µs, "
              f"mean {statistics.mean(durations) * 1e6:.0f} µs per request")
    finally:
        if connection is not None:
            connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
        influx.cleanup()


if __name__ == "__main__":
    main()
