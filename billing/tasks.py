"""Celery tasks of billing (their beat entries are data in kubemon/settings.py)."""

import logging

from celery import shared_task

from billing.services import publish_ownership, sync_namespace_labels
from billing.signals import publishing_deferred
from kubemon.cluster import namespace_labels
from kubemon.redis import get_redis

log = logging.getLogger(__name__)


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


@shared_task(name="billing.tasks.draft_last_month", ignore_result=True)
def draft_last_month(tenant_ids=None, month=None, issue=None):
    """Draft (and with ``BILLING_AUTO_ISSUE``, issue) last month's statement of every tenant.

    Idempotent: a tenant whose statement of the month is already issued is skipped, a draft is
    recomputed in place, so a redelivered or repeated run changes nothing twice. ``tenant_ids``
    limits the run (ids, as Celery passes them); ``month`` (``"2026-11"``) overrides last month.
    Returns ``{"drafted": [ids], "issued": [ids], "skipped": [tenant ids], "failed": {id: reason}}``.
    """
    from django.conf import settings

    from billing.models import Statement, Tenant
    from billing.statements import Context, StatementError, last_month, month_bounds
    from billing.statements import draft as draft_statement
    from billing.statements import issue as issue_statement

    start, end = month_bounds(month) if month else last_month()
    issue = settings.BILLING_AUTO_ISSUE if issue is None else issue
    tenants = Tenant.objects.all() if tenant_ids is None else Tenant.objects.filter(pk__in=tenant_ids)
    ctx = Context()
    report = {"drafted": [], "issued": [], "skipped": [], "failed": {}}
    for tenant in tenants:
        done = Statement.objects.filter(tenant=tenant, period_start=start, period_end=end,
                                        state=Statement.State.ISSUED).exists()
        if done:
            report["skipped"].append(tenant.pk)
            continue
        try:
            statement = draft_statement(tenant, start, end, ctx)
            report["drafted"].append(statement.pk)
            if issue:
                issue_statement(statement, None, ctx)
                report["issued"].append(statement.pk)
        except StatementError as exc:
            log.warning("statement of %s for %s: %s", tenant.slug, start.strftime("%Y-%m"), exc)
            report["failed"][tenant.pk] = str(exc)
    return report
