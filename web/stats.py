"""The legacy stats pages: ``/web/stats/index``, ``/web/stats/<metric>`` and ``/web/stats/<metric>/<namespace>``.

Any catalogue metric over a window (the API's ``timeBeginInterval``/``timeEndInterval``), as a
chart (``metrics.series``), a table of the newest 1,000 rows, and a CSV (``?format=csv``) whose
rows are exactly what ``POST /api/<metric>`` answers for the same window, namespace, ``agg`` and
``limit`` 1,000. The rows come from the same ``metrics`` functions the API calls, chosen by
``stats_rows`` the way ``api.views.MetricQueryView`` chooses them.
"""

import csv
import io
import logging
from datetime import UTC, datetime
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from billing.models import NamespaceOwnership, is_valid_namespace
from kubemon import cluster
from kubemon.redis import get_redis
from metrics.catalogue import METRICS, get_metric
from metrics.engine import MODES, aggregate_rows
from metrics.raw import raw_rows
from metrics.selection import Selection
from metrics.series import metric_series
from metrics.window import Window, WindowError, format_time
from web.access import request_scope

log = logging.getLogger(__name__)

TABLE_ROWS = 1000
GROUPS = (("cpu", "CPU"), ("memory", "Memory"), ("network", "Network"), ("filesystem", "Filesystem"),
          ("gpu", "GPU"), ("coverage", "Coverage"), ("", "Pods and nodes"))


class StatsError(ValueError):
    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def resolve(path):
    """``(metric, namespace or None)`` of ``<metric>[/<namespace>]``; metric names contain ``/``."""
    path = path.strip("/")
    metric = get_metric(path)
    if metric is not None:
        return metric, None
    head, _, tail = path.rpartition("/")
    metric = get_metric(head) if head else None
    if metric is None or not tail:
        return None
    return metric, tail


def catalogue_groups(scope):
    """``[(title, [metric, ...])]`` the scope may open (node-level metrics need the cluster view)."""
    groups = []
    for prefix, title in GROUPS:
        found = [m for name, m in METRICS.items()
                 if (name.split("/")[0] == prefix if prefix else "/" not in name)
                 and (m.level != "node" or scope.sees_cluster)]
        if found:
            groups.append((title, found))
    return groups


def namespace_choices(scope):
    """The namespaces to offer: the tenant's, or every namespace kubemon knows of for staff."""
    if not scope.everything:
        return sorted(scope.namespaces)
    names = set(NamespaceOwnership.objects.values_list("namespace", flat=True))
    try:
        names |= set(cluster.namespace_labels(get_redis()) or ())
    except Exception as exc:  # noqa: BLE001  (Redis down: the owned namespaces are still a useful list)
        log.warning("namespace list unavailable: %s", exc)
    return sorted(names)


def stats_rows(metric, window, mode, namespace, scope, limit=TABLE_ROWS):
    """The rows ``POST /api/<metric>`` answers (its ``limit`` = ``limit``); the caller checked the namespace."""
    if metric.level == "node":
        if mode:
            raise StatsError("agg", f"{metric.name} is a node metric; only raw rows (no agg) are available")
        return raw_rows(metric, window, None, limit)
    if mode in ("all-namespace", "all-pod"):
        exclude = settings.API_DEFAULT_EXCLUDED_NAMESPACES
        return aggregate_rows(metric, window, mode, Selection.for_scope(scope, exclude))
    if mode == "pod-by-namespace":
        return aggregate_rows(metric, window, mode, Selection.one(namespace))
    return raw_rows(metric, window, Selection.one(namespace), limit)


def chart_selection(metric, mode, namespace, scope):
    if metric.level == "node":
        return None
    if mode in ("all-namespace", "all-pod"):
        return Selection.for_scope(scope, settings.API_DEFAULT_EXCLUDED_NAMESPACES)
    return Selection.one(namespace)


def parse_query(params, now=None):
    """``(Window, agg)`` from the form; the defaults are the API's (the last 60 minutes, raw rows)."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    begin = (params.get("timeBeginInterval") or "").strip() or None
    end = (params.get("timeEndInterval") or "").strip() or None
    try:
        window = Window.from_body(begin, end, now=now)
    except WindowError as exc:
        raise StatsError(exc.field, str(exc)) from None
    mode = params.get("agg") or ""
    if mode and mode not in MODES:
        raise StatsError("agg", f"must be one of {', '.join(MODES)} or empty")
    return window, mode


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def rows_csv(rows):
    """The rows as CSV: a header of the keys (in the rows' order, extra keys appended), empty for null."""
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(key)) for key in columns])
    return out.getvalue(), columns


def _display(value):
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@require_GET
def stats_index(request):
    return render(request, "web/stats_index.html", {"groups": catalogue_groups(request_scope(request))})


def _default_namespace(choices):
    return "default" if "default" in choices or not choices else choices[0]


@require_GET
def stats_page(request, path):
    found = resolve(path)
    if found is None:
        raise Http404("Unknown metric")
    metric, namespace = found
    scope = request_scope(request)
    if metric.level == "node" and not scope.sees_cluster:
        raise PermissionDenied(f"{metric.name} is cluster-level data: only operators see it")
    wanted = (request.GET.get("namespace") or "").strip()
    if metric.level != "node" and wanted and wanted != namespace:
        # The form's namespace becomes the path's, so the URL of what is shown can be shared.
        query = request.GET.copy()
        del query["namespace"]
        target = f"/web/stats/{metric.name}/{quote(wanted, safe='')}"
        return redirect(target + (f"?{query.urlencode()}" if query else ""))
    choices = namespace_choices(scope) if metric.level != "node" else []
    namespace = namespace or (_default_namespace(choices) if metric.level != "node" else None)
    if namespace is not None and (not is_valid_namespace(namespace) or not scope.allows(namespace)):
        raise Http404("No such namespace")
    want_csv = request.GET.get("format") == "csv"
    try:
        window, mode = parse_query(request.GET)
        rows = stats_rows(metric, window, mode, namespace, scope)
    except StatsError as exc:
        message = f"{exc.field}: {exc}"
        if want_csv:
            return JsonResponse({"code": 400, "message": message}, status=400)
        return render(request, "web/stats.html", _context(metric, namespace, choices, request.GET, error=message),
                      status=400)
    if want_csv:
        return _csv_response(metric, namespace, window, rows)
    series = metric_series(metric, window, chart_selection(metric, mode, namespace, scope))
    return render(request, "web/stats.html", _context(metric, namespace, choices, request.GET, window, mode, rows,
                                                     series))


def _csv_response(metric, namespace, window, rows):
    text, _ = rows_csv(rows)
    name = "-".join(part for part in (metric.name.replace("/", "-"), namespace, format_time(window.begin),
                                      format_time(window.end)) if part)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name.replace(":", "")}.csv"'
    return response


def _context(metric, namespace, choices, params, window=None, mode="", rows=(), series=None, error=None):
    begin = format_time(window.begin) if window else params.get("timeBeginInterval", "")
    end = format_time(window.end) if window else params.get("timeEndInterval", "")
    _, columns = rows_csv(rows)
    query = {"timeBeginInterval": begin, "timeEndInterval": end, "format": "csv"}
    if mode:
        query["agg"] = mode
    path = f"/web/stats/{metric.name}" + (f"/{quote(namespace, safe='')}" if namespace else "")
    csv_url = path + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    chart = None
    if series is not None:
        values = next(iter(series.lines.values()), [])
        chart = {"metric": metric.name, "unit": series.unit, "step": series.step, "times": series.times,
                 "values": values, "tiers": list(series.tiers)}
    return {
        "metric": metric, "namespace": namespace, "choices": choices, "node_level": metric.level == "node",
        "begin": begin, "end": end, "mode": mode, "modes": MODES, "error": error,
        "columns": columns, "rows": [[_display(row.get(c)) for c in columns] for row in rows],
        "row_count": len(rows), "limit": TABLE_ROWS, "csv_url": csv_url, "chart": chart,
    }
