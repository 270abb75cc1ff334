"""The namespace shares page (``/web/shares/``): sunbursts namespace → pod of CPU, memory, GPUs and network.

The page starts from the last live view (scoped server-side: a tenant gets its own pods only)
and follows the live messages after that. The system namespaces (``WEB_SHARES_EXCLUDED_NAMESPACES``,
default ``kube-system``) are left out, here and in the browser for the live updates.
"""

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kubemon.liveview import POD_COLUMNS, P
from web.access import request_scope
from web.liveread import last_view, visible_pods

# What each sunburst adds up, from the pod rows (``kubemon.liveview.POD_COLUMNS``).
SHARES = (
    {"key": "cpu", "title": "CPU", "unit": "millicores", "column": "cpu"},
    {"key": "memory", "title": "Memory (working set)", "unit": "bytes", "column": "memory"},
    {"key": "gpu", "title": "GPUs held", "unit": "GPUs", "column": "gpus"},
    {"key": "net", "title": "Network (rx + tx)", "unit": "bytes/s", "column": "net"},
)
# Pods that no longer hold anything (completed, failed by phase) still appear in the live view.
_HOLDING_STATES = frozenset({"running", "pending", "deleting", "failed"})


def share_pods(view, scope, excluded):
    """The pod rows the sunbursts draw: visible to ``scope``, outside ``excluded``, holding resources."""
    excluded = frozenset(excluded)
    return [row for row in visible_pods(view, scope)
            if row[P["namespace"]] not in excluded and row[P["state"]] in _HOLDING_STATES]


def namespace_totals(rows, column):
    """``{namespace: total of column}`` (null values count as 0), for the page's text summary."""
    totals = {}
    index = P[column]
    for row in rows:
        totals[row[P["namespace"]]] = totals.get(row[P["namespace"]], 0) + (row[index] or 0)
    return totals


@require_GET
def shares_page(request):
    scope = request_scope(request)
    view = last_view()
    excluded = list(settings.WEB_SHARES_EXCLUDED_NAMESPACES)
    rows = share_pods(view, scope, excluded)
    summary = []
    for share in SHARES:
        totals = namespace_totals(rows, share["column"])
        top = sorted(((value, ns) for ns, value in totals.items() if value), reverse=True)[:5]
        summary.append({**share, "top": [{"namespace": ns, "value": value} for value, ns in top]})
    page = {
        "columns": list(POD_COLUMNS),
        "pods": rows,
        "time": view.get("time") if view else None,
        "seq": view.get("seq") if view else None,
        "excluded": excluded,
        "shares": list(SHARES),
        "overview": "/",
    }
    return render(request, "web/shares.html", {"shares": summary, "excluded": excluded, "pod_count": len(rows),
                                               "has_view": view is not None, "page": page})
