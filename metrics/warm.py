"""Filling the day cache ahead of the billing clients (``manage.py warmquerycache``).

The first month-long query of a day reads a month of rollup from InfluxDB (about 0.7 s for
1,000 pods, docs/benchmarks.md); the ones after it read the cached days. Running this once a
day, after the previous day became final (``kubemon.timeseries.hours.ROLLUP_HORIZON`` after midnight), makes
that first query fast too. It asks exactly the questions the API will: every ``all-*`` grouping
of the global view and of each tenant, and ``pod-by-namespace`` of each owned namespace.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings

from billing.access import AccessScope
from billing.models import NamespaceOwnership, Tenant
from metrics.catalogue import METRICS
from metrics.engine import GROUP_TAGS, Selection, aggregate
from metrics.window import Window

DEFAULT_METRICS = ("cpu/usage_rate", "cpu/usage", "cpu/request", "memory/usage", "memory/working_set",
                   "memory/request", "gpu/usage", "gpu/request")


def selections(exclude=None):
    """``(grouping, Selection)`` pairs the API builds for its callers, global view first."""
    exclude = settings.API_DEFAULT_EXCLUDED_NAMESPACES if exclude is None else exclude
    pairs = []
    scopes = [AccessScope.all_namespaces()] + [AccessScope.for_tenants([t.pk]) for t in Tenant.objects.all()]
    for scope in scopes:
        for mode in ("all-namespace", "all-pod"):
            pairs.append((GROUP_TAGS[mode], Selection.for_scope(scope, exclude)))
    for namespace in NamespaceOwnership.objects.values_list("namespace", flat=True):
        pairs.append((GROUP_TAGS["pod-by-namespace"], Selection.one(namespace)))
    return pairs


def warm(days=31, metric_names=DEFAULT_METRICS, now=None):
    """Aggregate the last ``days`` whole days for each metric and selection; returns the queries made."""
    now = now or datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    window = Window(midnight - timedelta(days=days), midnight)
    count = 0
    pairs = selections()
    for name in metric_names:
        metric = METRICS[name]
        if not metric.rollup:
            continue
        for group_tags, selection in pairs:
            aggregate(metric, window, group_tags, selection, now=now)
            count += 1
    return count
