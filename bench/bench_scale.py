"""The sharded usage cycle on 1, 2 and 4 real Celery workers against a large simulated cluster.

    .venv/bin/python bench/bench_scale.py [--nodes 1000] [--pods 30000] [--workers 1,2,4] [--shards 4]
        [--cycles 3] [--json out.json]

Starts the simulated cluster (manual clock, 15 s steps; started once and kept for every worker
count), a throw-away InfluxDB (``deploy/influxdb/influxdb.conf``) and, for each worker count N,
N ``celery worker`` processes of kubemon's own app (prefork, ``--concurrency 1``, acks late as
the settings say), with ``COLLECT_USAGE_SHARDS`` set. Each cycle is dispatched as the beat does
(``collectors.tasks.collect_usage`` sent through the Redis broker): one worker lists the nodes
and sends the shards as a group, the workers take them, and the cycle ends when every shard has
reported (the merged ``usage`` cycle report appears).

Per cycle it reports the wall time from the dispatch to that report, each phase's CPU summed over
the workers (counted per thread inside the workers, bench/scale_worker.py), each worker's process
CPU (``/proc``), the points written, InfluxDB's CPU and ingest rate, the simulated cluster's CPU
(kept apart: a real cluster spends it on its kubelets), the CPU each worker's pod watch spent
applying the step's pod changes, each worker's peak RSS and the load average. Between cycles the
clock advances 15 s and the benchmark waits until the workers' watches are idle again.

The machine is shared: wall times depend on the load, CPU-seconds much less. Uses the Redis
database of ``BENCH_REDIS_DB`` (14 by default; flushed) as broker and store, and
``DATABASE_URL`` (a migrated database) for the workers; default a SQLite file.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from redis.exceptions import RedisError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_collect import cpu_seconds, start_simulator  # noqa: E402
from benchutil import bench_redis_url  # noqa: E402
from scale_worker import BENCH_SCALE_KEY  # noqa: E402

PHASES = ["fetch", "decode", "parse", "serialise", "write", "state"]


def status_mb(pid, field):
    """``VmRSS`` or ``VmHWM`` of a process, in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Worker:
    """One ``celery worker`` (prefork, concurrency 1): a parent and the child that runs the tasks."""

    def __init__(self, number, env, logdir):
        self.name = f"scale{number}"
        self.log = Path(logdir) / f"{self.name}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "scale_worker", "worker", "--concurrency", "1",
             "--loglevel", "INFO", "--hostname", f"{self.name}@%h", "--logfile", str(self.log),
             "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def pids(self):
        return [self.process.pid, *children(self.process.pid)]

    @property
    def child(self):
        found = children(self.process.pid)
        return found[0] if found else None

    def ready(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"worker {self.name} exited; see {self.log}")
        return self.log.exists() and " ready." in self.log.read_text(errors="replace")

    def cpu(self):
        return sum(cpu_seconds(pid) for pid in self.pids)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown: the child finishes its task
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def influx_points_written(url):
    """InfluxDB's own count of points written through its HTTP API since it started."""
    answer = requests.get(url + "/query", params={"q": "SHOW STATS FOR 'httpd'"}, timeout=30).json()
    series = answer["results"][0]["series"][0]
    return int(series["values"][0][series["columns"].index("pointsWrittenOK")])


def wait_idle(workers, quiet=0.05, step=0.5, timeout=300):
    """Wait until no worker spends more than ``quiet`` CPU-s in ``step`` s (their watches have
    applied the step's pod changes); returns the CPU they spent meanwhile, per worker."""
    start = [w.cpu() for w in workers]
    deadline = time.monotonic() + timeout
    last = start
    while time.monotonic() < deadline:
        time.sleep(step)
        now = [w.cpu() for w in workers]
        if all(b - a <= quiet for a, b in zip(last, now, strict=True)):
            break
        last = now
    return [b - a for a, b in zip(start, now, strict=True)]


def counters(redis, workers):
    """Each worker's CPU per phase so far (bench/scale_worker.py), by worker name."""
    out = {}
    for worker in workers:
        child = worker.child
        raw = redis.hgetall(BENCH_SCALE_KEY + str(child)) if child else {}
        out[worker.name] = {k.decode(): float(v) for k, v in raw.items()}
    return out


def run_cycle(redis, workers, simulator, influx, shards, timeout):
    """Dispatch one sharded cycle as the beat does; wait for its report and every task's counters."""
    from collectors import tasks
    from kubemon import keys

    procs = {"simulator": simulator.pid, "influxdb": influx.process.pid}
    before_proc = {name: cpu_seconds(pid) for name, pid in procs.items()}
    before_workers = [w.cpu() for w in workers]
    before = counters(redis, workers)
    before_points = influx_points_written(influx.url)
    tasks_before = sum(c.get("tasks", 0) for c in before.values())
    redis.delete(keys.CYCLE_REPORT + "usage")
    started = time.perf_counter()
    tasks.collect_usage.apply_async()
    report = None
    while time.perf_counter() - started < timeout:
        try:
            raw = redis.get(keys.CYCLE_REPORT + "usage")
        except RedisError:  # the shared Redis stalls now and then under this machine's load: ask again
            raw = None
        if raw:
            report = json.loads(raw)
            break
        time.sleep(0.02)
    wall = time.perf_counter() - started
    if report is None:
        raise RuntimeError(f"the cycle did not finish within {timeout} s: shards missing "
                           f"{shards_missing(redis)}")
    # The workers add their counters after each task returns: wait for the dispatch's and every shard's.
    deadline = time.monotonic() + 30
    while True:
        try:
            after = counters(redis, workers)
        except RedisError:
            time.sleep(0.5)
            continue
        if sum(c.get("tasks", 0) for c in after.values()) >= tasks_before + shards + 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    after_workers = [w.cpu() for w in workers]
    points = influx_points_written(influx.url) - before_points
    after_proc = {name: cpu_seconds(pid) for name, pid in procs.items()}
    phases = {phase: sum(after[w.name].get(phase, 0.0) - before[w.name].get(phase, 0.0) for w in workers)
              for phase in PHASES}
    shard_tasks = {w.name: int(after[w.name].get("shard_tasks", 0) - before[w.name].get("shard_tasks", 0))
                   for w in workers}
    return {
        "wall": wall, "report": report, "phases": phases, "shard_tasks": shard_tasks,
        "worker_cpu": [b - a for a, b in zip(before_workers, after_workers, strict=True)],
        "simulator_cpu": after_proc["simulator"] - before_proc["simulator"],
        "influx_cpu_cycle": after_proc["influxdb"] - before_proc["influxdb"],
        "influx_points": points, "load": load_average(),
        "spooled": report.get("spooled", 0), "written": report.get("written", 0),
    }


def drain_spool(store, timeout=600):
    """Replay what a cycle spooled before the next one starts, as the beat's ``replay_spool`` task
    would within the interval (otherwise every later write goes behind it into the spool too, and
    the cycles measure Redis instead of InfluxDB); returns (lines, seconds)."""
    started = time.perf_counter()
    replayed = 0
    while store.spool is not None and len(store.spool) and time.perf_counter() - started < timeout:
        replayed += store.replay(budget=30)
    return replayed, time.perf_counter() - started


def shards_missing(redis):
    from collectors.shards import missing_shards

    return missing_shards(redis)


def measure(args, redis, store, env, url, simulator, influx, count, logdir):
    workers = [Worker(i + 1, env, logdir) for i in range(count)]
    rows = []
    try:
        deadline = time.monotonic() + 300
        while not all(w.ready() for w in workers):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start within 300 s")
            time.sleep(0.5)
        # Warm up until every worker has run a shard (its pod watch has listed every pod).
        for _ in range(args.warmup_max):
            run_cycle(redis, workers, simulator, influx, args.shards, args.timeout)
            drain_spool(store)
            after = counters(redis, workers)
            if all(after[w.name].get("shard_tasks", 0) >= 1 for w in workers):
                break
        for _ in range(args.cycles):
            sim_before = cpu_seconds(simulator.pid)
            influx_before = cpu_seconds(influx.process.pid)
            stepped = time.perf_counter()
            requests.post(url + "/sim/control", json={"action": "advance", "seconds": 15}, timeout=600)
            step_seconds = time.perf_counter() - stepped
            step_cpu = cpu_seconds(simulator.pid) - sim_before
            watch_cpu = wait_idle(workers)
            row = run_cycle(redis, workers, simulator, influx, args.shards, args.timeout)
            # InfluxDB's CPU over the whole period (the step, the watch's catch-up and the cycle):
            # its cache snapshots and compactions come after the writes that cause them.
            row["influx_cpu_period"] = cpu_seconds(influx.process.pid) - influx_before
            row.update(step_seconds=step_seconds, step_cpu=step_cpu, watch_cpu=watch_cpu)
            row["replayed"], row["replay_seconds"] = drain_spool(store)
            rows.append(row)
            print(f"  {count} worker(s): cycle {len(rows)}: {row['wall']:.2f} s wall, "
                  f"worker CPU {sum(row['worker_cpu']):.2f} s, {row['influx_points']} points in InfluxDB, "
                  f"{row['written']} written / {row['spooled']} spooled by the shards "
                  f"({row['replayed']} replayed after it in {row['replay_seconds']:.1f} s), load {row['load']}; "
                  "phase CPU " + ", ".join(f"{p} {v:.2f}" for p, v in row["phases"].items()), flush=True)
        peaks = [status_mb(w.child, "VmHWM") for w in workers]
        parents = [status_mb(w.process.pid, "VmRSS") for w in workers]
    finally:
        for worker in workers:
            worker.stop()
    return rows, peaks, parents


def summarise(count, rows, peaks, parents, pods, shards):
    med = statistics.median
    kpods = pods / 1000
    phases = {p: med(r["phases"][p] for r in rows) for p in PHASES}
    worker_cpu = med(sum(r["worker_cpu"]) for r in rows)
    watch_cpu = med(sum(r["watch_cpu"]) for r in rows)
    points = med(r["influx_points"] for r in rows)
    influx_cpu = med(r["influx_cpu_period"] for r in rows)
    wall = med(r["wall"] for r in rows)
    reported = rows[-1]["report"]
    return {
        "workers": count, "shards": shards, "cycles": len(rows), "wall": wall,
        "walls": [round(r["wall"], 2) for r in rows],
        "loads": [r["load"] for r in rows],
        "phases_cpu": phases, "phases_cpu_per_kpod": {p: v / kpods for p, v in phases.items()},
        "worker_cpu": worker_cpu, "worker_cpu_per_kpod": worker_cpu / kpods,
        "other_cpu": worker_cpu - sum(phases.values()),
        "watch_cpu": watch_cpu, "watch_cpu_per_kpod": watch_cpu / kpods,
        "points": points, "points_reported": sum(reported.get("points", {}).values()),
        "report_ok": all(r["report"].get("ok") for r in rows),
        "spooled": sum(r["spooled"] for r in rows),
        "influx_cpu": influx_cpu, "influx_cpu_per_kpod": influx_cpu / kpods,
        "ingest_points_per_s": points / wall, "points_per_influx_cpu_s": points / influx_cpu if influx_cpu else 0,
        "simulator_cpu": med(r["simulator_cpu"] for r in rows),
        "step_seconds": med(r["step_seconds"] for r in rows), "step_cpu": med(r["step_cpu"] for r in rows),
        "shard_tasks": [r["shard_tasks"] for r in rows],
        "report_seconds": reported.get("seconds", {}),
        "peak_rss_mb": peaks, "parent_rss_mb": parents,
    }


def print_table(nodes, pods, results, simulator_rss, startup):
    print(f"\nsharded usage cycle, {nodes} nodes / {pods} pods; simulated cluster started in "
          f"{startup:.0f} s, RSS {simulator_rss:.0f} MB")
    print("| workers | shards | cycle wall s (each) | load (1/5/15 min) | worker CPU s | fetch | decode | parse | "
          "serialise | write | state | other | watch CPU s | points | InfluxDB CPU s | points/s | "
          "points per InfluxDB CPU-s | simulator CPU s | peak RSS per worker MB |")
    print("| " + " | ".join(["---"] * 19) + " |")
    for r in results:
        ph = r["phases_cpu"]
        print(f"| {r['workers']} | {r['shards']} | {r['wall']:.2f} ({', '.join(map(str, r['walls']))}) | "
              f"{'; '.join(r['loads'])} | {r['worker_cpu']:.2f} | "
              + " | ".join(f"{ph[p]:.2f}" for p in PHASES)
              + f" | {r['other_cpu']:.2f} | {r['watch_cpu']:.2f} | {r['points']:,.0f} | {r['influx_cpu']:.2f} | "
              f"{r['ingest_points_per_s']:,.0f} | {r['points_per_influx_cpu_s']:,.0f} | {r['simulator_cpu']:.2f} | "
              f"{', '.join(f'{p:.0f}' for p in r['peak_rss_mb'])} |")
    for r in results:
        if r["spooled"]:
            print(f"WARNING: with {r['workers']} worker(s) the shards spooled {r['spooled']} points "
                  "(InfluxDB did not answer in time): their write figures are the spool's, not InfluxDB's")
    print("\nCPU-seconds per 1,000 pods per cycle (median), summed over the workers:")
    for r in results:
        per = r["phases_cpu_per_kpod"]
        print(f"  {r['workers']} worker(s): " + ", ".join(f"{p} {per[p]:.4f}" for p in PHASES)
              + f"; whole worker {r['worker_cpu_per_kpod']:.4f} (+ watch {r['watch_cpu_per_kpod']:.4f}); "
              f"InfluxDB {r['influx_cpu_per_kpod']:.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=30000)
    parser.add_argument("--gpu-nodes", type=int, default=0)
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure, in turn")
    parser.add_argument("--shards", type=int, default=4, help="COLLECT_USAGE_SHARDS (the same for every worker count)")
    parser.add_argument("--cycles", type=int, default=3, help="measured cycles per worker count")
    parser.add_argument("--warmup-max", type=int, default=6,
                        help="warm-up cycles at most (until every worker has run a shard)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a cycle may take")
    parser.add_argument("--kubernetes-timeout", type=float, default=10.0,
                        help="KUBERNETES_TIMEOUT for the workers (the first pod list of a big cluster is long)")
    parser.add_argument("--influxdb-timeout", type=float, default=60.0,
                        help="INFLUXDB_TIMEOUT for the workers: at a load of 17-26 on 2 cores a 5,000-line write took "
                             "more than the default 10 s, and from then on the shards spooled their points")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]

    from deploy.local.influxdb_server import InfluxServer

    workdir = tempfile.mkdtemp(prefix="kubemon-bench-scale-")
    kubeconfig = os.path.join(workdir, "kubeconfig")
    influx = InfluxServer().start()
    env = {
        "DJANGO_SETTINGS_MODULE": "kubemon.settings", "SECRET_KEY": "bench", "INFLUXDB_URL": influx.url,
        "INFLUXDB_DATABASE": "bench", "KUBECONFIG": kubeconfig, "KUBELET_CA_FILE": kubeconfig + ".kubelet-ca",
        "REDIS_URL": bench_redis_url(), "CELERY_BROKER_URL": bench_redis_url(),
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3"),
        "LOG_LEVEL": "ERROR", "COLLECT_USAGE_SHARDS": str(args.shards),
        "KUBERNETES_TIMEOUT": str(args.kubernetes_timeout), "INFLUXDB_TIMEOUT": str(args.influxdb_timeout),
    }
    os.environ.update(env)
    worker_env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "bench"), str(ROOT)]))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from kubemon.redis import get_redis
    from kubemon.timeseries import get_store

    store = get_store()
    store.ensure_database()
    redis = get_redis()
    redis.flushdb()
    results = []
    simulator = None
    try:
        started = time.perf_counter()
        simulator, url = start_simulator(args.pods, args.nodes, kubeconfig, args.gpu_nodes)
        startup = time.perf_counter() - started
        print(f"simulated cluster {args.nodes} nodes / {args.pods} pods up in {startup:.1f} s, "
              f"RSS {status_mb(simulator.pid, 'VmRSS'):.0f} MB; load {load_average()}", flush=True)
        for count in counts:
            rows, peaks, parents = measure(args, redis, store, worker_env, url, simulator, influx, count, workdir)
            results.append(summarise(count, rows, peaks, parents, args.pods, args.shards))
            results[-1]["rows"] = [{k: v for k, v in r.items() if k != "report"} for r in rows]
            if args.json:
                Path(args.json).write_text(json.dumps({"nodes": args.nodes, "pods": args.pods, "results": results},
                                                      indent=1))
        simulator_rss = status_mb(simulator.pid, "VmHWM")
    finally:
        if simulator is not None:
            simulator.terminate()
            simulator.wait()
        influx.cleanup()
    print_table(args.nodes, args.pods, results, simulator_rss, startup)
    if args.json:
        Path(args.json).write_text(json.dumps({"nodes": args.nodes, "pods": args.pods, "startup": startup,
                                               "simulator_peak_rss_mb": simulator_rss, "results": results},
                                              indent=1))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
