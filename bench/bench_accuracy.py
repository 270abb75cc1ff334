"""Accuracy against the simulator's truth (issue 15, "Done when"): hours of a churning cluster.

    set -a; source .run/env; set +a
    .venv/bin/python bench/bench_accuracy.py --hours 6 [--seed 7] [--nodes 5] [--pods 60]
        [--gap-at MINUTES] [--json results.json] [--redis-db 12]

Starts a throw-away InfluxDB and a simulated cluster on a manual clock with 5 s steps (crash loops,
restarts, rolling updates and jobs between the samples), collects it every 15 s of simulated time
as the beat schedule does (tests/support/accuracy.py), then compares every namespace's CPU
core-hours, memory GiB-hours and GPU-hours, over the whole window and per hour, from raw data and
from the hourly rollup (the API's read path), with ``/sim/truth``. Uses Redis database
``--redis-db`` (flushed before and after).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=6, help="whole simulated hours compared (default 6)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--pods", type=int, default=60)
    parser.add_argument("--gpu-nodes", type=int, default=1)
    parser.add_argument("--jetson-nodes", type=int, default=1)
    parser.add_argument("--step", type=int, default=5, help="simulator step, seconds (default 5)")
    parser.add_argument("--gap-at", type=float, default=None, metavar="MINUTES",
                        help="skip every cycle for 60 simulated seconds this many minutes into the window")
    parser.add_argument("--begin-hour", type=int, default=2, metavar="H",
                        help="UTC hour of day the window begins at, for comparable runs (default 2; -1: latest)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write every figure as JSON here")
    parser.add_argument("--redis-db", type=int, default=12)
    return parser.parse_args()


def setup(args, influx_url, workdir):
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + f"/{args.redis_db}"
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "kubemon.settings", "SECRET_KEY": "kubemon-bench-only",
        "INFLUXDB_URL": influx_url, "INFLUXDB_DATABASE": "kubemon_accuracy", "INFLUXDB_TIMEOUT": "120",
        "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3", "LOG_LEVEL": "ERROR",
    })
    import django

    django.setup()


def progress(started, times):
    def report(t, timings):
        done = (t - times.start) / 3600
        print(f"  {done:4.1f} simulated h collected in {time.perf_counter() - started:6.1f} s wall "
              f"({timings.collections} collections, {len(timings.failures)} failed cycles)", flush=True)
    return report


def code_state():
    """The commit measured, and the production files that differed from it (others may be editing)."""
    def git(*args):
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    changed = git("status", "--short", "--", "collectors", "metrics", "kubemon", "simcluster", "api")
    return {"commit": git("rev-parse", "--short", "HEAD") or "unknown (not a git checkout)",
            "uncommitted": changed.splitlines()}


def print_report(result, load):
    from tests.support import accuracy

    s, t = result["scenario"], result["timings"]
    print(f"\naccuracy against /sim/truth: {s['hours']} simulated h, seed {s['seed']}, {s['nodes']} nodes, "
          f"{s['pods']} pods ({s['gpu_nodes']} GPU, {s['jetson_nodes']} Jetson), simulator step {s['step']} s, "
          f"samples every {accuracy.CADENCE} s" + (f", 60 s gap at minute {s['gap_at']:g}" if s["gap_at"] else ""))
    print(f"window {accuracy.iso(result['times']['begin'])} → {accuracy.iso(result['times']['end'])}; "
          f"rollup share of the window per resource: "
          + ", ".join(f"{k} {v * 100:.0f} % ({'+'.join(result['rollup_policies'][k])})"
                      for k, v in result["rollup_share"].items())
          + f"; late hours pending: {len(result['late_hours_pending'])}")
    code = result["code"]
    changed = ", ".join(line.split()[-1] for line in code["uncommitted"])
    print(f"code: commit {code['commit']}" + (f", with uncommitted changes in {changed}" if changed else ""))
    print("\n" + accuracy.table(result))
    print("\nper namespace, whole window, raw data:\n\n" + accuracy.namespace_table(result))
    print("\npods over tolerance (raw, whole window):\n\n" + accuracy.worst_pods(result))
    if result["coverage_in_api"]:
        print("\ncoverage (the API's coverage/* metrics, raw data):\n\n" + accuracy.coverage_table(result))
    else:
        print("\ncoverage: the API has no coverage/* metrics (not reported yet)")
    if result["failure_count"]:
        print(f"failed or skipped cycles: {result['failure_count']}, first: {result['failures'][:3]}")
    print(f"\ntimings: simulator start {t['simulator_start_s']} s, collection {t['collection_s']} s wall for "
          f"{t['collections']} collections ({t['skipped_for_gap']} skipped for the gap), "
          f"comparison {t['compare_s']} s; "
          f"load average at the start {load[0]:.2f}, at the end {os.getloadavg()[0]:.2f}")
    print("\n| cycle | runs | total s | median ms | max ms |\n| --- | ---: | ---: | ---: | ---: |")
    for name, c in t["cycles"].items():
        print(f"| {name} | {c['runs']} | {c['total_s']} | {c['median_ms']} | {c['max_ms']} |")


def main():
    args = arguments()
    from deploy.local.influxdb_server import InfluxServer

    load = os.getloadavg()
    code = code_state()  # before the imports: the code that runs is the code at this moment
    started = time.perf_counter()
    influx = InfluxServer().start()
    influx_start = time.perf_counter() - started
    workdir = Path(tempfile.mkdtemp(prefix="kubemon-bench-accuracy-"))
    simulators = []
    try:
        setup(args, influx.url, workdir)
        from kubemon.redis import get_redis
        from kubemon.timeseries import get_store
        from tests.support import accuracy
        from tests.support.simulator import Simulator

        redis = get_redis()
        redis.flushdb()
        store = get_store()
        store.ensure_database()
        scenario = accuracy.Scenario(hours=args.hours, seed=args.seed, nodes=args.nodes, pods=args.pods,
                                     gpu_nodes=args.gpu_nodes, jetson_nodes=args.jetson_nodes, step=args.step,
                                     gap_at=args.gap_at, begin_hour=None if args.begin_hour < 0 else args.begin_hour)

        def start_simulator(**options):
            (workdir / "sim").mkdir(exist_ok=True)
            simulators.append(Simulator(workdir / "sim", **options))  # its --start is overridden by ours
            return simulators[-1]

        times = accuracy.plan_times(scenario)
        print(f"InfluxDB started in {influx_start:.1f} s; collecting {times.stop - times.start} simulated s "
              f"({accuracy.iso(times.start)} → {accuracy.iso(times.stop)})", flush=True)
        result, _ = accuracy.run(scenario, start_simulator, store, redis,
                                   progress(time.perf_counter(), times), times)
        result["timings"]["influxdb_start_s"] = round(influx_start, 2)
        result["code"] = code
        print_report(result, load)
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1, default=str))
            print(f"\nwrote {args.json}")
        redis.flushdb()
    finally:
        for simulator in simulators:
            simulator.stop()
        influx.cleanup()


if __name__ == "__main__":
    main()
