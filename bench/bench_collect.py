"""A full usage cycle (fetch → parse → serialise → write) against the simulated cluster.

    .venv/bin/python bench/bench_collect.py [--pods 1000,10000] [--nodes 500] [--cycles 4] [--no-watch] [--shards 1]

For each size: starts the simulated cluster (manual clock, 15 s steps) and a throw-away InfluxDB,
runs one warm-up cycle, then ``--cycles`` measured cycles, each after advancing the clock by one
step. Prints wall time per phase and the collector's peak RSS. Redis database 14 (or
`BENCH_REDIS_DB`) is used (flushed).
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent

from benchutil import bench_redis_url  # noqa: E402

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def start_simulator(pods, nodes, kubeconfig, gpu_nodes):
    process = subprocess.Popen(
        [sys.executable, "-m", "simcluster", "--pods", str(pods), "--nodes", str(nodes),
         "--gpu-nodes", str(gpu_nodes), "--port", "0", "--kubeconfig", kubeconfig, "--manual-clock",
         "--kubelet-ca", kubeconfig + ".kubelet-ca",
         "--start", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600)), "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if "listening on" in line:
            return process, line.strip().rsplit(" ", 1)[-1]
    raise RuntimeError("the simulator did not start")


def caught_up(watch, quiet=0.3):
    """Wait until the watch has applied no event for ``quiet`` seconds."""
    seen = -1
    while watch.events != seen:
        seen = watch.events
        time.sleep(quiet)


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def machine_speed():
    """influxdb-client ``Point`` lines/s on container lines: the same reference as bench_lineprotocol.py.

    This machine's speed varies by a third from hour to hour; printing this beside the cycle
    time lets runs from different moments be compared.
    """
    import random

    from bench_lineprotocol import container_points, reference

    points = container_points(3000, 1_700_000_000, random.Random(1))
    started = time.perf_counter()
    reference(points)
    return len(points) / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", default="1000,10000")
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--gpu-nodes", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--no-watch", action="store_true",
                        help="list every pod each cycle instead of following them with a watch")
    parser.add_argument("--shards", type=int, default=1,
                        help="COLLECT_USAGE_SHARDS: run the cycle as this many shards, one after the other")
    parser.add_argument("--kubelet-access", choices=["direct", "proxy"], default="direct",
                        help="read each kubelet (direct, TLS) or go through the API server's node proxy")
    args = parser.parse_args()

    from deploy.local.influxdb_server import InfluxServer

    influx = InfluxServer().start()
    workdir = tempfile.mkdtemp(prefix="kubemon-bench-")
    kubeconfig = os.path.join(workdir, "kubeconfig")
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "kubemon.settings", "SECRET_KEY": "bench", "INFLUXDB_URL": influx.url,
        "INFLUXDB_DATABASE": "bench", "KUBECONFIG": kubeconfig, "KUBELET_CA_FILE": kubeconfig + ".kubelet-ca",
        "REDIS_URL": bench_redis_url(),
        "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3", "LOG_LEVEL": "ERROR",
        "COLLECT_USAGE_SHARDS": str(args.shards),
    })
    import django

    django.setup()
    from django.core.management import call_command

    # A migrated database, as in production: the live snapshot reads namespace ownership.
    call_command("migrate", verbosity=0)
    from collectors.cycles import run_usage_cycle
    from collectors.kube import KubeClient
    from collectors.kubelet import KubeletAccess
    from collectors.podwatch import PodWatch
    from kubemon.redis import get_redis
    from kubemon.timeseries import get_store

    store = get_store()
    store.ensure_database()
    redis = get_redis()
    rows = []
    try:
        for pods in [int(p) for p in args.pods.split(",")]:
            redis.flushdb()
            simulator, url = start_simulator(pods, args.nodes, kubeconfig, args.gpu_nodes)
            try:
                kube = KubeClient.from_config(kubeconfig, timeout=30, kubelet=KubeletAccess(
                    args.kubelet_access, ca_file=kubeconfig + ".kubelet-ca"))
                watch = None if args.no_watch else PodWatch(kube).start()
                run_usage_cycle(kube=kube, store=store, redis=redis, pod_watch=watch)  # warm-up
                reports, cpu = [], []
                for _ in range(args.cycles):
                    requests.post(url + "/sim/control", json={"action": "advance", "seconds": 15}, timeout=60)
                    if watch is not None:
                        # A step's pod changes reach a real watch over the 15 s between cycles;
                        # here they come at once, so let the watch take them before the clock starts.
                        caught_up(watch)
                    pids = (simulator.pid, influx.process.pid, os.getpid())
                    before = [cpu_seconds(pid) for pid in pids]
                    reports.append(run_usage_cycle(kube=kube, store=store, redis=redis, pod_watch=watch))
                    cpu.append([cpu_seconds(pid) - start for pid, start in zip(pids, before, strict=True)])
                sim_rss = rss_mb(simulator.pid)
            finally:
                if watch is not None:
                    watch.stop(timeout=0)
                simulator.terminate()
                simulator.wait()
            phases = {}
            for report in reports:
                assert report.ok, report.error
                for name, seconds in report.seconds.items():
                    phases.setdefault(name, []).append(seconds)
            medians = {k: statistics.median(v) for k, v in phases.items()}
            cpu_medians = [statistics.median(column) for column in zip(*cpu, strict=True)]
            rows.append((pods, reports[-1], medians, sim_rss, cpu_medians))
    finally:
        influx.cleanup()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    order = ["pod_index", "fetch_lists", "parse_lists", "state", "fetch_summaries", "parse", "serialize",
             "write_wait", "publish", "total"]
    print(f"machine speed reference: influxdb-client Point, {machine_speed():,.0f} container lines/s "
          "(38,775 when docs/benchmarks.md's figures were taken)")
    how = "pods listed every cycle" if args.no_watch else "pods from the watch"
    sharding = f", {args.shards} shards run one after the other" if args.shards != 1 else ""
    print(f"usage cycle, {args.nodes} nodes, {how}{sharding}, median of {args.cycles} cycles (seconds)\n")
    print(f"{'pods':>6} {'containers':>10} {'points':>8} " + " ".join(f"{name:>12}" for name in order))
    for pods, report, medians, _, _ in rows:
        print(f"{pods:>6} {report.points.get('kubernetes_pod_container', 0):>10} {sum(report.points.values()):>8} "
              + " ".join(f"{medians.get(name, 0):>12.3f}" for name in order))
    print("\nCPU seconds per cycle (median; the three share the machine's cores)")
    for pods, _, _, _, (sim_cpu, influx_cpu, collector_cpu) in rows:
        print(f"{pods:>6} pods: simulated cluster {sim_cpu:.2f}, InfluxDB {influx_cpu:.2f}, "
              f"collector {collector_cpu:.2f}")
    print(f"\ncollector peak RSS: {peak:.0f} MB (whole benchmark process, all sizes)")
    for pods, _, _, sim_rss, _ in rows:
        print(f"simulator RSS at {pods} pods: {sim_rss:.0f} MB")


if __name__ == "__main__":
    main()
