"""One Redis connection pool for locks, the spool and live caches."""

import asyncio
import contextlib
import functools
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


@contextlib.contextmanager
def try_lock(client, key, timeout):
    """Yield True while holding the Redis lock ``key``, or False at once if someone else holds it.

    The lock expires after ``timeout`` seconds, so a worker killed while holding it does not
    block the others for longer than that.
    """
    lock = client.lock(key, timeout=timeout)
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            # An expired lock cannot be released; that is fine, someone else may hold it now.
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()
