"""Operations on tenancy: the namespace-label sync and the ownership map published for the live view."""

import logging

from django.db import transaction

from billing.models import NamespaceOwnership, Tenant, is_valid_namespace
from kubemon.cluster import publish_tenant_namespaces
from kubemon.redis import get_redis

log = logging.getLogger(__name__)

TENANT_LABEL = "kubemon.io/tenant"


@transaction.atomic
def sync_namespace_labels(namespace_labels):
    """Make the label-sourced ownerships match the ``kubemon.io/tenant=<slug>`` namespace labels.

    ``namespace_labels`` maps every namespace the cluster has to its labels (the inventory
    collector's view). A labelled namespace is given to the tenant with that slug; an ownership
    that came from a label is removed when the label goes, changes to an unknown slug, or the
    namespace disappears. Explicit ownerships always win: an operator's decision is never undone
    by a label.
    """
    slugs = {}
    for namespace, labels in namespace_labels.items():
        slug = (labels or {}).get(TENANT_LABEL)
        if slug and is_valid_namespace(namespace):
            slugs[namespace] = slug
    tenants = {t.slug: t for t in Tenant.objects.filter(slug__in=set(slugs.values()))}
    for unknown in sorted(set(slugs.values()) - set(tenants)):
        log.warning("namespace label %s=%s names no tenant; ignored", TENANT_LABEL, unknown)

    existing = {o.namespace: o for o in NamespaceOwnership.objects.select_related("tenant")}
    created = updated = removed = 0
    for namespace, slug in slugs.items():
        tenant = tenants.get(slug)
        current = existing.get(namespace)
        if tenant is None:
            continue
        if current is None:
            NamespaceOwnership.objects.create(
                namespace=namespace, tenant=tenant, source=NamespaceOwnership.Source.LABEL
            )
            created += 1
        elif current.source == NamespaceOwnership.Source.LABEL and current.tenant_id != tenant.id:
            current.tenant = tenant
            current.save(update_fields=["tenant", "updated"])
            updated += 1

    stale = [
        o.pk
        for namespace, o in existing.items()
        if o.source == NamespaceOwnership.Source.LABEL
        and (namespace not in slugs or slugs[namespace] not in tenants)
    ]
    if stale:
        removed = NamespaceOwnership.objects.filter(pk__in=stale).delete()[0]
    if created or updated or removed:
        log.info("namespace labels: %d ownerships created, %d moved, %d removed", created, updated, removed)


def ownership_map():
    """``{tenant_id: [namespace, ...]}`` of every ownership, however it came about."""
    owned = {}
    for tenant_id, namespace in NamespaceOwnership.objects.values_list("tenant_id", "namespace"):
        owned.setdefault(tenant_id, []).append(namespace)
    return owned


def publish_ownership(redis=None):
    """Publish the ownership map to Redis, where the live snapshot reads it (``kubemon.cluster``)."""
    publish_tenant_namespaces(redis or get_redis(), ownership_map())
