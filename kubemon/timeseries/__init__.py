"""kubemon's only door to InfluxDB: line-protocol writer, InfluxQL runner, schema, spool.

``get_store()`` builds the store once from settings; tests call ``reset_store()`` after
changing them. ``to_line`` is the one line of a point as the store writes it, for a caller that
queues lines to hand to ``store.write_lines`` later (the temperature push).
"""

import functools

from kubemon.timeseries.errors import (
    IdentifierNotAllowed,
    TimeseriesAuthError,
    TimeseriesDatabaseMissing,
    TimeseriesError,
    TimeseriesQueryError,
    TimeseriesUnavailable,
    TimeseriesWriteError,
)
from kubemon.timeseries.lineprotocol import to_line
from kubemon.timeseries.store import Point, TimeseriesStore, WriteReport

__all__ = [
    "IdentifierNotAllowed",
    "Point",
    "TimeseriesAuthError",
    "TimeseriesDatabaseMissing",
    "TimeseriesError",
    "TimeseriesQueryError",
    "TimeseriesStore",
    "TimeseriesUnavailable",
    "TimeseriesWriteError",
    "WriteReport",
    "get_store",
    "open_store",
    "reset_store",
    "to_line",
]


@functools.cache
def get_store():
    from django.conf import settings

    from kubemon.redis import get_redis
    from kubemon.timeseries.backlog import RollupBacklog
    from kubemon.timeseries.client import InfluxClient
    from kubemon.timeseries.deadletter import DeadLetters
    from kubemon.timeseries.spool import FileSpool, RedisSpool

    client = InfluxClient(
        settings.INFLUXDB_URL,
        settings.INFLUXDB_DATABASE,
        username=settings.INFLUXDB_USERNAME,
        password=settings.INFLUXDB_PASSWORD,
        token=settings.INFLUXDB_TOKEN,
        timeout=settings.INFLUXDB_TIMEOUT,
        verify_tls=settings.INFLUXDB_VERIFY_TLS,
        gzip_writes=settings.INFLUXDB_GZIP,
    )
    if settings.INFLUXDB_SPOOL == "redis":
        spool = RedisSpool(get_redis(), settings.INFLUXDB_SPOOL_KEY)
    elif settings.INFLUXDB_SPOOL in ("", "none"):
        spool = None
    else:
        spool = FileSpool(settings.INFLUXDB_SPOOL)
    return TimeseriesStore(client, spool=spool, batch_lines=settings.INFLUXDB_BATCH_LINES,
                           create_database=settings.INFLUXDB_CREATE_DATABASE,
                           retention=(settings.INFLUXDB_RAW_RETENTION, settings.INFLUXDB_HOURLY_RETENTION,
                                      settings.INFLUXDB_NAMESPACE_RETENTION, settings.INFLUXDB_CONTROLLER_RETENTION),
                           max_series=settings.INFLUXDB_MAX_SERIES_PER_DATABASE,
                           max_values_per_tag=settings.INFLUXDB_MAX_VALUES_PER_TAG,
                           backlog=RollupBacklog(get_redis()), dead_letters=DeadLetters(get_redis()))


def open_store(url=None, database=None, *, username=None, password=None, token=None, timeout=None,
               verify_tls=None, batch_lines=None, create_database=False):
    """A store of its own, without spool, for a command that reads or writes in bulk (the legacy
    import): another InfluxDB (``url``/``database``, a legacy server), or kubemon's own (the
    settings' defaults) whose write raises ``TimeseriesUnavailable`` instead of spooling millions of
    lines into Redis. Its backlog and dead letters are kubemon's, so late hours are recorded as usual.
    """
    from django.conf import settings

    from kubemon.redis import get_redis
    from kubemon.timeseries.backlog import RollupBacklog
    from kubemon.timeseries.client import InfluxClient
    from kubemon.timeseries.deadletter import DeadLetters

    own = url is None
    client = InfluxClient(
        settings.INFLUXDB_URL if own else url,
        settings.INFLUXDB_DATABASE if database is None else database,
        username=(settings.INFLUXDB_USERNAME if own else "") if username is None else username,
        password=(settings.INFLUXDB_PASSWORD if own else "") if password is None else password,
        token=(settings.INFLUXDB_TOKEN if own else "") if token is None else token,
        timeout=settings.INFLUXDB_TIMEOUT if timeout is None else timeout,
        verify_tls=settings.INFLUXDB_VERIFY_TLS if verify_tls is None else verify_tls,
        gzip_writes=settings.INFLUXDB_GZIP,
    )
    return TimeseriesStore(client, spool=None, batch_lines=batch_lines or settings.INFLUXDB_BATCH_LINES,
                           create_database=create_database,
                           retention=(settings.INFLUXDB_RAW_RETENTION, settings.INFLUXDB_HOURLY_RETENTION,
                                      settings.INFLUXDB_NAMESPACE_RETENTION, settings.INFLUXDB_CONTROLLER_RETENTION),
                           backlog=RollupBacklog(get_redis()) if own else None,
                           dead_letters=DeadLetters(get_redis()) if own else None)


def reset_store():
    get_store.cache_clear()
