"""The portal's HTTP client of the fan host (fanhost/server.py): one short request per call.

Every failure is a ``FanHostError`` whose text says what went wrong (unreachable, refused the
token, answered nonsense), so the panel and ``/k8s/fan/status`` can show it rather than hide it.
"""

from __future__ import annotations

import requests


class FanHostError(Exception):
    """The fan host could not be asked; ``kind`` is ``unreachable``, ``unauthorised`` or ``bad-answer``."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class FanHostClient:
    def __init__(self, url, token, timeout=2.0, session=None):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = session or requests.Session()

    def state(self):
        return self._call("GET", "/fan/state")

    def heartbeat(self, panel=None):
        return self._call("POST", "/heartbeat", {"panel": panel} if panel is not None else {})

    def start(self, speed=1.0, reason=""):
        return self._call("POST", "/fan/start", {"speed": float(speed), "reason": reason[:200]})

    def stop(self, reason=""):
        return self._call("POST", "/fan/stop", {"reason": reason[:200]})

    def speed(self, speed, reason=""):
        return self._call("POST", "/fan/speed", {"speed": float(speed), "reason": reason[:200]})

    def _call(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self.session.request(method, self.url + path, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise FanHostError("unreachable", f"fan host {self.url} unreachable: {type(exc).__name__}") from exc
        if response.status_code == 401:
            raise FanHostError("unauthorised", f"fan host {self.url} refused the token (401): check FAN_TOKEN")
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if response.status_code != 200 or not isinstance(doc, dict):
            detail = doc.get("error") if isinstance(doc, dict) else response.text[:120]
            raise FanHostError("bad-answer", f"fan host {self.url} answered {response.status_code}: {detail}")
        if not isinstance(doc.get("running"), bool):
            raise FanHostError("bad-answer", f"fan host {self.url} sent a state without 'running'")
        return doc
