"""Watches: newline-delimited events streamed with chunked encoding, so the client's
``Watch().stream`` sees each event as it happens rather than when the watch ends."""

from __future__ import annotations

import time

import orjson

from .cluster import ApiError
from .responses import JSON, status_body

MAX_WATCH_SECONDS = 3600


def _event(etype: str, data: bytes) -> bytes:
    return b'{"type":"' + etype.encode() + b'","object":' + data + b"}\n"


class Watch:
    """Handler methods that stream a watch (a mixin of server.Handler)."""

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, q: dict, kind: str, namespace: str | None, match) -> None:
        sim = self.server.sim
        try:
            timeout = min(int(q.get("timeoutSeconds") or 1800), MAX_WATCH_SECONDS)
            raw_rv = q.get("resourceVersion") or ""
            since = int(raw_rv) if raw_rv not in ("", "0") else None
        except ValueError:
            raise ApiError(400, "BadRequest", "resourceVersion and timeoutSeconds must be integers") from None
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        deadline = time.monotonic() + timeout

        def wanted(v) -> bool:
            return (namespace is None or v.namespace == namespace) and (match is None or match(v))

        self.send_response(200)
        self.send_header("Content-Type", JSON)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        with sim.lock:
            sim.sync()
            if since is not None and since < sim.events_floor:
                lines = [
                    _event(
                        "ERROR",
                        status_body(
                            410, "Expired", f"too old resource version: {since} ({sim.events_floor})"
                        ),
                    )
                ]
                cursor = None
            elif since is None:
                lines = [_event("ADDED", v.data) for v in sim.views(kind, namespace) if wanted(v)]
                cursor = sim.rv
            else:
                lines, cursor = [], since
        try:
            if lines:
                self._chunk(b"".join(lines))
            last_sent = time.monotonic()
            while cursor is not None and not sim.stopped:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with sim.cond:
                    sim.sync()
                    if cursor < sim.events_floor:
                        out = [
                            _event(
                                "ERROR",
                                status_body(
                                    410, "Expired", f"too old resource version: {cursor} ({sim.events_floor})"
                                ),
                            )
                        ]
                        evs, cursor = [], None
                    else:
                        evs = sim.events_after(kind, cursor)
                        out = []
                    if not evs and cursor is not None:
                        sim.cond.wait(min(remaining, 0.25))
                        evs = sim.events_after(kind, cursor)
                    rv_now = sim.rv
                for rv, etype, old, new in evs:
                    cursor = rv
                    # like the API server, a change that moves an object into or out of the
                    # selection is an ADDED or a DELETED for this watcher
                    was = old is not None and wanted(old)
                    if wanted(new):
                        out.append(_event("ADDED" if etype == "MODIFIED" and not was else etype, new.data))
                    elif was and etype != "DELETED":
                        out.append(_event("DELETED", new.data))
                if bookmarks and not out and time.monotonic() - last_sent > 10 and cursor is not None:
                    cursor = max(cursor, rv_now)
                    out.append(
                        _event(
                            "BOOKMARK",
                            orjson.dumps(
                                {
                                    "kind": kind,
                                    "apiVersion": "v1",
                                    "metadata": {"resourceVersion": str(cursor)},
                                }
                            ),
                        )
                    )
                if out:
                    self._chunk(b"".join(out))
                    last_sent = time.monotonic()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
