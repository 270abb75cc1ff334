"""The live view as the chart pages read it: the user's scoped view, a node's pods, node access.

The view is ``web.livedata.current_view`` (the overview's and the consumer's): the cluster's last
view for staff, ``kubemon.liveview.tenant_view`` of it for a tenant (its own pods, and only the
nodes that run them). The node page lists a node's pods from it and decides from it which nodes a
tenant may open.
"""

import logging

from kubemon import cluster
from kubemon.liveview import N, P
from kubemon.redis import get_redis
from web.livedata import current_view, empty_view

log = logging.getLogger(__name__)


def scoped_view(scope, redis=None):
    """The view ``scope`` may see; an empty view when Redis cannot tell (the charts still work)."""
    try:
        return current_view(redis or get_redis(), scope)
    except Exception as exc:  # noqa: BLE001  (Redis down or an unreadable document)
        log.warning("live view unavailable: %s", exc)
        return empty_view()


def pods_on(view, node):
    rows = [row for row in view["pods"] if row[P["node"]] == node]
    return sorted(rows, key=lambda row: (row[P["namespace"]], row[P["name"]]))


def node_row(view, name):
    for row in view["nodes"]:
        if row[N["name"]] == name:
            return row
    return None


def known_nodes(view, redis=None):
    """Nodes the last view or the last inventory listed."""
    names = {row[N["name"]] for row in view["nodes"]}
    try:
        names |= set(cluster.inventory_nodes(redis or get_redis()))
    except Exception as exc:  # noqa: BLE001
        log.warning("inventory nodes unavailable: %s", exc)
    return names


def node_visible(scope, view, name, redis=None):
    """Staff: any node kubemon knows. A tenant: a node of its view, one that runs its pods (else 404)."""
    if scope.sees_cluster:
        return name in known_nodes(view, redis)
    return node_row(view, name) is not None


def node_view(view, node):
    """``view`` with only ``node``'s pods: what the node page embeds for its live client."""
    return {**view, "pods": pods_on(view, node)}


def pod_dict(row):
    """A pod row as a template reads it."""
    return {name: row[index] for name, index in P.items()}
