"""Temperature push throughput: ``GET /k8s/collect/<token>/temperature`` on one uvicorn worker.

    .venv/bin/python bench/bench_temperature.py [--seconds 10] [--connections 32]

Starts the ASGI server (one worker, no reload, DEBUG off) with Redis database 14 (or `BENCH_REDIS_DB`), then loads it
with ``wrk`` (Debian package ``wrk``) from 2 threads; every request is a valid push that is
queued in Redis. Prints requests/s and latency, then checks that every accepted push was queued.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent

from benchutil import bench_redis_url  # noqa: E402

TOKEN = "bench-token"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    redis_url = bench_redis_url()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    env = dict(os.environ, SECRET_KEY="bench", DEBUG="false", TEMPERATURE_PUSH_TOKEN=TOKEN, REDIS_URL=redis_url,
               DATABASE_URL="sqlite:////tmp/kubemon-bench-temperature.sqlite3", LOG_LEVEL="WARNING")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "kubemon.asgi:application", "--host", "127.0.0.1", "--port",
         str(args.port), "--workers", "1", "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{args.port}/k8s/collect/{TOKEN}/temperature?node=rpi-1&value=48312"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        client.flushdb()
        result = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", url],
                                capture_output=True, text=True, check=True).stdout
    finally:
        server.terminate()
        server.wait()
    print(result)
    requests_done = int(re.search(r"(\d+) requests in", result).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result)
    queued = client.llen("kubemon:temperature:queue")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result).group(1)
    print(f"requests/s: {rate}; "
          f"non-2xx: {errors.group(1) if errors else 0}; pushes queued in Redis: {queued} of {requests_done}")


if __name__ == "__main__":
    main()
