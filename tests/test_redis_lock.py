"""The cycle lock: a worker killed while holding it must not keep the next runs out for long."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kubemon.redis import LOCK_LEASE_SECONDS, try_lock

ROOT = Path(__file__).resolve().parents[1]
HOLDER = """
import sys, time, redis
from kubemon.redis import try_lock
client = redis.Redis.from_url(sys.argv[1])
with try_lock(client, "kubemon:lock:test", 60) as acquired:
    print("held" if acquired else "refused", flush=True)
    time.sleep(120)
"""


def _acquire_once(client):
    with try_lock(client, "kubemon:lock:test", 60) as acquired:
        return acquired


def test_the_lock_of_a_killed_worker_is_free_within_the_lease_not_the_timeout(redis_db):
    url = redis_db.connection_pool.connection_kwargs
    redis_url = f"redis://{url['host']}:{url['port']}/{url['db']}"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, redis_url], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not _acquire_once(redis_db)
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        killed = time.monotonic()
        while not _acquire_once(redis_db):
            assert time.monotonic() - killed < LOCK_LEASE_SECONDS + 2, "the dead worker's lock outlived it"
            time.sleep(0.2)
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_live_holder_keeps_its_lock_past_the_lease(redis_db):
    held, done = threading.Event(), threading.Event()

    def hold():
        with try_lock(redis_db, "kubemon:lock:test", 60) as acquired:
            assert acquired
            held.set()
            done.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        held.wait(5)
        time.sleep(LOCK_LEASE_SECONDS * 2)
        assert not _acquire_once(redis_db)
    finally:
        done.set()
        thread.join()
    assert _acquire_once(redis_db)


def test_a_holder_that_hangs_past_the_timeout_loses_the_lock(redis_db):
    with try_lock(redis_db, "kubemon:lock:test", 2) as acquired:
        assert acquired
        time.sleep(3.5)
        with try_lock(redis_db, "kubemon:lock:test", 2) as second:
            assert second
