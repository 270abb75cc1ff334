"""Dependency probes shared by ``GET /healthz`` and the Django system checks."""

from django.db import connection


def database_status():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:  # noqa: BLE001  (any failure means down)
        return {"status": "down", "error": str(exc)}


def redis_status():
    from kubemon.redis import get_redis

    try:
        get_redis().ping()
        return {"status": "ok"}
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "error": str(exc)}


def influxdb_status():
    from kubemon.timeseries import get_store

    return get_store().health()


def dependency_report():
    """Each dependency's status; ``ok`` is False when any of them is down."""
    report = {"database": database_status(), "redis": redis_status(), "influxdb": influxdb_status()}
    ok = all(part["status"] == "ok" for part in report.values())
    return ok, report
