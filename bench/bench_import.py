"""The legacy import's rate (points/s) and memory: ``manage.py importlegacy`` on Heapster history.

    .venv/bin/python bench/bench_import.py [--pods 1000] [--days 30] [--resolution 60]
        [--measurements cpu/usage_rate,memory/working_set] [--straight] [--days-list 1,2]
        [--levels pod_container,pod] [--legacy-dir DIR [--generate-only]] [--import-days N]
        [--profile FILE]

Starts two throw-away InfluxDBs, writes ``--days`` of Heapster-shaped history for ``--pods`` pods
(one container each, 20 nodes, 50 namespaces; rows at the ``pod_container`` and ``pod`` levels,
as Heapster wrote them, so the import must pick one) into the legacy one, then runs the import
in a child process and reports its wall time, points written per second, the time of the rollup
and tiers afterwards, and the child's peak RSS. ``--straight`` gives kubemon a one-day raw
retention, so that every hour goes straight into the hourly rollup (the path of old history);
otherwise every hour is written raw and rolled up (history within the raw retention).
``--days-list 1,2,4`` repeats the whole run for each length: the peak RSS should not grow with it.

A month of 1,000 pods is 86 M rows per level: ``--legacy-dir DIR`` keeps the legacy InfluxDB's
data there (``--generate-only`` writes it and stops) and later runs read it again instead of
writing it; ``--import-days N`` imports only its first N days. ``--levels pod_container`` writes
only the containers' rows, the ones the import reads (the ``pod`` rows only cost the writing: the
import's ``type`` filter is an index look-up). The report gives the CPU seconds of the import and
of each InfluxDB during it (the legacy server's reads, kubemon's writes and rollup), so that the
import's own cost can be told from the servers' on a loaded machine; ``--profile FILE`` runs the
import under cProfile.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchutil import bench_redis_url  # noqa: E402


def _escape(value):
    return str(value).replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")


def history(pods, start, days, resolution, measurements, levels=("pod_container", "pod"), batch=50_000):
    """Heapster's line protocol for ``pods`` pods over ``days`` days, oldest first, as bodies of
    ``batch`` lines (bytes). Each series' line prefix (measurement and sorted, escaped tags, as
    ``tests.support.heapster.line`` writes them) is built once, so generating a month of 1,000
    pods (173 M lines) costs a few minutes of Python, not the hour of the per-line dict version."""
    prefixes = []  # per pod: [(pod_container prefix, pod prefix, is_cpu), ...] per measurement
    for i in range(pods):
        tags = {"namespace_name": f"team-{i % 50:02d}", "pod_name": f"pod-{i:05d}",
                "nodename": f"node-{i % 20:02d}", "labels": f"app:a{i % 7},tenant:team-{i % 50:02d}",
                "pod_id": f"uid-{i}"}
        per_pod = []
        for name in measurements:
            texts = []
            for level in levels:
                level_tags = {**tags, "type": level, **({"container_name": "app"} if level == "pod_container" else {})}
                texts.append(name.replace(" ", "_") + ","
                             + ",".join(f"{k}={_escape(v)}" for k, v in sorted(level_tags.items())))
            per_pod.append((texts, name.startswith("cpu")))
        prefixes.append(per_pod)
    t, stop = int(start.timestamp()), int((start + timedelta(days=days)).timestamp())
    lines = []
    while t < stop:
        minute = t // 60
        for i, per_pod in enumerate(prefixes):
            value = 50 + (i * 7 + minute) % 200
            for texts, cpu in per_pod:
                v = value if cpu else value * 2**20
                for text in texts:
                    lines.append(f"{text} value={v}i {t}")
        if len(lines) >= batch:
            yield "\n".join(lines).encode()
            lines = []
        t += resolution
    if lines:
        yield "\n".join(lines).encode()


def write_history(url, bodies, writers=2):
    """POST the bodies to the legacy InfluxDB's ``k8s`` from ``writers`` threads (InfluxDB ingests
    on both cores while the next body is built); returns the lines written."""
    import queue
    import threading

    import requests

    requests.post(f"{url}/query", data={"q": 'CREATE DATABASE "k8s"'}, timeout=30).raise_for_status()
    pending, errors, counted, lock = queue.Queue(maxsize=4), [], [0], threading.Lock()

    def send():
        session = requests.Session()
        while (body := pending.get()) is not None:
            for attempt in range(10):
                response = session.post(f"{url}/write", params={"db": "k8s", "precision": "s"}, data=body,
                                        timeout=600)
                # A loaded server answers {"error":"timeout"} (its 10 s write timeout) and may have
                # written part of the body: the same lines again are the same points.
                if response.status_code != 500 or "timeout" not in response.text:
                    break
                time.sleep(1 + attempt)
            if response.status_code != 204:
                errors.append(response.text)
            with lock:  # two writers: += is not atomic
                counted[0] += body.count(b"\n") + 1

    threads = [threading.Thread(target=send, daemon=True) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for body in bodies:
        if errors:
            break
        pending.put(body)
    for _ in threads:
        pending.put(None)
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"the legacy InfluxDB refused a write: {errors[0]}")
    return counted[0]


def cpu_seconds(pid):
    """User + system CPU seconds of process ``pid`` so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def legacy_server(args, days):
    """The legacy InfluxDB holding the history, and its first day. With ``--legacy-dir`` the server
    keeps its data there and a second run with the same history reads it again instead of writing
    it (a month of 1,000 pods is 173 M rows: InfluxDB's ingest of them takes longer than the import)."""
    from deploy.local.influxdb_server import InfluxServer

    measurements = args.measurements.split(",")
    levels = args.levels.split(",")
    wanted = {"pods": args.pods, "days": days, "resolution": args.resolution, "measurements": measurements,
              "levels": levels}
    name = (f"history-{args.pods}p-{days}d-{args.resolution}s-{'+'.join(levels)}-{'+'.join(measurements)}"
            .replace("/", "_"))
    marker = Path(args.legacy_dir) / f"{name}.json" if args.legacy_dir else None
    if marker is not None and marker.exists():
        kept = json.loads(marker.read_text())
        server = InfluxServer(data_dir=marker.parent / marker.stem).start(timeout=600)
        print(f"legacy history: reusing {kept['lines']:,} rows in {marker.parent / marker.stem}")
        return server, datetime.fromisoformat(kept["start"])
    if marker is not None:
        shutil.rmtree(marker.parent / marker.stem, ignore_errors=True)  # a generation cut short
    server = InfluxServer(data_dir=marker.parent / marker.stem if marker else None).start()
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    start = end - timedelta(days=days)
    began = time.perf_counter()
    try:
        lines = write_history(server.url, history(args.pods, start, days, args.resolution, measurements, levels))
    except BaseException:
        server.cleanup()
        raise
    print(f"legacy history: {lines:,} rows ({args.pods} pods, {days} d at {args.resolution} s, "
          f"{len(measurements)} measurements, levels {'+'.join(levels)}) "
          f"written in {time.perf_counter() - began:.0f} s "
          f"({lines / (time.perf_counter() - began):,.0f} rows/s)")
    if marker is not None:
        marker.write_text(json.dumps({**wanted, "lines": lines, "start": start.isoformat()}))
    return server, start


def run_once(args, days):
    from deploy.local.influxdb_server import InfluxServer

    legacy, start = legacy_server(args, days)
    own = InfluxServer().start()
    workdir = tempfile.mkdtemp(prefix="kubemon-bench-import-")
    try:
        measurements = args.measurements.split(",")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kubemon.settings", "SECRET_KEY": "kubemon-bench-only",
               "INFLUXDB_URL": own.url, "INFLUXDB_DATABASE": "kubemon_bench", "INFLUXDB_SPOOL": "none",
               "INFLUXDB_TIMEOUT": "600", "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
               "LOG_LEVEL": "WARNING", "REDIS_URL": bench_redis_url(),
               # Old history (past the raw retention) goes straight into the hourly rollup.
               "INFLUXDB_RAW_RETENTION": "1d" if args.straight else f"{days + 10}d"}
        python = [sys.executable] + (["-m", "cProfile", "-o", args.profile] if args.profile else [])
        command = [*python, str(Path(args.tree or ROOT) / "manage.py"), "importlegacy", "--url", legacy.url, "--quiet",
                   "--checkpoint", f"{workdir}/checkpoint.json", "--since", start.strftime("%Y-%m-%d"),
                   "--until", (start + timedelta(days=args.import_days or days)).strftime("%Y-%m-%d")]
        for name in measurements:
            command += ["--measurement", name]
        cpu_before = cpu_seconds(legacy.process.pid), cpu_seconds(own.process.pid)
        began = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 cwd=args.tree or ROOT)
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
        legacy_cpu = cpu_seconds(legacy.process.pid) - cpu_before[0]
        own_cpu = cpu_seconds(own.process.pid) - cpu_before[1]
        if status:
            print(output)
            raise SystemExit(f"the import failed (status {status})")
        done = re.search(r"done in .*", output).group(0)
        points = sum(int(a.replace(",", "")) + int(b.replace(",", ""))
                     for a, b in re.findall(r"wrote ([\d,]+) raw and ([\d,]+) hourly points", output))
        # Rows of the legacy measurements (named with a slash); a derived field's job reads the same rows.
        rows = sum(int(a.replace(",", "")) for a in re.findall(r"^\S*/\S*: ([\d,]+) rows read", output, re.M))
        own_cpu_s = usage.ru_utime + usage.ru_stime
        print(f"import ({'straight into the hourly rollup' if args.straight else 'raw, then rolled up'}): "
              f"{wall:.0f} s wall, {rows:,} rows read ({rows / wall:,.0f}/s), {points:,} points written; {done}; "
              f"import CPU {own_cpu_s:.0f} s, legacy InfluxDB CPU (reads) {legacy_cpu:.0f} s, "
              f"kubemon's InfluxDB CPU (writes, rollup) {own_cpu:.0f} s; peak RSS {usage.ru_maxrss / 1024:.0f} MB")
        return wall, rows, points, usage.ru_maxrss / 1024
    finally:
        if args.legacy_dir:
            legacy.stop()
        else:
            legacy.cleanup()
        own.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--days-list", help="comma-separated lengths to compare (overrides --days)")
    parser.add_argument("--resolution", type=int, default=60)
    parser.add_argument("--measurements", default="cpu/usage_rate,memory/working_set")
    parser.add_argument("--straight", action="store_true", help="a one-day raw retention: all hours go hourly")
    parser.add_argument("--legacy-dir", help="keep the legacy history here and reuse it on the next run")
    parser.add_argument("--levels", default="pod_container,pod",
                        help="Heapster's type levels written (the import reads pod_container only)")
    parser.add_argument("--generate-only", action="store_true", help="write (or keep) the --legacy-dir history only")
    parser.add_argument("--import-days", type=int,
                        help="import only the first N days of the history (default: all of it)")
    parser.add_argument("--tree", help="run the import of another checkout (a peer: `git archive REV | tar -x`)")
    parser.add_argument("--profile", metavar="FILE", help="run the import under cProfile, its stats to FILE")
    args = parser.parse_args()
    if args.generate_only:
        if not args.legacy_dir:
            raise SystemExit("--generate-only keeps the history in --legacy-dir: pass it")
        for days in [int(d) for d in args.days_list.split(",")] if args.days_list else [args.days]:
            legacy_server(args, days)[0].stop()
        return
    rows = []
    for days in [int(d) for d in args.days_list.split(",")] if args.days_list else [args.days]:
        rows.append((args.import_days or days, *run_once(args, days)))
    print("\n| days | rows read | points written | wall s | rows/s | points/s | peak RSS MB |\n"
          "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for days, wall, read, points, rss in rows:
        print(f"| {days} | {read:,} | {points:,} | {wall:.0f} | {read / wall:,.0f} | {points / wall:,.0f} "
              f"| {rss:.0f} |")


if __name__ == "__main__":
    main()
