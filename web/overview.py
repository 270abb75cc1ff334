"""The overview (``/``): the shell of the live page, with the view the user may see embedded.

The page's script (frontend/src/pages/overview.js) draws the badge, totals and tables from the
embedded view and keeps them current through ``ws/live/`` (web/consumers.py). The view is the
cluster's last live view filtered by the request's AccessScope (``web.livedata``); without one
(no cycle yet, Redis down) the page still renders, with blanks.
"""

import logging

import orjson
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from kubemon.redis import get_redis
from web.access import request_scope
from web.livedata import current_view, empty_view

log = logging.getLogger(__name__)

# What json_script escapes, done on orjson's output: at 10,000 pods the view is about 2 MB and
# the standard library's encoder takes ten times as long.
_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def embedded_json(value):
    """``value`` as JSON that is safe inside ``<script type="application/json">``."""
    return mark_safe(orjson.dumps(value).decode().translate(_SCRIPT_ESCAPES))  # noqa: S308  (escaped above)


@require_GET
def overview(request):
    scope = request_scope(request)
    try:
        view = current_view(get_redis(), scope)
    except Exception as exc:  # noqa: BLE001  (the page works without its live data)
        log.warning("live view unavailable for the overview: %s", exc)
        view = empty_view()
    context = {
        "view_json": embedded_json(view),
        "health": view["health"],
        "seq": view["seq"],
        "view_time": view["time"],
        "pod_count": len(view["pods"]),
        "node_count": len(view["nodes"]),
        "tenant_view": not scope.everything,
        "config": {"socket": "/ws/live/"},
    }
    return render(request, "web/overview.html", context)
