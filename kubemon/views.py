from django.http import JsonResponse

from kubemon.health import dependency_report


def healthz(request):
    """Database, Redis and InfluxDB status as JSON; 503 when one of them is down."""
    ok, report = dependency_report()
    return JsonResponse({"status": "ok" if ok else "degraded", **report}, status=200 if ok else 503)
