"""The temperature push endpoint of the agents (DESIGN §5).

``GET /k8s/collect/<token>/temperature?node=<name>&value=<millidegrees>`` is the contract of the
busybox DaemonSet, kept as it is; ``POST /k8s/collect/temperature`` takes the same fields as a
form with the token in the ``X-Kubemon-Token`` header, so it stays out of access logs.
"""

import hashlib
import hmac

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from kubemon.httpmethods import require_GET, require_POST
from kubemon.redis import get_async_redis
from kubemon.temperatures import TemperatureError, is_known_node, record_push, validate

MAX_QUERY_LENGTH = 1024


def _error(status, message):
    return JsonResponse({"code": status, "message": message}, status=status)


def _token_matches(token):
    expected = settings.TEMPERATURE_PUSH_TOKEN
    if not expected or not token:
        return False
    # Digests have equal length, so compare_digest's time does not leak the token's length.
    return hmac.compare_digest(hashlib.sha256(token.encode()).digest(), hashlib.sha256(expected.encode()).digest())


async def _accept(request, token, data):
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_LENGTH:
        return _error(400, "query string too long")
    if not settings.TEMPERATURE_PUSH_TOKEN:
        return _error(403, "temperature push is disabled: set TEMPERATURE_PUSH_TOKEN")
    if not _token_matches(token):
        return _error(403, "invalid token")
    try:
        node, millidegrees, sensor = validate(data.get("node", ""), data.get("value"), data.get("sensor", "cpu"))
    except TemperatureError as exc:
        return _error(400, f"{exc.field}: {exc}")
    redis = get_async_redis()
    if not await is_known_node(redis, node):
        return _error(400, f"node: unknown node {node!r}")
    celsius = await record_push(redis, node, millidegrees, sensor)
    return JsonResponse({"code": 200, "message": "OK", "node": node, "sensor": sensor, "celsius": celsius})


# Async views: under ASGI a sync view hops to Django's single sync thread for every request,
# which capped this endpoint at about 380 requests/s (docs/benchmarks.md).
@require_GET
async def push_with_token_in_path(request, token):
    return await _accept(request, token, request.GET)


@csrf_exempt  # agents authenticate with the token header, not a session
@require_POST
async def push_with_token_in_header(request):
    return await _accept(request, request.headers.get("X-Kubemon-Token", ""), request.POST)
