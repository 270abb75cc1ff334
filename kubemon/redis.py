"""One Redis connection pool for locks, the spool and live caches."""

import functools

import redis


@functools.cache
def get_redis():
    from django.conf import settings

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


def reset_redis():
    get_redis.cache_clear()
