"""What the benchmarks share (they run as scripts: ``bench/`` is on their ``sys.path``)."""

import os


def bench_redis_url():
    """The benchmark's own Redis database, flushed by it: 14, or ``BENCH_REDIS_DB`` when another
    user of database 14 (a test run) is about."""
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    return f"{base}/{os.environ.get('BENCH_REDIS_DB', '14')}"
