"""``GET /api/allocation?window=30d&aggregate=namespace`` at 1,000 pods, beside the metric API's month.

    .venv/bin/python bench/bench_allocation.py [--pods 1000] [--days 30] [--namespaces 50] [--requests 40]
                                               [--only TEXT]

The data set of ``bench/bench_api.py``, filled by its own ``fill`` (the same pods, namespaces,
nodes and hours: hourly rollup points for every finished hour of the last ``--days`` + 1 days,
raw 15 s samples for the first hour and the last two, the usage cycles' running sums, then the
namespace and pod tiers), with every container field the allocation reads rather than the CPU
and memory fields the metric API's case needs: requests, max(request, usage) per sample, working
set, root filesystem. A default price list prices it.

Requests go through the whole Django stack in-process (routing, header authentication, the
price lists in PostgreSQL, every allocation question to InfluxDB, OpenCost's JSON). "Cold" empties
the day cache before each request; "warm" repeats the same one. The peer row is bench_api's
``POST /api/cpu/usage_rate`` ``agg=all-namespace`` over the same window, in the same run.

The database is a throw-away SQLite file unless ``DATABASE_URL`` is set (then a temporary
database on that server, dropped at the end). Redis database 14 (or ``BENCH_REDIS_DB``) is flushed.
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench_api  # noqa: E402
from bench_api import INTERVAL, build_namespace_tier, configure, fill, percentiles, time_requests  # noqa: E402

SAMPLES = 3600 // INTERVAL


# The gauges the allocation reads (usage, requests, working set, root filesystem) and the metric
# API's memory: fields no question reads (RSS, limits) are left out to keep the fill short.
READ_FIELDS = ("cpu_usage_nanocores", "memory_usage_bytes", "memory_working_set_bytes", "rootfs_used_bytes",
               "resource_requests_millicpu_units", "resource_requests_memory_bytes")


def _values(cpu_millicores, memory):
    return {"cpu_usage_nanocores": cpu_millicores * 1e6, "memory_usage_bytes": memory,
            "memory_working_set_bytes": memory * 0.9, "rootfs_used_bytes": 1e8,
            "resource_requests_millicpu_units": 100.0, "resource_requests_memory_bytes": 2.0**27 + 2.0**26}


def allocation_hour(cpu_millicores, memory):
    """bench_api's hour of 240 identical samples, rolled up, with every field the allocation reads."""
    values = _values(cpu_millicores, memory)
    fields = {"interval_seconds": float(INTERVAL * SAMPLES), "cpu_core_seconds": cpu_millicores / 1000 * 3600,
              "cpu_allocated_core_seconds": max(cpu_millicores, 100.0) / 1000 * 3600,
              "memory_allocated_byte_seconds": max(values["memory_working_set_bytes"],
                                                   values["resource_requests_memory_bytes"]) * 3600}
    for name in READ_FIELDS:
        value = values[name]
        fields.update({f"{name}_integral": value * 3600, f"{name}_sum": value * SAMPLES, f"{name}_max": value,
                       f"{name}_samples": SAMPLES})
    return fields


def allocation_sample(cpu_millicores, memory):
    """One raw 15 s sample with its per-sample integrals, as the usage collector writes it."""
    fields = dict(_values(cpu_millicores, memory))
    fields.update({"interval_seconds": float(INTERVAL), "cpu_core_seconds": cpu_millicores / 1000 * INTERVAL,
                   "cpu_allocated_core_seconds": max(cpu_millicores, 100.0) / 1000 * INTERVAL,
                   "memory_allocated_byte_seconds": max(fields["memory_working_set_bytes"],
                                                        fields["resource_requests_memory_bytes"]) * INTERVAL})
    for name in READ_FIELDS:
        fields[name + "_integral"] = fields[name] * INTERVAL
    return fields


def time_allocation(client, headers, params, count, cold=False):
    from metrics import daycache

    durations, data = [], None
    for _ in range(count + 3):
        if cold:
            daycache.clear()
        started = time.perf_counter()
        response = client.get("/api/allocation", params, **headers)
        durations.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content[:300]
        data = response.json()["data"]
    return durations[3:], data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--only", default="", help="run the cases whose label contains this text")
    args = parser.parse_args()

    from deploy.local.influxdb_server import InfluxServer

    influx = InfluxServer().start()
    workdir = tempfile.mkdtemp(prefix="kubemon-bench-allocation-")
    connection = None
    try:
        # Batches of 50,000 points of some 30 fields each take longer than the default 10 s on a busy machine.
        os.environ.setdefault("INFLUXDB_TIMEOUT", "120")
        connection = configure(influx.url, workdir, args.days)
        from django.conf import settings
        from django.test import Client

        from billing.models import ApiCredential, PriceList, Tenant
        from kubemon.redis import get_redis
        from kubemon.timeseries import get_store

        get_redis().flushdb()
        store = get_store()
        store.ensure_database(settings.INFLUXDB_RAW_RETENTION, settings.INFLUXDB_HOURLY_RETENTION)
        now = datetime.now(UTC)
        # bench_api's fill, writing the allocation's fields in its points.
        bench_api.hourly_fields, bench_api.raw_fields = allocation_hour, allocation_sample
        hourly, raw, seconds, first_hour = fill(store, args.pods, args.days, args.namespaces, now, 0)
        print(f"wrote {hourly:,} hourly and {raw:,} raw points in {seconds:.1f} s")
        tier, seconds = build_namespace_tier(first_hour, now)
        print(f"namespace tier: {tier:,} points from the hourly rollup in {seconds:.1f} s (and the pod tier)")

        PriceList.objects.create(name="standard", currency="EUR", effective_start=first_hour - timedelta(days=2),
                                 cpu_core_hour="0.031", memory_gib_hour="0.004", gpu_hour="1.50",
                                 storage_gib_month="0.10")
        _, secret = ApiCredential.generate("bench-global")
        global_headers = {"HTTP_X_USERNAME": "bench-global", "HTTP_X_PASSWORD": secret}
        tenant = Tenant.objects.create(name="Team 000", slug="team-000")
        tenant.assign("team-000")
        _, tenant_secret = ApiCredential.generate("bench-tenant", tenant=tenant)
        tenant_headers = {"HTTP_X_USERNAME": "bench-tenant", "HTTP_X_PASSWORD": tenant_secret}
        client = Client()
        days = args.days
        window = f"{days}d"
        cases = [
            (f"allocation window={window} aggregate=namespace, cold", global_headers,
             {"window": window, "aggregate": "namespace"}, args.namespaces, True),
            (f"allocation window={window} aggregate=namespace, warm", global_headers,
             {"window": window, "aggregate": "namespace"}, args.namespaces, False),
            (f"allocation window={window} aggregate=namespace (tenant), warm", tenant_headers,
             {"window": window, "aggregate": "namespace"}, 1, False),
            (f"allocation window={window} aggregate=tenant, warm", global_headers,
             {"window": window, "aggregate": "tenant"}, 2, False),
            (f"allocation window={window} aggregate=pod, warm", global_headers,
             {"window": window, "aggregate": "pod"}, args.pods, False),
            (f"allocation window={window} aggregate=namespace step=1d ({days} sets), warm", global_headers,
             {"window": window, "aggregate": "namespace", "step": "1d"}, args.namespaces, False),
        ]
        print(f"\n{args.pods} pods in {args.namespaces} namespaces, {args.requests} requests each (after 3 warm-up)")
        print("| query | rows | p50 ms | p95 ms |\n| --- | ---: | ---: | ---: |")
        answers = {}
        for label, headers, params, expected, cold in cases:
            if args.only and args.only not in label:
                continue
            count = max(args.requests // 4, 5) if "step=" in label else args.requests
            durations, data = time_allocation(client, headers, params, count, cold=cold)
            assert len(data[-1]) == expected, (label, len(data[-1]))
            answers[label] = data
            p50, p95 = percentiles(durations)
            print(f"| {label} | {len(data[-1])} | {p50 * 1000:.1f} | {p95 * 1000:.1f} |")
        # The peer: the metric API's month by namespace over the same window, through the same stack.
        from api.opencost import parse_window

        same = parse_window(window, now)
        body = {"agg": "all-namespace", "timeBeginInterval": same.begin.isoformat(),
                "timeEndInterval": same.end.isoformat(), "excludeNamespaces": []}
        if not args.only or "usage_rate" in args.only:
            durations, rows = time_requests(client, global_headers, body, "cpu/usage_rate", args.requests)
            p50, p95 = percentiles(durations)
            print(f"| peer: POST /api/cpu/usage_rate agg=all-namespace, same window, warm | {len(rows)} | "
                  f"{p50 * 1000:.1f} | {p95 * 1000:.1f} |")
        # Check the answer as well as the speed: team-000's core-hours under max(request, usage).
        label = f"allocation window={window} aggregate=namespace, warm"
        if label in answers:
            row = answers[label][0]["team-000"]
            # The samples end where the fill ended (``now``); the requests' windows end later.
            hours = (now - datetime.fromisoformat(row["start"].replace("Z", "+00:00"))).total_seconds() / 3600
            expected = sum(max(50.0 + i % 200, 100.0) / 1000 for i in range(0, args.pods, args.namespaces)) * hours
            print(f"\nteam-000: {row['cpuCoreHours']:.3f} core-hours over {hours:.2f} h of samples "
                  f"(written: {expected:.3f}; "
                  f"relative difference {abs(row['cpuCoreHours'] - expected) / expected:.1e}), "
                  f"cpuCost {row['cpuCost']:.4f} EUR")
    finally:
        if connection is not None:
            connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
        influx.cleanup()


if __name__ == "__main__":
    main()
