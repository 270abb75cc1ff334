"""Celery tasks of the API: warming the day cache before the billing clients ask."""

from celery import shared_task

from api.warming import warm_client_queries


@shared_task(name="api.tasks.warm_query_cache", ignore_result=True)
def warm_query_cache():
    """Idempotent: it recomputes and re-caches the last 31 finished days."""
    return {"queries": warm_client_queries()}
