"""The cost breakdown (``/web/billing/costs/``): what a window cost, tenant → namespace → pod.

``?range=``/``?start=&end=`` as on the chart pages (``web.ranges``; default the last 24 h), then
the level: nothing (staff on "all": every tenant, with the operator's unallocated and idle rows),
``tenant=<slug>`` (its namespaces; a tenant user is always at their own tenant), and
``namespace=<name>`` (its pods). Clicking a bar or a row opens the next level. The numbers come
from ``billing.breakdown`` (``metrics.allocation`` priced as statements are). A tenant or
namespace outside the request's scope is a 404.
"""

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.breakdown import OPERATOR_ROWS, ZERO, namespace_rows, pod_rows, tenant_rows
from billing.models import NamespaceOwnership, Tenant
from billing.statements import Context, StatementError
from kubemon.timeseries.errors import TimeseriesError
from web.access import request_scope
from web.billing import OPERATOR, chosen_scope, unavailable
from web.ranges import CUSTOM, RANGES, RangeError, parse_range
from web.timefmt import input_value

DEFAULT_RANGE = "24h"


def _window(params):
    params = params.copy()
    if not (params.get("range") or params.get("start") or params.get("end")):
        params["range"] = DEFAULT_RANGE
    try:
        window, key = parse_range(params)
        return window, key, None
    except RangeError as exc:
        window, key = parse_range({"range": DEFAULT_RANGE})
        return window, key, f"{exc.field}: {exc}"


def _level(request):
    """``(tenant, namespace)`` the request asks for, within its scope (else 404)."""
    tenant, label = chosen_scope(request)
    if label == OPERATOR:
        raise Http404("The operator's costs are the tenants' level")
    namespace = (request.GET.get("namespace") or "").strip() or None
    if namespace is not None:
        owned = tenant is not None and NamespaceOwnership.objects.filter(tenant=tenant, namespace=namespace).exists()
        if not owned or not request_scope(request).allows(namespace):
            raise Http404("No such namespace")
    return tenant, namespace


def _chart_rows(rows, link):
    return [{"key": row.key, "label": row.label, "total": float(row.total), "href": link(row)} for row in rows]


@require_GET
def costs_page(request):
    tenant, namespace = _level(request)
    window, key, range_error = _window(request.GET)
    scope = request_scope(request)
    base = {"range": key} if key != CUSTOM else {"start": input_value(window.begin), "end": input_value(window.end)}
    ctx = Context()
    level = "pod" if namespace is not None else "namespace" if tenant is not None else "tenant"
    errors, rows, error = {}, [], None
    status = 400 if range_error else 200
    try:
        if level == "pod":
            rows = pod_rows(tenant, namespace, window, ctx)
        elif level == "namespace":
            rows = namespace_rows(tenant, window, ctx)
        else:
            rows, errors = tenant_rows(list(Tenant.objects.order_by("name", "slug")), window, ctx, operator=True)
    except StatementError as exc:
        error = str(exc)
    except TimeseriesError as exc:
        error, status = unavailable(exc), 503

    def link(row):
        if row.key in OPERATOR_ROWS or level == "pod":
            return None
        more = {"tenant": row.key} if level == "tenant" else {"tenant": tenant.slug, "namespace": row.key}
        return "?" + urlencode({**base, **more})

    links = {row.key: link(row) for row in rows}
    currencies = {row.currency for row in rows if row.currency}
    # Tenants on lists of different currencies have no total.
    total = sum((row.total for row in rows), ZERO) if rows and len(currencies) <= 1 else None
    context = {
        "level": level,
        "tenant": tenant,
        "namespace": namespace,
        "rows": [(row, links[row.key]) for row in rows],
        "total": total,
        "currency": currencies.pop() if len(currencies) == 1 else "",
        "errors": errors,
        "error": error,
        "range_error": range_error,
        "window": window,
        "ranges": list(RANGES),
        "range": key,
        "custom": key == CUSTOM,
        "start_value": input_value(window.begin),
        "end_value": input_value(window.end),
        "up": {"all": "?" + urlencode(base),
               "tenant": "?" + urlencode({**base, "tenant": tenant.slug}) if tenant else ""},
        "sees_all": scope.everything,
        "operator": OPERATOR,
        "page": {"level": level, "rows": _chart_rows(rows, lambda row: links[row.key])},
    }
    return render(request, "web/billing/costs.html", context, status=status)
