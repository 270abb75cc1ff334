"""The fan's beat task (``fan-tick`` in settings.CELERY_BEAT_SCHEDULE, when FAN_SERVER_URL is set)."""

import logging

from celery import shared_task

from fan import service
from kubemon import keys
from kubemon.redis import get_redis, try_lock
from kubemon.timeseries import get_store

log = logging.getLogger(__name__)


@shared_task(name="fan.tasks.fan_tick", ignore_result=True)
def fan_tick():
    redis = get_redis()
    with try_lock(redis, keys.FAN_LOCK, timeout=15) as acquired:
        if not acquired:
            log.info("fan tick skipped: another one is running")
            return None
        state = service.tick(redis, get_store())
        return state.get("mode")
