"""The fan panel (``/web/fan/``) and its data (``/web/fan/data``), for staff and fan operators.

The page shows the switch, auto mode, thresholds, speed, why the fan is as it is, host errors,
and one temperature chart per node with the fan's on periods as bands; its script polls the
data every few seconds. Switching goes through the legacy routes (``POST /k8s/fan/on|off|auto``).
"""

import logging
import time

from django.http import Http404, JsonResponse
from django.shortcuts import render

from fan import history
from fan.access import may_operate
from fan.views import current_status
from kubemon.timeseries import TimeseriesError, get_store

log = logging.getLogger(__name__)
RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400}


def _window(request):
    name = request.GET.get("range", "1h")
    if name not in RANGES:
        return None, None
    return name, RANGES[name]


def override_until(status):
    """When a manual override ends, as the rule's reason says it (UTC); None without an end."""
    until = (status.get("override") or {}).get("until")
    return None if until is None else time.strftime("%H:%M UTC", time.gmtime(until))


def fan_page(request):
    if not may_operate(request.user):
        raise Http404("no fan panel for you")  # the fan is an operator's business: not even its existence
    name, _ = _window(request)
    status = current_status()
    return render(request, "web/fan.html", {
        "status": status, "override_until": override_until(status), "range": name or "1h", "ranges": list(RANGES),
        "page": {"data_url": "/web/fan/data", "range": name or "1h", "every": 5},
    })


def panel_data(now, seconds, store=None):
    """The status, the on periods and each node's temperatures over the last ``seconds``."""
    begin = now - seconds
    doc = {"status": current_status(now=now), "begin": begin, "end": now, "bands": [], "changes": [],
           "temperatures": {"times": [], "nodes": {}}, "error": None}
    try:
        store = store or get_store()
        rows = history.changes(store, begin, now)
        doc["bands"] = history.bands(rows, begin, now)
        doc["changes"] = [{"time": t, "running": r, "speed": s, "mode": m, "reason": why}
                          for t, r, s, m, why in rows if t >= begin][-50:]
        doc["temperatures"] = history.temperature_series(store, begin, now)
    except TimeseriesError as exc:
        log.warning("fan panel history unavailable: %s", exc)
        doc["error"] = f"history unavailable: {exc}"
    return doc


def fan_data(request):
    if not may_operate(request.user):
        raise Http404("no fan panel for you")
    name, seconds = _window(request)
    if name is None:
        return JsonResponse({"code": 400, "message": f"range must be one of {', '.join(RANGES)}"}, status=400)
    return JsonResponse(panel_data(time.time(), seconds))
