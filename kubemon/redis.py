"""One Redis connection pool for locks, the spool and live caches."""

import asyncio
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
