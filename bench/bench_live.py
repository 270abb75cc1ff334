"""The live view's fan-out and latency: publish -> websocket receipt on one ASGI worker.

    .venv/bin/python bench/bench_live.py [--clients 500,1000] [--pods 1000] [--latency-pods 1000,10000]
        [--cycles 8] [--sessions 50]

Starts kubemon's ASGI application under uvicorn (one worker, the server requirements.txt pins)
on the Redis database ``--redis-db`` (flushed) and the database of ``DATABASE_URL`` (migrated),
logs a staff user in ``--sessions`` times, and opens the websockets from a separate client
process (asyncio + websockets), each with one of those session cookies.

- (b) fan-out: ``--clients`` sockets on the ``cluster`` group; each cycle the collectors' real
  publisher (``collectors.snapshot.publish_usage``) publishes a synthetic ``--pods``-pod cluster
  whose usage changes everywhere and 1 % of whose pods change state; p50/p95/max from the
  publisher's call to each socket's receipt of that cycle's delta.
- (a) latency: one socket, a cluster of each ``--latency-pods`` size; from the end of the cycle's
  writes (the call of ``publish_usage``) to the delta's receipt, and what the publisher spent.

The browser's part (applying a delta to the table) is bench/bench_browser.py's.
"""

import argparse
import asyncio
import multiprocessing
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(redis_db):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubemon.settings")
    os.environ["REDIS_URL"] = re.sub(r"/\d+$", "", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")) \
        + f"/{redis_db}"
    os.environ.setdefault("SECRET_KEY", "kubemon-bench-live-secret-key-not-for-production")
    os.environ["CHANNELS_PREFIX"] = "kubemon-bench-live"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def sessions(count):
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username="bench-live", defaults={"is_staff": True})
    user.is_staff = True
    user.save()
    keys = []
    for _ in range(count):
        client = Client()
        client.force_login(user)
        keys.append(client.cookies["sessionid"].value)
    return keys


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port):
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "kubemon.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--ws-max-size", "67108864"]
        + ([] if SERVER_DEFLATE else ["--ws-per-message-deflate", "false"]),
        cwd=ROOT, env=dict(os.environ))
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("uvicorn did not start")


# --- a synthetic cluster, changing a little every cycle ---

def cluster(pod_count, seed=7):
    from collectors.podspec import ContainerSpec, PodInfo

    rng = random.Random(seed)
    nodes = {f"node-{i:03d}": {"ready": True, "roles": ["worker"], "allocatable_millicpu": 16000,
                               "allocatable_memory": 64 * 2**30, "allocatable_gpu": 0}
             for i in range(max(2, pod_count // 20))}
    names = sorted(nodes)
    pods = {}
    for i in range(pod_count):
        ns = f"team-{i % 50:02d}"
        name = f"app-{i:05d}-{rng.randrange(16**5):05x}"
        spec = ContainerSpec(requests_millicpu=100, requests_memory=2**28, limits_millicpu=500, limits_memory=2**29)
        pods[(ns, name)] = PodInfo(ns, name, f"uid-{i}", names[i % len(names)], "Running", "running", "Running",
                                   "", "", "", {"app": spec}, ready_containers=1, status="Running",
                                   created=1_700_000_000)
    return pods, nodes, rng


def step(pods, rng, usage):
    """One cycle's changes: new usage for every pod, 1 % change state, 0.5 % replaced."""
    from collectors.podspec import PodInfo

    keys = list(pods)
    for key in rng.sample(keys, max(1, len(keys) // 100)):
        info = pods[key]
        crashed = info.state == "running"
        pods[key] = PodInfo(info.namespace, info.name, info.uid, info.node, "Running",
                            "failed" if crashed else "running", "", "", "", "", info.containers,
                            ready_containers=0 if crashed else 1,
                            status="CrashLoopBackOff" if crashed else "Running", created=info.created)
    for key in rng.sample(keys, max(1, len(keys) // 200)):
        info = pods.pop(key)
        fresh = (info.namespace, f"{info.name[:10]}-{rng.randrange(16**5):05x}")
        pods[fresh] = PodInfo(fresh[0], fresh[1], info.uid + "x", info.node, "Pending", "pending", "", "", "", "",
                              info.containers, status="ContainerCreating", created=info.created)
    usage.pod_usage = {key: {"cpu_nanocores": rng.uniform(1e6, 4e8), "memory_bytes": rng.uniform(2**24, 2**29),
                             "network_bytes_per_second": rng.randrange(100_000)} for key in pods}


# --- the client process ---

_SEQ = re.compile(rb'"seq":(\d+)')
# "deflate" (what browsers ask for) or None: permessage-deflate costs the server a zlib pass per socket.
COMPRESSION = os.environ.get("BENCH_LIVE_COMPRESSION", "deflate") or None
# The server as deploy/entrypoint.py runs it (no permessage-deflate); BENCH_LIVE_SERVER_DEFLATE=1
# offers it, as uvicorn does by default, to measure what it costs.
SERVER_DEFLATE = os.environ.get("BENCH_LIVE_SERVER_DEFLATE", "") not in ("", "0", "false")


async def _clients(url, cookies, count, ready, results, stop):
    import websockets

    received = []  # (seq, wall time, kind)

    async def one(index):
        headers = {"Cookie": f"sessionid={cookies[index % len(cookies)]}", "Origin": "http://127.0.0.1"}
        async with websockets.connect(url, additional_headers=headers, max_size=None, open_timeout=60,
                                      ping_interval=None, compression=COMPRESSION) as ws:
            first = await ws.recv(decode=False)
            ready.put(1)
            del first
            async for message in ws:
                now = time.time()
                head = message[:80] if isinstance(message, bytes) else message[:80].encode()
                match = _SEQ.search(head)
                received.append((int(match.group(1)) if match else -1, now,
                                 "delta" if b'"delta"' in head else "snapshot"))

    tasks = []
    for index in range(count):
        tasks.append(asyncio.create_task(one(index)))
        if index % 50 == 49:
            await asyncio.sleep(0.05)  # do not open a thousand TCP handshakes at once
    while not stop.is_set():
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    results.put(received)


def client_process(url, cookies, count, ready, results, stop):
    asyncio.run(_clients(url, cookies, count, ready, results, stop))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def run(url, cookies, clients, pod_count, cycles, every):
    """Publish ``cycles`` cycles to ``clients`` sockets; ``[(seq, publish start, publish end)]`` and the receipts."""
    from collectors import snapshot
    from collectors.usage import UsageResult
    from kubemon.cluster import record_inventory
    from kubemon.redis import get_redis

    redis = get_redis()
    redis.flushdb()
    snapshot._last.update(seq=None, view=None)
    pods, nodes, rng = cluster(pod_count)
    usage = UsageResult()
    step(pods, rng, usage)
    record_inventory(redis, nodes, {})
    snapshot.publish_usage(redis, pods, usage, 1_700_000_000)
    ready, results, stop = multiprocessing.Queue(), multiprocessing.Queue(), multiprocessing.Event()
    process = multiprocessing.Process(target=client_process, args=(url, cookies, clients, ready, results, stop))
    process.start()
    for _ in range(clients):
        ready.get(timeout=300)
    time.sleep(1.0)
    published = []
    for cycle in range(cycles):
        step(pods, rng, usage)
        started = time.time()
        view = snapshot.publish_usage(redis, pods, usage, 1_700_000_000 + 15 * (cycle + 1))
        published.append((view["seq"], started, time.time()))
        time.sleep(every)
    time.sleep(2.0)
    stop.set()
    received = results.get(timeout=120)
    process.join(timeout=30)
    return published, received


def report(label, published, received, clients):
    starts = {seq: (start, end) for seq, start, end in published}
    latencies, fulls, missing = [], 0, 0
    for seq, (start, _end) in starts.items():
        got = [(now, kind) for s, now, kind in received if s == seq]
        missing += clients - len(got)
        fulls += sum(1 for _, kind in got if kind == "snapshot")
        latencies += [(now - start) * 1000 for now, _ in got]
    publish_ms = [(end - start) * 1000 for _, start, end in published]
    print(f"{label}: {len(latencies)} receipts over {len(published)} cycles; "
          f"p50 {percentile(latencies, 50):.0f} ms, p95 {percentile(latencies, 95):.0f} ms, "
          f"max {max(latencies, default=float('nan')):.0f} ms; publisher {statistics.median(publish_ms):.0f} ms "
          f"(median); snapshots instead of deltas: {fulls}; missing: {missing}", flush=True)


def publisher_phases(pod_count):
    """What ``publish_usage`` costs per phase at ``pod_count`` pods (median of 5, no subscriber)."""
    import orjson

    from collectors import snapshot
    from collectors.snapshot import build_view
    from collectors.usage import UsageResult
    from kubemon.liveview import diff_by_namespace, tenant_view
    from kubemon.redis import get_redis

    pods, nodes, rng = cluster(pod_count)
    usage = UsageResult()
    step(pods, rng, usage)
    previous, next_id = build_view(pods, usage, nodes, {}, {}, [], 0)
    ids = {(r[1], r[2]): r[0] for r in previous["pods"]}
    phases = {"build_view": [], "diff": [], "tenant_view x10": [], "encode": [], "publish_usage": []}
    redis = get_redis()
    for _ in range(5):
        step(pods, rng, usage)
        t = time.perf_counter()
        view, _ = build_view(pods, usage, nodes, {}, {}, [], 0, ids, next_id)
        phases["build_view"].append(time.perf_counter() - t)
        t = time.perf_counter()
        diff_by_namespace(previous["pods"], view["pods"])
        phases["diff"].append(time.perf_counter() - t)
        t = time.perf_counter()
        for tenant in range(10):
            tenant_view(view, [f"team-{tenant:02d}", f"team-{tenant + 10:02d}"])
        phases["tenant_view x10"].append(time.perf_counter() - t)
        t = time.perf_counter()
        encoded = orjson.dumps(view)
        phases["encode"].append(time.perf_counter() - t)
        t = time.perf_counter()
        snapshot.publish_usage(redis, pods, usage, 1_700_000_000)
        phases["publish_usage"].append(time.perf_counter() - t)
        previous = view
    print(f"publisher at {pod_count} pods (view {len(encoded) / 1e6:.2f} MB): " + ", ".join(
        f"{name} {statistics.median(values) * 1000:.1f} ms" for name, values in phases.items()), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="500,1000")
    parser.add_argument("--pods", type=int, default=1000, help="cluster size for the fan-out runs")
    parser.add_argument("--latency-pods", default="1000,10000")
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between published cycles")
    parser.add_argument("--sessions", type=int, default=50, help="distinct logged-in sessions the sockets share")
    parser.add_argument("--redis-db", type=int, default=13)
    args = parser.parse_args()
    setup_django(args.redis_db)
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_collect import machine_speed

    print(f"machine speed reference: influxdb-client Point, {machine_speed():,.0f} container lines/s "
          "(38,775 on the first session's reference run)", flush=True)
    cookies = sessions(args.sessions)
    port = free_port()
    server = start_server(port)
    url = f"ws://127.0.0.1:{port}/ws/live/"
    try:
        for pod_count in [int(v) for v in args.latency_pods.split(",") if v]:
            publisher_phases(pod_count)
            published, received = run(url, cookies, 1, pod_count, args.cycles, args.every)
            report(f"(a) cycle end -> receipt, 1 socket, {pod_count} pods", published, received, 1)
        for clients in [int(v) for v in args.clients.split(",") if v]:
            published, received = run(url, cookies, clients, args.pods, args.cycles, args.every)
            report(f"(b) fan-out, {clients} sockets ({args.sessions} sessions), {args.pods} pods", published,
                   received, clients)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # uvicorn waits for open sockets to close
            server.kill()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
