"""The cluster's last live view, as the chart pages read it: scoped pods and nodes, node access.

The usage cycle stores the cluster's whole view in Redis after each cycle (``keys.SNAPSHOT``,
rows in ``kubemon.liveview``'s column order). The node page lists the pods on a node from it, and
decides from it which nodes a tenant may open: those that run one of the tenant's pods.
"""

import logging

import orjson

from kubemon import cluster, keys
from kubemon.liveview import N, P
from kubemon.redis import get_redis

log = logging.getLogger(__name__)


def last_view(redis=None):
    """The last stored view, or None (no cycle yet, Redis down, an unreadable document)."""
    try:
        raw = (redis or get_redis()).get(keys.SNAPSHOT)
    except Exception as exc:  # noqa: BLE001  (a page without its live part still shows its charts)
        log.warning("live view unavailable: %s", exc)
        return None
    if not raw:
        return None
    try:
        view = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(view, dict) or not isinstance(view.get("pods"), list):
        return None
    return view


def visible_pods(view, scope):
    """The pod rows of ``view`` whose namespace ``scope`` sees."""
    if view is None:
        return []
    return [row for row in view["pods"] if scope.allows(row[P["namespace"]])]


def pods_on(view, scope, node):
    rows = [row for row in visible_pods(view, scope) if row[P["node"]] == node]
    return sorted(rows, key=lambda row: (row[P["namespace"]], row[P["name"]]))


def node_row(view, name):
    for row in (view or {}).get("nodes") or ():
        if row[N["name"]] == name:
            return row
    return None


def known_nodes(view, redis=None):
    """Nodes the last view or the last inventory listed."""
    names = {row[N["name"]] for row in (view or {}).get("nodes") or ()}
    try:
        names |= set(cluster.inventory_nodes(redis or get_redis()))
    except Exception as exc:  # noqa: BLE001
        log.warning("inventory nodes unavailable: %s", exc)
    return names


def node_visible(scope, view, name, redis=None):
    """Staff: any node kubemon knows. A tenant: a node that runs one of its pods (else: 404)."""
    if scope.sees_cluster:
        return name in known_nodes(view, redis)
    return any(row[P["node"]] == name for row in visible_pods(view, scope))


def pod_dict(row):
    """A pod row as a template reads it."""
    return {name: row[index] for name, index in P.items()}
