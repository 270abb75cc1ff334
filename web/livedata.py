"""The live view a user may see: which group they listen to and the full view their scope allows.

Shared by the overview page (which embeds the view it renders) and the websocket consumer (which
sends it on connect and whenever a socket cannot apply a delta). The cluster's view is what the
collectors last stored (``kubemon.keys.SNAPSHOT``); a scope that is not "everything" gets
``kubemon.liveview.tenant_view`` of it, filtered by the namespaces of its AccessScope: the same
object the API asks, never the ownership map the collectors used.
"""

import time

import orjson

from kubemon import keys
from kubemon.live import CLUSTER_GROUP, tenant_group
from kubemon.liveview import NODE_COLUMNS, POD_COLUMNS, tenant_view, totals_of


def empty_view():
    """What a page shows before the first usage cycle: blanks, not errors."""
    return {
        "type": "snapshot", "seq": 0, "time": None, "published": time.time(), "every": 15, "scope": "cluster",
        "health": {"status": "unknown", "detail": "no usage cycle has run yet"},
        "totals": totals_of([], {}), "node_columns": NODE_COLUMNS, "nodes": [], "pod_columns": POD_COLUMNS,
        "pods": [],
    }


def group_for(scope):
    """The one group a socket of ``scope`` listens to.

    Everything: ``cluster``. One tenant (a member, or staff looking at one tenant's share): that
    tenant's group, whose deltas hold only its namespaces. Several tenants at once (a scope
    ``web.access`` does not make today) would share no tenant group: they listen to ``cluster``
    and get full views filtered for them instead of deltas (``needs_full_views``)."""
    if scope.everything:
        return CLUSTER_GROUP
    if len(scope.tenant_ids) == 1:
        return tenant_group(next(iter(scope.tenant_ids)))
    return CLUSTER_GROUP


def needs_full_views(scope):
    return not scope.everything and group_for(scope) == CLUSTER_GROUP


def scope_key(scope):
    """A hashable name of what ``scope`` sees, for caching the views built for it."""
    return ("everything",) if scope.everything else ("namespaces", frozenset(scope.namespaces))


def view_for_scope(view, scope):
    if scope.everything:
        return view
    return tenant_view(view, scope.namespaces)


def decode_view(raw):
    return orjson.loads(raw) if raw else empty_view()


def current_view(redis, scope):
    """The latest view ``scope`` may see (sync: for a page)."""
    return view_for_scope(decode_view(redis.get(keys.SNAPSHOT)), scope)
