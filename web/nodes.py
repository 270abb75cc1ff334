"""The node page (``/web/nodes/<name>/``) and its chart data (``/web/data/nodes/<name>/series``).

Staff see any node kubemon knows, with the node's own CPU, memory, temperature and GPU charts. A
tenant user sees only the nodes that run one of the tenant's pods, and on them only what those
pods used (``metrics.series.NODE_CHARTS_OF_PODS``); any other node is a 404.
"""

from datetime import UTC, datetime

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from kubemon.liveview import N
from metrics.selection import Selection
from metrics.series import node_allocatable, node_charts
from web.access import request_scope
from web.liveread import node_row, node_view, node_visible, pod_dict, pods_on, scoped_view
from web.ranges import CUSTOM, RANGES, RangeError, is_live, parse_range
from web.timefmt import input_value

CHART_TITLES = {
    "cpu": "CPU",
    "memory": "Memory (working set)",
    "temperature": "Temperature",
    "gpu_utilization": "GPU utilisation",
    "gpu_memory": "GPU memory used",
    "gpu_power": "GPU power",
}


def _selection(scope):
    """None for the whole node (staff), else the tenant's namespaces."""
    return None if scope.sees_cluster else Selection.for_scope(scope)


def _visible_or_404(request, name):
    scope = request_scope(request)
    view = scoped_view(scope)
    if not node_visible(scope, view, name):
        raise Http404("No such node")
    return scope, view


def _node_summary(row):
    if row is None:
        return None
    return {column: row[index] for column, index in N.items()}


@require_GET
def node_page(request, name):
    scope, view = _visible_or_404(request, name)
    try:
        window, key = parse_range(request.GET)
        error = None
    except RangeError as exc:
        window, key = parse_range({})
        error = f"{exc.field}: {exc}"
    pods = [pod_dict(row) for row in pods_on(view, name)]
    selection = _selection(scope)
    kinds = [kind for kind in CHART_TITLES if selection is None or kind != "temperature"]
    page = {
        "node": name,
        "dataUrl": reverse("web:node_data", args=[name]),
        "range": key,
        "live": is_live(key),
        "start": window.begin.isoformat(),
        "end": window.end.isoformat(),
        "charts": [{"kind": kind, "title": CHART_TITLES[kind]} for kind in kinds],
        "scope": "node" if selection is None else "pods",
    }
    context = {
        "node": name,
        "summary": _node_summary(node_row(view, name)),
        "tenant_view": selection is not None,
        "charts": page["charts"],
        "pods": pods,
        "ranges": list(RANGES),
        "range": key,
        "custom": key == CUSTOM,
        "start_value": input_value(window.begin),
        "end_value": input_value(window.end),
        "error": error,
        "page": page,
        "live_view": node_view(view, name),
    }
    return render(request, "web/node.html", context, status=400 if error else 200)


@require_GET
def node_data(request, name):
    """The node's charts over the requested range, one bucket grid for all (``metrics.series``)."""
    scope, _ = _visible_or_404(request, name)
    try:
        window, key = parse_range(request.GET)
    except RangeError as exc:
        return JsonResponse({"code": 400, "message": f"{exc.field}: {exc}"}, status=400)
    selection = _selection(scope)
    charts = node_charts(name, window, selection=selection)
    first = next(iter(charts.values()))
    body = {
        "node": name,
        "range": key,
        "start": window.begin.isoformat(),
        "end": window.end.isoformat(),
        "step": first.step,
        "times": first.times,
        "scope": "node" if selection is None else "pods",
        "charts": {kind: {"title": CHART_TITLES[kind], **{k: v for k, v in series.as_json().items() if k != "times"}}
                   for kind, series in charts.items()},
        "allocatable": node_allocatable(name, window.end) if selection is None else None,
        "generated": datetime.now(UTC).isoformat(),
    }
    return JsonResponse(body)
