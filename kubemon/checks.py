"""Django system checks: a missing or unreachable dependency is named with a clear message.

They run with ``manage.py check --deploy`` or ``manage.py check --tag kubemon``; they are
registered as deploy checks so that ``migrate`` and the test runner do not need InfluxDB up.
"""

from django.conf import settings
from django.core import checks

from kubemon import health


@checks.register("kubemon", deploy=True)
def check_dependencies(app_configs=None, **kwargs):
    errors = []
    redis = health.redis_status()
    if redis["status"] != "ok":
        errors.append(
            checks.Error(
                f"Redis at {settings.REDIS_URL} is unreachable: {redis['error']}",
                hint="Start Redis or set REDIS_URL.",
                id="kubemon.E001",
            )
        )
    influx = health.influxdb_status()
    if influx["status"] != "ok":
        errors.append(
            checks.Error(
                f"InfluxDB at {settings.INFLUXDB_URL} is unreachable: {influx['error']}",
                hint="Start InfluxDB (make services) or set INFLUXDB_URL.",
                id="kubemon.E002",
            )
        )
    return errors


@checks.register("kubemon", deploy=True)
def check_secret_key_for_deployment(app_configs=None, **kwargs):
    if settings.SECRET_KEY_IS_EPHEMERAL:
        return [checks.Error("SECRET_KEY is not set", hint="Set SECRET_KEY or SECRET_KEY_FILE.", id="kubemon.E004")]
    return []


@checks.register("kubemon")
def check_settings(app_configs=None, **kwargs):
    errors = []
    if settings.SECRET_KEY_IS_EPHEMERAL and not settings.DEBUG:
        errors.append(
            checks.Warning(
                "SECRET_KEY is not set: this process uses a random key, so sessions and signed links "
                "will not survive a restart.",
                hint="Set SECRET_KEY or SECRET_KEY_FILE.",
                id="kubemon.W002",
            )
        )
    if not settings.INFLUXDB_URL.startswith(("http://", "https://")):
        errors.append(
            checks.Error(
                f"INFLUXDB_URL={settings.INFLUXDB_URL!r} must start with http:// or https://",
                id="kubemon.E003",
            )
        )
    if settings.INFLUXDB_USERNAME and settings.INFLUXDB_TOKEN:
        errors.append(
            checks.Warning(
                "Both INFLUXDB_USERNAME and INFLUXDB_TOKEN are set; the token is used.",
                id="kubemon.W001",
            )
        )
    return errors
