"""A small client for InfluxDB's v1 HTTP API: ``/ping``, ``/write`` and ``/query``.

InfluxDB 1.x serves this API natively; 2.x, Cloud and 3.x serve it through their v1
compatibility layer (token auth, DBRP mapping), which is why kubemon speaks nothing else.
"""

import gzip
import logging

import orjson
import requests

from kubemon.timeseries.errors import (
    TimeseriesAuthError,
    TimeseriesDatabaseMissing,
    TimeseriesQueryError,
    TimeseriesUnavailable,
    TimeseriesWriteError,
)
from kubemon.timeseries.schema import quote_identifier

log = logging.getLogger(__name__)

PRECISIONS = ("ns", "u", "ms", "s", "m", "h")


def _server_text(response):
    try:
        return response.json().get("error") or response.text.strip()
    except ValueError:
        return response.text.strip()


def parse_duration(text):
    """Seconds of a retention duration (``30d``, ``12h``, ``INF``: 0)."""
    return _parse_duration(text)


def _parse_duration(text):
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip()
    if text in ("0", "0s", "INF", "inf"):
        return 0
    if not text or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"retention duration {text!r} must look like 30d, 400d, 12h or INF")
    return int(text[:-1]) * units[text[-1]]


def _daily_shard(seconds):
    """A daily tier's shard duration: a year, or the retention itself when shorter (InfluxDB
    refuses a shard longer than its policy's retention)."""
    year = 365 * 86400
    return "365d" if not seconds or seconds >= year else f"{seconds}s"


class InfluxClient:
    def __init__(
        self,
        url,
        database,
        username="",
        password="",
        token="",
        timeout=10.0,
        verify_tls=True,
        gzip_writes=False,
    ):
        self.url = url.rstrip("/")
        self.database = database
        self.timeout = timeout
        self.gzip_writes = gzip_writes
        self.session = requests.Session()
        self.session.verify = verify_tls
        if token:
            # InfluxDB 2.x/3.x v1 compatibility accepts the token in this header.
            self.session.headers["Authorization"] = f"Token {token}"
        elif username:
            self.session.auth = (username, password)

    # --- transport ---
    def _request(self, method, path, **kwargs):
        try:
            response = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise TimeseriesUnavailable(f"InfluxDB at {self.url} is unreachable: {exc}") from exc
        if response.status_code in (401, 403):
            raise TimeseriesAuthError(f"InfluxDB refused the credentials: {_server_text(response)}")
        if response.status_code >= 500:
            raise TimeseriesUnavailable(f"InfluxDB answered {response.status_code}: {_server_text(response)}")
        return response

    def ping(self):
        """Return the server version, or raise ``TimeseriesUnavailable``."""
        response = self._request("GET", "/ping")
        if response.status_code != 204:
            raise TimeseriesUnavailable(f"InfluxDB /ping answered {response.status_code}")
        return response.headers.get("X-Influxdb-Version", "unknown")

    def write_body(self, body, precision="s", policy=None):
        """POST line-protocol text (str or bytes). Raises on any refusal."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        params = {"db": self.database, "precision": precision}
        if policy:
            params["rp"] = policy
        data = body.encode("utf-8") if isinstance(body, str) else body
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.gzip_writes:
            data = gzip.compress(data, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        response = self._request("POST", "/write", params=params, data=data, headers=headers)
        if response.status_code == 204:
            return
        text = _server_text(response)
        if response.status_code == 404 and "database not found" in text:
            raise TimeseriesDatabaseMissing(f"InfluxDB has no database {self.database!r}: {text}")
        if "retention policy not found" in text:
            raise TimeseriesDatabaseMissing(f"InfluxDB database {self.database!r} lacks a retention policy: {text}")
        raise TimeseriesWriteError(f"InfluxDB rejected the write ({response.status_code}): {text}")

    def query(self, statement, params=None, database=None, epoch=None, method="GET"):
        """Run InfluxQL with bound ``params``; return the list of series of the first statement.

        Values must arrive through ``params`` (``$name`` in the statement); identifiers come from
        ``kubemon.timeseries.schema``. Never format a value into ``statement``.
        """
        return self.query_all(statement, params, database, epoch, method)[0]

    def query_all(self, statement, params=None, database=None, epoch=None, method="GET"):
        query_params = {"q": statement}
        db = self.database if database is None else database
        if db:
            query_params["db"] = db
        if params:
            query_params["params"] = orjson.dumps(params).decode()
        if epoch:
            query_params["epoch"] = epoch
        if method == "GET":
            response = self._request("GET", "/query", params=query_params)
        else:
            response = self._request("POST", "/query", data=query_params)
        if response.status_code != 200:
            raise TimeseriesQueryError(f"InfluxDB rejected the query ({response.status_code}): "
                                       f"{_server_text(response)}")
        payload = orjson.loads(response.content)
        if "error" in payload:
            raise TimeseriesQueryError(f"InfluxDB rejected the query: {payload['error']}")
        results = []
        for result in payload.get("results", []):
            if "error" in result:
                raise TimeseriesQueryError(f"InfluxDB rejected the query: {result['error']}")
            results.append(result.get("series", []))
        return results or [[]]

    # --- set-up ---
    def ensure_database(self, raw_retention="30d", hourly_retention="90d", namespace_retention="1825d",
                        controller_retention=None):
        """Create the database and the ``raw``, ``hourly``, ``pod_daily``, ``namespace_hourly``/
        ``namespace_daily`` and ``controller_hourly``/``controller_daily`` policies; safe to run any
        number of times. A policy that exists is ALTERed to the duration given, so changing a
        retention setting takes effect at the next start (a shorter one drops the older shards).

        Raw data uses daily shards (cheap to drop as they expire, bounded series per shard);
        the hourly rollup uses weekly shards, the namespace and controller tiers (few series,
        kept for years) monthly ones, their daily tiers yearly ones. Pod detail (``hourly``,
        ``pod_daily``) shares ``hourly_retention``; the controller tier defaults to the
        namespace tier's; the node tier (``node_daily``) is kept as the namespace tier.
        """
        raw_seconds = _parse_duration(raw_retention)
        hourly_seconds = _parse_duration(hourly_retention)
        namespace_seconds = _parse_duration(namespace_retention)
        controller_seconds = _parse_duration(controller_retention or namespace_retention)
        db = quote_identifier(self.database)
        self.query(f"CREATE DATABASE {db}", database="", method="POST")
        existing = {row[0]: row for row in self._policies()}
        for name, seconds, shard, default in (
            ("raw", raw_seconds, "1d", True),
            ("hourly", hourly_seconds, "7d", False),
            ("namespace_hourly", namespace_seconds, "30d", False),
            ("namespace_daily", namespace_seconds, _daily_shard(namespace_seconds), False),
            ("pod_daily", hourly_seconds, "30d", False),
            ("controller_hourly", controller_seconds, "30d", False),
            ("controller_daily", controller_seconds, _daily_shard(controller_seconds), False),
            ("node_daily", namespace_seconds, _daily_shard(namespace_seconds), False),
        ):
            duration = f"{seconds}s" if seconds else "INF"
            verb = "ALTER" if name in existing else "CREATE"
            statement = (
                f"{verb} RETENTION POLICY {quote_identifier(name)} ON {db} "
                f"DURATION {duration} REPLICATION 1 SHARD DURATION {shard}"
            )
            if default:
                statement += " DEFAULT"
            self.query(statement, database="", method="POST")

    def _policies(self):
        series = self.query(f"SHOW RETENTION POLICIES ON {quote_identifier(self.database)}", database="")
        return series[0]["values"] if series else []

    def retention_policies(self):
        """``{name: duration}`` as InfluxDB reports them."""
        return {row[0]: row[1] for row in self._policies()}

    def drop_database(self):
        self.query(f"DROP DATABASE {quote_identifier(self.database)}", database="", method="POST")
