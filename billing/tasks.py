"""Celery tasks of billing (their beat entries are data in kubemon/settings.py)."""

from celery import shared_task

from billing.services import publish_ownership, sync_namespace_labels
from billing.signals import publishing_deferred
from kubemon.cluster import namespace_labels
from kubemon.redis import get_redis


@shared_task(name="billing.tasks.assign_namespaces", ignore_result=True)
def assign_namespaces():
    """Give labelled namespaces to their tenants, then publish the ownership map.

    The labels are those the last inventory cycle recorded (``kubemon.cluster``); before the
    first inventory there are none, and the label ownerships are left as they are. The map is
    published at every run, so one lost on the way (Redis restarted) is back within a period.
    Idempotent: a run over the same labels changes nothing.
    """
    redis = get_redis()
    labels = namespace_labels(redis)
    if labels is not None:
        with publishing_deferred():
            sync_namespace_labels(labels)
    publish_ownership(redis)
    return {"namespaces": None if labels is None else len(labels)}
