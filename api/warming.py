"""The questions the API's clients ask every day, for ``metrics.warm`` to answer ahead of them."""

from django.conf import settings

from billing.access import AccessScope
from billing.models import NamespaceOwnership, Tenant
from metrics.engine import GROUP_TAGS
from metrics.selection import Selection
from metrics.warm import DEFAULT_METRICS, warm


def selections(exclude=None):
    """``(grouping, Selection)`` pairs the API builds for its callers, global view first: every
    ``all-*`` grouping of the global view and of each tenant, and ``pod-by-namespace`` of each
    owned namespace."""
    exclude = settings.API_DEFAULT_EXCLUDED_NAMESPACES if exclude is None else exclude
    pairs = []
    scopes = [AccessScope.all_namespaces()] + [AccessScope.for_tenants([t.pk]) for t in Tenant.objects.all()]
    for scope in scopes:
        for mode in ("all-namespace", "all-pod"):
            pairs.append((GROUP_TAGS[mode], Selection.for_scope(scope, exclude)))
    for namespace in NamespaceOwnership.objects.values_list("namespace", flat=True):
        pairs.append((GROUP_TAGS["pod-by-namespace"], Selection.one(namespace)))
    return pairs


def warm_client_queries(days=31, metric_names=DEFAULT_METRICS, now=None):
    """Warm the day cache for every question ``selections()`` lists; returns the queries made."""
    return warm(selections(), days=days, metric_names=metric_names, now=now)
