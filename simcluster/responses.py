"""What the API answers with: content types, ``Status`` documents and the errors that become them.

Handlers raise ``ApiError``; the dispatcher turns it into a Status body as the API server words it.
"""

from __future__ import annotations

import orjson

from .cluster import ApiError

JSON = "application/json"
PROM = "text/plain; version=0.0.4; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


def status_body(
    code: int, reason: str, message: str, details: dict | None = None, extra: dict | None = None
) -> bytes:
    doc = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        doc["details"] = details
    if extra:
        doc.update(extra)
    return orjson.dumps(doc)


# resource as a 404 names it -> (the details' kind, the API group): metrics-server names its
# resources "nodemetrics.metrics.k8s.io" in messages and "nodes" in details
_GROUPS = {"nodemetrics": ("nodes", "metrics.k8s.io"), "podmetrics": ("pods", "metrics.k8s.io")}


def not_found(resource: str, name: str) -> ApiError:
    """The API server's 404 for a named object: ``pods "x" not found``."""
    if resource not in _GROUPS:
        return ApiError(404, "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource})
    kind, group = _GROUPS[resource]
    details = {"name": name, "group": group, "kind": kind}
    return ApiError(404, "NotFound", f'{resource}.{group} "{name}" not found', details)


def lookup(table: dict, key, resource: str, name: str, usable=None):
    """``table[key]``, or the API server's 404 Status for ``name`` when it is absent or, given
    ``usable``, not usable (a node that is not Ready has no metrics)."""
    obj = table.get(key)
    if obj is None or (usable is not None and not usable(obj)):
        raise not_found(resource, name)
    return obj


def forbidden(verb: str, resource: str, name: str) -> ApiError:
    """The apiserver's RBAC refusal, worded as a real one is."""
    subject = f'{resource} "{name}"' if name else resource
    return ApiError(
        403,
        "Forbidden",
        f'{subject} is forbidden: User "system:serviceaccount:kubemon:kubemon" cannot {verb} resource '
        f'"{resource}" in API group "" at the cluster scope',
    )


def metrics_down(resource: str) -> ApiError:
    what = f" (get {resource}.metrics.k8s.io)" if resource else ""
    return ApiError(503, "ServiceUnavailable", f"the server is currently unable to handle the request{what}")
