"""What a node light shows, as kubemon knows it: the node's pods per state and the worst of them.

The node-light agent on each node (fanhost/nodelight/) reads this instead of watching the
Kubernetes API, so it needs no RBAC and the pod-state rules stay in one place (the collectors'
classification and ``kubemon.liveview.worst_state``, DESIGN §5): every namespace, CrashLoopBackOff
and image-pull errors as failed, terminal phases, a deletion timestamp as deleting.

``GET /k8s/nodelight/<node>`` answers the summary; the websocket ``ws/nodelight/<node>/``
(fan/nodelight_consumer.py) sends it on connect and after every usage cycle. Both want
``Authorization: Bearer <NODELIGHT_TOKEN>``: a node's pod counts and colour, nothing else.
"""

import hmac
import time

import orjson
from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from kubemon import keys
from kubemon.liveview import COLOURS, SEVERITY, N, P, worst_state
from kubemon.redis import get_redis

STATES = tuple(SEVERITY)  # succeeded, running, pending, deleting, failed


def token_ok(header):
    """``header`` is the Authorization value (str or bytes); False when no token is configured."""
    expected = settings.NODELIGHT_TOKEN
    if not expected or not header:
        return False
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    if not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), expected.encode())


def stale_after(view):
    return max(3 * float(view.get("every") or 15), 60.0)


def summary(view, node, now=None):
    """The node's summary, or None when the view does not know the node."""
    now = time.time() if now is None else now
    known = any(row[N["name"]] == node for row in view.get("nodes", []))
    counts = dict.fromkeys(STATES, 0)
    for row in view.get("pods", []):
        if row[P["node"]] == node:
            counts[row[P["state"]]] = counts.get(row[P["state"]], 0) + 1
            known = True
    if not known:
        return None
    active = [state for state in STATES if state != "succeeded" and counts[state]]
    worst = worst_state(active) if active else None
    published = view.get("published")
    return {
        "node": node, "seq": view.get("seq"), "time": view.get("time"), "published": published,
        "stale": published is None or now - published > stale_after(view),
        "counts": counts, "state": worst, "colour": COLOURS[worst] if worst else "off",
        "any_running": counts["running"] > 0,
    }


def load_view(redis):
    raw = redis.get(keys.SNAPSHOT)
    return orjson.loads(raw) if raw else {}


@require_GET
def node_light(request, node):
    if not settings.NODELIGHT_TOKEN:
        return JsonResponse({"code": 503, "message": "node lights are off: set NODELIGHT_TOKEN"}, status=503)
    if not token_ok(request.headers.get("Authorization")):
        response = JsonResponse({"code": 401, "message": "a valid 'Authorization: Bearer <token>' is required"},
                                status=401)
        response["WWW-Authenticate"] = 'Bearer realm="nodelight"'
        return response
    doc = summary(load_view(get_redis()), node)
    if doc is None:
        return JsonResponse({"code": 404, "message": f"kubemon knows no node {node!r}"}, status=404)
    return JsonResponse(doc)
