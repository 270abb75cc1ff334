"""Line-protocol serialisation: kubemon's writer beside influxdb-client's ``Point``.

    .venv/bin/python bench/bench_lineprotocol.py [--pods 10000] [--cycles 5] [--write]

Serialises realistic ``kubernetes_pod_container`` points (4 tags, the usage fields of a cycle)
and a minimal 4-field point like DESIGN §10's figure, on one core; prints lines/s and µs/line for
both. With ``--write`` it also times writing one cycle to a throw-away InfluxDB.
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from influxdb_client import Point as ReferencePoint  # noqa: E402
from influxdb_client.domain.write_precision import WritePrecision  # noqa: E402

from kubemon.timeseries import lineprotocol  # noqa: E402


def container_points(pods, stamp, rng):
    points = []
    for i in range(pods):
        tags = {"namespace": f"team-{i % 40}", "pod_name": f"worker-{i:05d}-7f9c6d5b8-x2k4q",
                "container_name": "app", "node_name": f"node-{i % 500:03d}"}
        interval = 15.0
        cpu = rng.uniform(1e6, 2e9)
        memory = float(rng.randrange(10_000_000, 4_000_000_000))
        fields = {
            "cpu_usage_nanocores": cpu, "cpu_usage_core_nanoseconds": rng.randrange(10**12),
            "cpu_core_seconds": cpu / 1e9 * interval, "memory_usage_bytes": memory * 1.2,
            "memory_working_set_bytes": memory, "memory_rss_bytes": memory * 0.9,
            "memory_page_faults": rng.randrange(10**6), "memory_major_page_faults": 0,
            "rootfs_used_bytes": 4096.0, "interval_seconds": interval,
            "resource_requests_millicpu_units": 250.0, "resource_requests_memory_bytes": 536870912.0,
            "resource_limits_millicpu_units": 1000.0, "resource_limits_memory_bytes": 1073741824.0,
            "resource_requests_gpu": 0.0, "restarts_total": 0,
            "cpu_usage_nanocores_integral": cpu * interval, "memory_working_set_bytes_integral": memory * interval,
        }
        points.append(("kubernetes_pod_container", tags, fields, stamp))
    return points


def small_points(pods, stamp, rng):
    """4 metrics per pod, 4 integer fields each: the shape of DESIGN §10's 0.6 µs/line figure."""
    points = []
    for i in range(pods):
        tags = {"namespace": f"team-{i % 40}", "pod_name": f"worker-{i:05d}"}
        for metric in ("cpu", "memory", "network", "fs"):
            points.append((f"bench_{metric}", tags, {"a": rng.randrange(10**9), "b": rng.randrange(10**6),
                                                      "c": rng.randrange(1000), "d": 1}, stamp))
    return points


def ours(points):
    return lineprotocol.to_lines(points)


def reference(points):
    lines = []
    for measurement, tags, fields, stamp in points:
        point = ReferencePoint(measurement)
        for key, value in tags.items():
            point.tag(key, value)
        for key, value in fields.items():
            point.field(key, value)
        point.time(stamp, WritePrecision.S)
        lines.append(point.to_line_protocol())
    return lines


def measure(function, points_per_cycle, cycles):
    """Best of ``cycles`` runs; each cycle has new values and the same series, as in production."""
    durations = []
    for points in points_per_cycle[:cycles]:
        started = time.perf_counter()
        function(points)
        durations.append(time.perf_counter() - started)
    best = min(durations)
    return len(points_per_cycle[0]) / best, best / len(points_per_cycle[0]) * 1e6, statistics.median(durations)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="also time a write to a throw-away InfluxDB")
    args = parser.parse_args()
    rng = random.Random(7)
    print(f"{args.pods} pods, best of {args.cycles} cycles, one core\n")
    print(f"{'shape':<34} {'writer':<16} {'lines/s':>12} {'µs/line':>9}")
    for shape, make in (("container usage (4 tags, 18 fields)", container_points),
                        ("4 metrics x 4 int fields", small_points)):
        cycles = [make(args.pods, 1_700_000_000 + 15 * c, rng) for c in range(args.cycles)]
        for name, function, count in (("kubemon", ours, args.cycles), ("influxdb-client", reference, 2)):
            rate, micros, _ = measure(function, cycles, count)
            print(f"{shape:<34} {name:<16} {rate:>12,.0f} {micros:>9.2f}")
    if args.write:
        from deploy.local.influxdb_server import InfluxServer
        from kubemon.timeseries import TimeseriesStore
        from kubemon.timeseries.client import InfluxClient

        server = InfluxServer().start()
        try:
            client = InfluxClient(server.url, "bench")
            client.ensure_database()
            store = TimeseriesStore(client)
            now = int(time.time())
            for shape, make in (("container usage", container_points), ("4 metrics x 4 int fields", small_points)):
                timings = []
                for c in range(3):
                    lines = ours(make(args.pods, now - 600 + 15 * c, rng))
                    started = time.perf_counter()
                    store.write_lines(lines)
                    timings.append(time.perf_counter() - started)
                print(f"\nwrite one cycle to InfluxDB ({shape}, {len(lines)} lines, batches of 5,000): "
                      f"best {min(timings) * 1000:.0f} ms, median {statistics.median(timings) * 1000:.0f} ms")
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
