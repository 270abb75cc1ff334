"""The simulator's own endpoints: ``/sim/state``, ``/sim/truth`` and ``/sim/control``."""

from __future__ import annotations

import orjson

from .timeutil import parse_time_us
from .truth import truth


class SimEndpoints:
    """Handler methods for ``/sim/*`` (a mixin of server.Handler). Errors are ``{"error": …}``."""

    def _sim(self, method: str, path: str, q: dict) -> None:
        sim = self.server.sim

        def err(code: int, msg: str) -> None:
            self._send(code, orjson.dumps({"error": msg}))

        if path == "/sim/state" and method == "GET":
            with sim.lock:
                sim.sync()
                body = orjson.dumps(sim.state())
            self._send(200, body)
        elif path == "/sim/truth" and method == "GET":
            try:
                start = parse_time_us(q["start"]) if q.get("start") else None
                end = parse_time_us(q["end"]) if q.get("end") else None
            except ValueError as e:
                err(400, f"start/end must be RFC 3339 times: {e}")
                return
            with sim.lock:
                sim.sync()
                try:
                    doc = truth(sim, start, end)
                except ValueError as e:
                    err(400, str(e))
                    return
            self._send(200, orjson.dumps(doc))
        elif path == "/sim/control" and method == "POST":
            try:
                body = orjson.loads(self._body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
            except (orjson.JSONDecodeError, ValueError) as e:
                err(400, f"invalid JSON body: {e}")
                return
            if body.get("action") == "advance" and sim.fan is not None:
                sim.fan.refresh()  # time jumps: read the fan now, outside the lock
            with sim.lock:
                try:
                    state = sim.control(body)
                except LookupError as e:
                    err(404, str(e.args[0]))
                    return
                except ValueError as e:
                    err(409 if "manual-clock" in str(e) else 400, str(e))
                    return
            if sim.on_advance is not None:
                sim.on_advance()
            self._send(200, orjson.dumps(state))
        elif path in ("/sim/state", "/sim/truth", "/sim/control"):
            err(405, f"{method} is not allowed on {path}")
        else:
            err(404, f"no such simulator endpoint: {path}")
