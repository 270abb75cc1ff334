"""A month's statement for 200 namespaces: ``billing.statements.draft`` of the operator and of one tenant.

    .venv/bin/python bench/bench_statement.py [--namespaces 200] [--pods-per-namespace 5] [--days 30] [--runs 5]

Starts a throw-away InfluxDB and fills it as the collectors and the rollup task would: hourly
rollup points (every container field the allocation reads: usage, requests, max(request, usage),
working set, root filesystem; GPU points with a model for one namespace in ten; node points with
allocatable maxima) for ``--days`` whole days ending at the last midnight, then the namespace and
pod tiers. The statement's period is those days (a month's statement read as on the 1st).

"Cold" empties the day cache before each run (the first statement of a month after a restart);
"warm" repeats it. Each run computes everything: price periods, the allocation of every
namespace (and per node for idle), node capacity, the lines, their checksum, and stores them.

The database is a throw-away SQLite file unless ``DATABASE_URL`` is set (then a temporary
database on that server). Redis database 14 (or ``BENCH_REDIS_DB``) is flushed.
"""

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_api import build_namespace_tier, configure  # noqa: E402

CONTAINER, GPU, NODE = "kubernetes_pod_container", "gpu", "kubernetes_node"
SAMPLES = 240  # an hour of 15 s samples
H100 = "NVIDIA H100 80GB HBM3"


def container_hour(i, gpus):
    """One container's hour of identical samples, rolled up as ``collectors/rollup.py`` does."""
    from kubemon.timeseries.schema import INTEGRAL_FIELDS

    cpu, request = 50.0 + i % 200, 100.0
    memory, request_memory = 2.0**27 + i * 4096, 2.0**28
    values = {"cpu_usage_nanocores": cpu * 1e6, "memory_usage_bytes": memory, "memory_working_set_bytes": memory,
              "memory_rss_bytes": memory * 0.8, "rootfs_used_bytes": 1e8, "resource_requests_millicpu_units": request,
              "resource_requests_memory_bytes": request_memory, "resource_limits_millicpu_units": 500.0,
              "resource_limits_memory_bytes": 2.0**29, "resource_requests_gpu": float(gpus)}
    fields = {"interval_seconds": 3600.0, "cpu_core_seconds": cpu / 1000 * 3600,
              "cpu_allocated_core_seconds": max(cpu, request) / 1000 * 3600,
              "memory_allocated_byte_seconds": max(memory, request_memory) * 3600}
    for name in INTEGRAL_FIELDS[CONTAINER]:
        value = values[name]
        fields.update({f"{name}_integral": value * 3600, f"{name}_sum": value * SAMPLES, f"{name}_max": value,
                       f"{name}_samples": SAMPLES})
    return fields


def gpu_hour(utilization):
    fields = {"interval_seconds": 3600.0}
    for name, value in (("utilization_percent", utilization), ("memory_used_bytes", 4e10), ("power_watts", 400.0)):
        fields.update({f"{name}_integral": value * 3600, f"{name}_sum": value * SAMPLES, f"{name}_max": value,
                       f"{name}_samples": SAMPLES})
    return fields


def fill(store, namespaces, per_namespace, begin, end):
    from kubemon.timeseries import Point

    pods = [(f"team-{n:03d}", f"pod-{n:03d}-{k}", n * per_namespace + k)
            for n in range(namespaces) for k in range(per_namespace)]
    nodes = max(4, len(pods) // 20)
    written, batch, hour = 0, [], begin
    started = time.perf_counter()
    while hour < end:
        stamp = int(hour.timestamp())
        for namespace, pod, i in pods:
            gpus = 1 if i % (10 * per_namespace) == 0 else 0  # one pod of one namespace in ten holds a GPU
            node = f"node-{i % nodes:03d}"
            tags = {"namespace": namespace, "pod_name": pod, "container_name": "app", "node_name": node}
            batch.append(Point(CONTAINER, tags, container_hour(i, gpus), stamp))
            if gpus:
                batch.append(Point(GPU, {"node_name": node, "gpu": "0", "uuid": f"GPU-{i}", "model_name": H100,
                                         "namespace": namespace, "pod_name": pod, "container_name": "app"},
                                   gpu_hour(60.0), stamp))
        for n in range(nodes):
            batch.append(Point(NODE, {"node_name": f"node-{n:03d}"},
                               {"interval_seconds": 3600.0, "allocatable_millicpu_cores_max": 16000,
                                "allocatable_memory_bytes_max": 64 * 2**30, "allocatable_gpu_max": 1.0}, stamp))
        if len(batch) >= 50_000:
            written += store.write(batch, policy="hourly").written
            batch = []
        hour += timedelta(hours=1)
    written += store.write(batch, policy="hourly").written
    return written, len(pods), nodes, time.perf_counter() - started


def time_drafts(tenant, begin, end, runs, cold):
    from billing.statements import Context, draft
    from metrics import daycache

    durations, statement = [], None
    for _ in range(runs):
        if cold:
            daycache.clear()
        started = time.perf_counter()
        statement = draft(tenant, begin, end, ctx=Context())
        durations.append(time.perf_counter() - started)
    return durations, statement


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--pods-per-namespace", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import os

    from deploy.local.influxdb_server import InfluxServer

    # Building the tiers of a month is one long statement per two days: on a loaded machine it
    # outlasts the default 10 s timeout (the rollup task builds them a few hours at a time).
    os.environ.setdefault("INFLUXDB_TIMEOUT", "300")
    influx = InfluxServer().start()
    workdir = tempfile.mkdtemp(prefix="kubemon-bench-statement-")
    connection = None
    try:
        connection = configure(influx.url, workdir, args.days)
        from django.conf import settings

        from billing.models import PriceList, Tenant
        from kubemon.redis import get_redis
        from kubemon.timeseries import get_store

        get_redis().flushdb()
        store = get_store()
        store.ensure_database(settings.INFLUXDB_RAW_RETENTION, settings.INFLUXDB_HOURLY_RETENTION)
        now = datetime.now(UTC)
        end = now.replace(hour=0, minute=0, second=0, microsecond=0)
        begin = end - timedelta(days=args.days)
        points, pods, nodes, seconds = fill(store, args.namespaces, args.pods_per_namespace, begin, end)
        print(f"wrote {points:,} hourly points ({pods} pods, {args.namespaces} namespaces, {nodes} nodes, "
              f"{args.days} days) in {seconds:.1f} s")
        _, seconds = build_namespace_tier(begin + timedelta(days=1), now)
        print(f"namespace and pod tiers in {seconds:.1f} s")
        PriceList.objects.create(name="bench", currency="EUR", effective_start=begin - timedelta(days=1),
                                 cpu_core_hour="0.031", memory_gib_hour="0.0042", gpu_hour="1.10",
                                 gpu_model_rates={H100: "4.10"})
        tenant = Tenant.objects.create(name="Team 000", slug="team-000")
        for n in range(0, args.namespaces, 10):
            tenant.assign(f"team-{n:03d}")
        print(f"\n| statement, {args.days} days | lines | runs | median | p95 | max |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for label, who in (("operator (every namespace, idle)", None), (f"tenant ({len(tenant.namespaces())} ns)",
                                                                         tenant)):
            for cold in (True, False):
                durations, statement = time_drafts(who, begin, end, args.runs, cold)
                ordered = sorted(durations)
                p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
                median, peak = statistics.median(durations) * 1e3, max(durations) * 1e3
                print(f"| {label}, {'cold' if cold else 'warm'} | {statement.lines.count()} | {len(durations)} | "
                      f"{median:.0f} ms | {p95 * 1e3:.0f} ms | {peak:.0f} ms |")
        # The peer, in the same run on the same data: one metric's month by namespace (the
        # metric API's question), so the rows above can be compared whatever the machine's speed.
        durations = time_peer(begin, end, args.runs)
        ordered = sorted(durations)
        p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
        print(f"| peer: metrics.engine.aggregate cpu/usage_rate by namespace, same month, warm | "
              f"{args.namespaces} groups | {len(durations)} | {statistics.median(durations) * 1e3:.0f} ms | "
              f"{p95 * 1e3:.0f} ms | {max(durations) * 1e3:.0f} ms |")
    finally:
        if connection is not None:
            connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
        influx.stop()


def time_peer(begin, end, runs):
    from billing.access import AccessScope
    from metrics.catalogue import METRICS
    from metrics.engine import Selection, aggregate
    from metrics.window import Window

    window, selection = Window(begin, end), Selection.for_scope(AccessScope.all_namespaces())
    aggregate(METRICS["cpu/usage_rate"], window, ("namespace",), selection)
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        aggregate(METRICS["cpu/usage_rate"], window, ("namespace",), selection)
        durations.append(time.perf_counter() - started)
    return durations


if __name__ == "__main__":
    main()
