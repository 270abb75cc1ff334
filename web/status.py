from django.shortcuts import render

from kubemon.health import dependency_report


def _detail(part):
    for key in ("error", "detail", "version", "vendor"):
        if part.get(key):
            return str(part[key])
    return ""


def status(request):
    """``/web/status/``: whether kubemon's parts (database, Redis, InfluxDB, the cluster) are up."""
    ok, report = dependency_report()
    rows = [{"name": name, "status": part.get("status", "unknown"), "detail": _detail(part)}
            for name, part in report.items()]
    return render(request, "web/status.html", {"ok": ok, "rows": rows})
