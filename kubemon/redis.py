"""One Redis connection pool for locks, the spool and live caches."""

import asyncio
import contextlib
import functools
import threading
import time
import weakref

import redis
import redis.asyncio

# An asyncio client is bound to the event loop it first ran on; keep one per loop.
_async_clients = weakref.WeakKeyDictionary()


@functools.cache
def get_redis():
    from django.conf import settings

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


def reset_redis():
    get_redis.cache_clear()
    _async_clients.clear()


def get_async_redis():
    """The ``redis.asyncio`` client of the running event loop (for async views)."""
    from django.conf import settings

    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
        _async_clients[loop] = client
    return client


# A held lock lives this long in Redis and is renewed by its holder every third of it, so the
# lock of a worker killed mid-task (Celery redelivers it: acks late) is free within seconds
# instead of blocking the redelivered run and the next beats for the whole timeout.
LOCK_LEASE_SECONDS = 5


@contextlib.contextmanager
def try_lock(client, key, timeout, lease=LOCK_LEASE_SECONDS):
    """Yield True while holding the Redis lock ``key``, or False at once if someone else holds it.

    The lock expires ``lease`` seconds after its holder stops renewing it (a killed worker), and
    at the latest after ``timeout`` seconds even if its holder is alive but stuck.
    """
    lease = min(lease, timeout)
    # Not thread-local: the renewing thread must see the token that the holder's thread took.
    lock = client.lock(key, timeout=lease, thread_local=False)
    acquired = lock.acquire(blocking=False)
    stop = threading.Event()
    renewer = None
    if acquired and lease < timeout:
        renewer = threading.Thread(target=_renew, args=(lock, lease, time.monotonic() + timeout, stop),
                                   name=f"lock-lease-{key}", daemon=True)
        renewer.start()
    try:
        yield acquired
    finally:
        stop.set()
        if renewer is not None:
            renewer.join()
        if acquired:
            # An expired lock cannot be released; that is fine, someone else may hold it now.
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()


def _renew(lock, lease, deadline, stop):
    while not stop.wait(lease / 3):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return  # the holder is stuck: let the lock expire at its timeout
        try:
            lock.extend(min(lease, remaining), replace_ttl=True)
        except (redis.exceptions.LockError, redis.exceptions.RedisError):
            return  # lost (expired, or Redis gone): the holder's run goes on without it
