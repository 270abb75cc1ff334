"""What failed, in one line: the words an operator acts on, not the transport's exception chain.

A refused connection to InfluxDB surfaces as five chained exceptions (socket, urllib3 twice,
requests, the store's own) whose text repeats a 5,000-character query URL. A cycle report, a log
line and ``manage.py collect`` say instead which service, where, and the root cause:
``InfluxDB unavailable at http://127.0.0.1:8086: connection refused``.
"""

from kubemon.timeseries import TimeseriesUnavailable

MAX_REASON = 200


def _chain(exc):
    """``exc`` and the exceptions it was raised from or during, outermost first."""
    seen = []
    while exc is not None and all(exc is not other for other in seen):
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def root_reason(exc):
    """The root cause of ``exc`` in a few words: ``connection refused``, ``timed out``, or else
    the first line of its own message."""
    for cause in reversed(_chain(exc)):
        if isinstance(cause, TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[:1].lower() + cause.strerror[1:]
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def influxdb_failure(exc, url):
    """One line for a ``TimeseriesError`` of the store at ``url``."""
    if isinstance(exc, TimeseriesUnavailable):
        return f"InfluxDB unavailable at {url}: {root_reason(exc)}"
    return f"InfluxDB at {url}: {root_reason(exc)}"


def redis_address(redis):
    """``redis://host:port/db`` of a client, without its password."""
    kwargs = redis.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def redis_failure(exc, redis):
    """One line for a ``redis.RedisError`` of the client ``redis``."""
    return f"Redis unavailable at {redis_address(redis)}: {root_reason(exc)}"
