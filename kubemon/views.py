import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

from kubemon.health import dependency_report


def healthz(request):
    """Database, Redis and InfluxDB status as JSON; 503 when one of them is down."""
    ok, report = dependency_report()
    return JsonResponse({"status": "ok" if ok else "degraded", **report}, status=200 if ok else 503)


def metrics(request):
    """kubemon's own metrics in the Prometheus text format (kubemon/selfmetrics.py).

    With ``METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <token>``; without it,
    the page is open under DEBUG only and refused in production, where it would tell anyone the
    routes, tenants' traffic and the fan's state.
    """
    from kubemon.redis import get_redis
    from kubemon.selfmetrics import AUTH_FAILURES, render
    from kubemon.timeseries import get_store

    token = settings.METRICS_TOKEN
    if not token and not settings.DEBUG:
        return JsonResponse({"error": "set METRICS_TOKEN to scrape /metrics"}, status=403)
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            AUTH_FAILURES.labels("metrics").inc()
            response = JsonResponse({"error": "a bearer token is required"}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    body = render(get_redis(), get_store(), settings.PROMETHEUS_MULTIPROC_DIR, bool(settings.FAN_SERVER_URL))
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
