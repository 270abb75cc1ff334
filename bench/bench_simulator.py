"""Benchmark of the simulated cluster at 10,000 pods / 500 nodes.

Starts ``python -m simcluster`` in a subprocess (manual clock, so every run serves the
same cluster), then times what a collection cycle asks of it: the full pod list (unpaginated and
paginated at limit=500), the metrics.k8s.io pod list, every node's kubelet summary, plus one
simulation step and a /sim/truth query; and reads the server's resident memory from
/proc/PID/status. Times are medians over --repeat runs, measured from request to last byte on a
keep-alive connection. Prints a Markdown table.

    .venv/bin/python bench/bench_simulator.py [--nodes 500 --pods 10000 --repeat 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str) -> bytes:
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status} {body[:200]!r}")
        return body

    def post(self, path: str, doc: dict) -> bytes:
        self.conn.request("POST", path, body=json.dumps(doc), headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"POST {path}: {resp.status} {body[:200]!r}")
        return body


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--gpu-nodes", type=int, default=10)
    ap.add_argument("--jetson-nodes", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--typed", action="store_true", help="also page through the pods with the kubernetes client"
    )
    ap.add_argument(
        "--soak-hours", type=int, default=0, help="then advance this many simulated hours, report memory"
    )
    args = ap.parse_args()

    cmd = [
        sys.executable,
        "-m",
        "simcluster",
        "--port",
        "0",
        "--nodes",
        str(args.nodes),
        "--pods",
        str(args.pods),
        "--gpu-nodes",
        str(args.gpu_nodes),
        "--jetson-nodes",
        str(args.jetson_nodes),
        "--manual-clock",
        "--start",
        "2025-01-06T00:00:00Z",
        "--quiet",
    ]
    t0 = time.perf_counter()
    # --quiet: the simulator writes one line to stderr; keep it out of the table
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rows: list[tuple[str, str]] = []
    try:
        line = proc.stdout.readline().strip()
        if "listening on" not in line:
            proc.wait(10)
            raise RuntimeError(f"the simulator did not start: {line!r} {proc.stderr.read()}")
        startup = time.perf_counter() - t0
        port = int(line.rsplit(":", 1)[1])
        c = Client(port)
        rss_start, _ = rss_mb(proc.pid)
        rows.append(("start-up (build the cluster, render every object, bind)", f"{startup:.2f} s"))
        rows.append(("server RSS after start-up", f"{rss_start:.0f} MB"))

        t, body = timed(lambda: c.get("/api/v1/pods"), args.repeat)
        n = body.count(b'"kind":"Pod"')
        rows.append(
            (f"full pod list, unpaginated ({n} pods, {len(body) / 1e6:.1f} MB)", f"{t * 1000:.0f} ms")
        )

        def paged():
            cont, pages, count = "", 0, 0
            while True:
                doc = json.loads(
                    c.get("/api/v1/pods?limit=500" + (f"&continue={quote(cont)}" if cont else ""))
                )
                pages += 1
                count += len(doc["items"])
                cont = doc["metadata"].get("continue")
                if not cont:
                    return pages, count

        t, (pages, count) = timed(paged, args.repeat)
        rows.append(
            (
                f"full pod list, limit=500 ({pages} pages, {count} pods, incl. client json.loads)",
                f"{t * 1000:.0f} ms",
            )
        )

        t, body = timed(lambda: c.get("/apis/metrics.k8s.io/v1beta1/pods"), args.repeat)
        items = len(json.loads(body)["items"])
        rows.append(
            (f"metrics.k8s.io pod list ({items} pods, {len(body) / 1e6:.1f} MB)", f"{t * 1000:.0f} ms")
        )

        nodes = [n["metadata"]["name"] for n in json.loads(c.get("/api/v1/nodes"))["items"]]

        def summaries():
            size = 0
            for name in nodes:
                size += len(c.get(f"/api/v1/nodes/{name}/proxy/stats/summary"))
            return size

        # the first pass renders (a summary is cached until the next step); later passes hit the cache
        t_first, size = timed(summaries, 1)
        t, _ = timed(summaries, args.repeat)
        rows.append(
            (
                f"{len(nodes)} kubelet summaries, first after a step ({size / 1e6:.1f} MB)",
                f"{t_first * 1000:.0f} ms",
            )
        )
        rows.append((f"{len(nodes)} kubelet summaries, cached", f"{t * 1000:.0f} ms"))

        t, _ = timed(lambda: c.post("/sim/control", {"action": "advance", "seconds": 15}), args.repeat)
        rows.append(
            ("one simulation step (advance 15 s: every container, node, checkpoint)", f"{t * 1000:.0f} ms")
        )
        t, body = timed(lambda: c.get("/sim/truth"), args.repeat)
        rows.append((f"/sim/truth, whole history ({len(body) / 1e6:.1f} MB)", f"{t * 1000:.0f} ms"))
        t, body = timed(
            lambda: c.get("/sim/truth?start=2025-01-06T00:00:07Z&end=2025-01-06T00:01:01Z"), args.repeat
        )
        rows.append(
            ("/sim/truth, window with partial steps (recomputed from checkpoints)", f"{t * 1000:.0f} ms")
        )

        if args.typed:
            from kubernetes import client

            api = client.ApiClient(client.Configuration(host=f"http://127.0.0.1:{port}"))
            v1 = client.CoreV1Api(api)

            def typed():
                cont, count = None, 0
                while True:
                    page = v1.list_pod_for_all_namespaces(limit=500, _continue=cont)
                    count += len(page.items)
                    cont = page.metadata._continue
                    if not cont:
                        return count

            t, count = timed(typed, 1)
            rows.append(
                (f"kubernetes client, typed V1Pod paging ({count} pods; client-side cost)", f"{t:.2f} s")
            )

        rss, hwm = rss_mb(proc.pid)
        rows.append(("server RSS after the above / peak (VmRSS / VmHWM)", f"{rss:.0f} MB / {hwm:.0f} MB"))
        # churn (rolling updates, job runs) leaves deleted pods that /sim/truth must remember
        for hour in range(1, args.soak_hours + 1):
            t = time.perf_counter()
            state = json.loads(c.post("/sim/control", {"action": "advance", "seconds": 3600}))
            took = time.perf_counter() - t
            rss, _ = rss_mb(proc.pid)
            gone = state["pods"]["by_state"].get("deleted", 0)
            rows.append(
                (
                    f"after {hour} simulated hour(s): {state['pods']['total']} pods listed, {gone} deleted "
                    f"so far; the hour's 240 steps took {took:.1f} s",
                    f"{rss:.0f} MB RSS",
                )
            )
    finally:
        proc.terminate()
        proc.wait(10)

    print(
        f"simulator, {args.nodes} nodes / {args.pods} pods ({args.gpu_nodes} GPU, "
        f"{args.jetson_nodes} Jetson), median of {args.repeat}; "
        f"Python {platform.python_version()}, {platform.machine()}"
    )
    print()
    print("| what | result |")
    print("| --- | --- |")
    for what, result in rows:
        print(f"| {what} | {result} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
