"""The legacy portal routes of the fan (k8s-monitoring's ``/k8s/fan/*``), for staff and fan operators.

``GET /k8s/fan/status`` → ``{isEnabled, isRunning, isAutoMode, minTemperature, maxTemperature,
message}`` plus kubemon's keys (speed, mode, reason, override, alert, host...); ``POST
/k8s/fan/on`` and ``/k8s/fan/off`` switch it by hand for ``FAN_OVERRIDE_SECONDS``; ``POST
/k8s/fan/auto`` ends the override. The session's CSRF token goes in ``X-CSRFToken``. A host that
is down or refuses the token is a 502 with the reason, never a quiet "off".
"""

import logging
import time

from django.conf import settings
from django.http import JsonResponse

from fan import service
from fan.access import may_operate
from fan.client import FanHostError
from kubemon.httpmethods import require_GET, require_POST
from kubemon.redis import get_redis
from kubemon.timeseries import get_store

log = logging.getLogger(__name__)


def _refuse(request):
    if not request.user.is_authenticated:
        return JsonResponse({"code": 401, "message": "log in first"}, status=401)
    if not may_operate(request.user):
        return JsonResponse({"code": 403, "message": "only staff and fan operators may see or switch the fan"},
                            status=403)
    return None


def current_status(redis=None, now=None):
    """The status from the last tick; when the ticks stopped, the host is asked directly and the
    answer says auto mode is not running."""
    redis = redis or get_redis()
    now = time.time() if now is None else now
    state = service.load_state(redis)
    doc = service.status(state)
    if not settings.FAN_SERVER_URL:
        return doc
    ticked = state.get("ticked")
    late = ticked is None or now - ticked > 3 * max(settings.FAN_TICK_SECONDS, 1.0)
    if late:
        try:
            host = service.client_from_settings().state()
            doc.update(isRunning=host["running"], speed=host["speed"],
                       message="FAN ON" if host["running"] else "FAN OFF")
            doc["host"] = {"ok": True, "error": None, "failsafe": host["failsafe"], "reason": host["reason"],
                           "checked": now}
        except FanHostError as exc:
            doc.update(isRunning=None, message=str(exc))
            doc["host"] = {"ok": False, "error": str(exc), "failsafe": None, "reason": None, "checked": now}
        since = "never" if ticked is None else f"{now - ticked:.0f} s ago"
        doc["warning"] = f"auto mode is not running: the last fan tick was {since} (is Celery beat up?)"
    return doc


@require_GET
def fan_status(request):
    refused = _refuse(request)
    return refused or JsonResponse(current_status())


def _switch(request, running):
    refused = _refuse(request)
    if refused:
        return refused
    if not settings.FAN_SERVER_URL:
        return JsonResponse({**current_status(), "code": 409, "message": "Disabled Fan service"}, status=409)
    redis = get_redis()
    try:
        if running is None:
            service.clear_manual(redis, get_store())
        else:
            service.set_manual(redis, get_store(), running, request.user.get_username())
    except FanHostError as exc:
        log.error("fan switch by %s failed: %s", request.user.get_username(), exc)
        return JsonResponse({**current_status(redis), "code": 502, "message": str(exc)}, status=502)
    log.info("fan %s by %s", {True: "on", False: "off", None: "back to auto"}[running], request.user.get_username())
    return JsonResponse(current_status(redis))


@require_POST
def fan_on(request):
    return _switch(request, True)


@require_POST
def fan_off(request):
    return _switch(request, False)


@require_POST
def fan_auto(request):
    return _switch(request, None)
