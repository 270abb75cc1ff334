"""The agent's loop: keep the latest summary of its node from kubemon and show it on the device.

The websocket first (a message per usage cycle); while it is down, ``GET /k8s/nodelight/<node>``
every ``poll`` seconds, and the websocket again every ``ws_retry`` seconds. Without a summary
younger than ``unknown_after`` seconds (or with one kubemon marks stale) the LEDs blink the
"unknown" pattern instead of keeping a colour that may no longer be true.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from . import lights

log = logging.getLogger("nodelight")


class Agent:
    def __init__(self, base_url, node, token, device, mode="0", unknown_after=60.0, poll=5.0, ws_retry=30.0,
                 clock=time.monotonic):
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"kubemon's URL must be http(s)://..., not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.node = node
        self.token = token
        self.device = device
        self.mode = mode
        self.unknown_after = unknown_after
        self.poll = poll
        self.ws_retry = ws_retry
        self.clock = clock
        self.summary = None
        self.last_contact = None
        self.shown = None
        self.source = None  # "websocket" | "http" | None
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    # --- what is shown --------------------------------------------------------------------
    def current(self):
        with self.lock:
            if self.summary is None or self.last_contact is None:
                return None
            if self.clock() - self.last_contact > self.unknown_after:
                return None
            return self.summary

    def show(self):
        colours = lights.leds(self.current(), self.mode, phase=int(self.clock() * 2))
        if colours != self.shown:
            for index, rgb in enumerate(colours):
                self.device.set(index, rgb)
            self.shown = colours
        return colours

    def on_summary(self, doc, source):
        with self.lock:
            self.summary = doc
            self.last_contact = self.clock()
            self.source = source
        self.show()

    # --- talking to kubemon ---------------------------------------------------------------
    def _headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def fetch_http(self):
        url = f"{self.base_url}/k8s/nodelight/{urllib.parse.quote(self.node, safe='')}"
        request = urllib.request.Request(url, headers=self._headers())  # noqa: S310 (http(s) only, checked)
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (the operator's URL)
            doc = json.loads(response.read())
        self.on_summary(doc, "http")
        return doc

    def ws_url(self):
        parts = urllib.parse.urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = f"{parts.path.rstrip('/')}/ws/nodelight/{urllib.parse.quote(self.node, safe='')}/"
        return urllib.parse.urlunsplit((scheme, parts.netloc, path, "", ""))

    def run_websocket(self, until=None):
        """Follow the websocket until it closes, ``stop()`` or the monotonic ``until``."""
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(self.ws_url(), additional_headers=self._headers(), origin=self.base_url,
                     open_timeout=5, close_timeout=2) as socket:
            log.info("following %s", self.ws_url())
            while not self.stopping.is_set() and (until is None or self.clock() < until):
                try:
                    message = socket.recv(timeout=0.5)
                except TimeoutError:
                    continue
                except ConnectionClosed as exc:
                    log.warning("websocket closed: %s", exc)
                    return
                self.on_summary(json.loads(message), "websocket")

    def run(self):
        ticker = threading.Thread(target=self._tick, name="nodelight-ticker", daemon=True)
        ticker.start()
        while not self.stopping.is_set():
            try:
                self.run_websocket()
            except Exception as exc:  # noqa: BLE001  (refused, unreachable, bad handshake: fall back)
                log.warning("websocket unavailable (%s); polling %s/k8s/nodelight/ instead", exc, self.base_url)
            self._poll_for(self.ws_retry)

    def _poll_for(self, seconds):
        deadline = self.clock() + seconds
        while not self.stopping.is_set() and self.clock() < deadline:
            try:
                self.fetch_http()
            except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
                log.warning("kubemon unreachable for %s: %s", self.node, exc)
            self.stopping.wait(self.poll)

    def _tick(self):
        while not self.stopping.wait(0.5):
            self.show()

    def stop(self):
        self.stopping.set()
