"""Exceptions of the time-series store, each carrying the server's own text."""


class TimeseriesError(Exception):
    """Base class: something went wrong talking to InfluxDB."""


class TimeseriesUnavailable(TimeseriesError):
    """InfluxDB cannot be reached (refused, timed out, 5xx)."""


class TimeseriesAuthError(TimeseriesError):
    """InfluxDB refused the credentials (401/403)."""


class TimeseriesQueryError(TimeseriesError):
    """InfluxDB rejected a query (bad InfluxQL, unknown database...)."""


class TimeseriesWriteError(TimeseriesError):
    """InfluxDB rejected written data (bad line, field type conflict, beyond retention...)."""


class TimeseriesDatabaseMissing(TimeseriesWriteError):
    """The database (or a retention policy) written to does not exist yet."""


class IdentifierNotAllowed(TimeseriesError, ValueError):
    """A measurement, field, tag or retention policy name that is not in the schema whitelist."""
