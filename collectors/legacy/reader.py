"""Reading the legacy InfluxDB (Heapster's sink, the nvml GPU agent) in time chunks.

Every statement binds its values (``$level``, ``$start``, ``$end``); measurement and tag names
come from the import's catalogue only (``collectors.legacy.catalogue``), quoted. A chunk is read
with ``GROUP BY`` the series' tags, so the answer is a list of series with ``[time, value]`` pairs:
a few bytes per row, whatever else Heapster tagged the row with.
"""

import threading

from kubemon.timeseries import TimeseriesAuthError, TimeseriesError, TimeseriesQueryError, TimeseriesUnavailable
from kubemon.timeseries.schema import quote_identifier

LABELS_TAG = "labels"


class LegacyImportError(Exception):
    """What went wrong, in words for the operator (the command exits non-zero with it)."""


def _ns(moment):
    return int(moment.timestamp()) * 1_000_000_000


class LegacyReader:
    def __init__(self, store, sources):
        self.store = store
        # Only catalogued names are ever quoted into a statement.
        self.allowed = {name: source for name, source in sources.items()}

    def _query(self, statement, params=None, epoch=None):
        try:
            return self.store.query(statement, params=params, epoch=epoch)
        except TimeseriesUnavailable as exc:
            raise LegacyImportError(f"cannot reach the legacy InfluxDB at {self.store.url}: {exc}") from None
        except TimeseriesAuthError as exc:
            raise LegacyImportError(f"the legacy InfluxDB at {self.store.url} refused the credentials "
                                    f"(--username, --password-file): {exc}") from None
        except TimeseriesError as exc:
            raise LegacyImportError(f"the legacy InfluxDB at {self.store.url} refused a query: {exc}") from None

    def check(self):
        """The measurements of the legacy database; a clear error when the server or database is wrong."""
        try:
            series = self.store.query("SHOW DATABASES")
        except TimeseriesUnavailable as exc:
            raise LegacyImportError(f"cannot reach the legacy InfluxDB at {self.store.url}: {exc}") from None
        except TimeseriesAuthError as exc:
            raise LegacyImportError(f"the legacy InfluxDB at {self.store.url} refused the credentials "
                                    f"(--username, --password-file): {exc}") from None
        except TimeseriesQueryError as exc:
            raise LegacyImportError(f"{self.store.url} does not answer like InfluxDB 1.x: {exc}") from None
        databases = [row[0] for s in series for row in s.get("values") or []]
        if self.store.database not in databases:
            found = ", ".join(d for d in databases if d != "_internal") or "none"
            raise LegacyImportError(f"the legacy InfluxDB at {self.store.url} has no database "
                                    f"{self.store.database!r} (it has: {found}); pass --database")
        series = self._query("SHOW MEASUREMENTS")
        return [row[0] for s in series for row in s.get("values") or []]

    def levels(self, name):
        """The values of Heapster's ``type`` tag in measurement ``name`` (empty: no such tag)."""
        statement = f"SHOW TAG VALUES FROM {self._measurement(name)} WITH KEY = \"type\""
        return {row[1] for s in self._query(statement) for row in s.get("values") or []}

    def _measurement(self, name):
        if name not in self.allowed:
            raise LegacyImportError(f"unknown legacy measurement {name!r}")
        return quote_identifier(name)

    def _where(self, level, extra=""):
        where = "time >= $start AND time < $end"
        if level is not None:
            where = f"\"type\" = $level AND {where}"
        return where + extra

    def bounds(self, name, level, since, until):
        """``(first, last)`` sample times (epoch ms) of the rows to import in [since, until), or None."""
        params = {"start": _ns(since), "end": _ns(until)}
        if level is not None:
            params["level"] = level
        found = []
        for order in ("ASC", "DESC"):
            statement = (f"SELECT \"value\" FROM {self._measurement(name)} WHERE {self._where(level)} "  # noqa: S608
                         f"ORDER BY time {order} LIMIT 1")
            series = self._query(statement, params=params, epoch="ms")
            if not series:
                return None
            found.append(series[0]["values"][0][0])
        return found[0], found[1]

    def chunk(self, source, level, start, end, with_labels=False):
        """``[(tags dict, [[time ms, value], ...]), ...]`` of one measurement in [start, end)."""
        params = {"start": _ns(start), "end": _ns(end)}
        if level is not None:
            params["level"] = level
        tags = list(source.tags) + ([LABELS_TAG] if with_labels else [])
        group = ", ".join(quote_identifier(tag) for tag in tags)
        statement = (f"SELECT \"value\" FROM {self._measurement(source.name)} "  # noqa: S608  (catalogued names)
                     f"WHERE {self._where(level)} GROUP BY {group}")
        return [(s.get("tags") or {}, s["values"]) for s in self._query(statement, params=params, epoch="ms")]


class ReadAhead:
    """``fn(*args)`` run in a thread of its own while the caller does something else; ``result()``
    waits for it and returns its value or raises its exception. A daemon thread: an interrupted
    import does not wait for a read it no longer needs."""

    def __init__(self, fn, *args):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), name="kubemon-legacy-read", daemon=True)
        self._thread.start()

    def _run(self, fn, args):
        try:
            self._value = fn(*args)
        except BaseException as exc:  # noqa: BLE001  (raised in the caller's thread by result())
            self._error = exc

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
