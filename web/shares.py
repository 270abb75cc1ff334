"""The namespace shares page (``/web/shares/``): sunbursts namespace → pod of CPU, memory, GPUs and network.

The page starts from the last live view (scoped server-side: a tenant gets its own pods only)
and follows the live messages after that. The system namespaces (``WEB_SHARES_EXCLUDED_NAMESPACES``,
default ``kube-system``) are left out, here and in the browser for the live updates.
"""

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kubemon.liveview import P
from web.access import request_scope
from web.liveread import scoped_view

# What each sunburst adds up, from the pod rows (``kubemon.liveview.POD_COLUMNS``).
SHARES = (
    {"key": "cpu", "title": "CPU", "unit": "millicores", "column": "cpu"},
    {"key": "memory", "title": "Memory (working set)", "unit": "bytes", "column": "memory"},
    {"key": "gpu", "title": "GPUs held", "unit": "GPUs", "column": "gpus"},
    {"key": "net", "title": "Network (rx + tx)", "unit": "bytes/s", "column": "net"},
)
# Pods that no longer hold anything (completed, failed by phase) still appear in the live view.
_HOLDING_STATES = frozenset({"running", "pending", "deleting", "failed"})


def share_pods(view, excluded):
    """The pod rows of a (scoped) view the sunbursts draw: outside ``excluded``, holding resources."""
    excluded = frozenset(excluded)
    return [row for row in view["pods"] if row[P["namespace"]] not in excluded and row[P["state"]] in _HOLDING_STATES]


def namespace_totals(rows, column):
    """``{namespace: total of column}`` (null values count as 0), for the page's text summary."""
    totals = {}
    index = P[column]
    for row in rows:
        totals[row[P["namespace"]]] = totals.get(row[P["namespace"]], 0) + (row[index] or 0)
    return totals


@require_GET
def shares_page(request):
    view = scoped_view(request_scope(request))
    excluded = list(settings.WEB_SHARES_EXCLUDED_NAMESPACES)
    rows = share_pods(view, excluded)
    summary = []
    for share in SHARES:
        totals = namespace_totals(rows, share["column"])
        top = sorted(((value, ns) for ns, value in totals.items() if value), reverse=True)[:5]
        summary.append({**share, "top": [{"namespace": ns, "value": value} for value, ns in top]})
    page = {"excluded": excluded, "shares": list(SHARES), "overview": "/"}
    # The live client starts from this view (the drawn pods only: the excluded ones would only
    # weigh on the page) and keeps it current with the cycles' deltas.
    live_view = {**view, "pods": rows}
    return render(request, "web/shares.html", {"shares": summary, "excluded": excluded, "pod_count": len(rows),
                                               "has_view": bool(view["seq"]), "page": page, "live_view": live_view})
