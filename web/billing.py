"""The portal's statements: the list, the current month so far, one statement, its downloads,
its daily costs, and (staff only) issuing a draft and drafting a correction.

Who sees what follows ``web.access.request_scope``: a tenant user sees the statements of the
tenant selected in the header; staff looking at "all" see every statement, the operator's
included, and narrow the list with ``?tenant=<slug>|operator``. A statement outside the scope is
a 404, like a missing one. Tenant users (admins included) cannot issue or correct: 403.

The current month (``/web/billing/statements/current/``, its downloads and its daily costs) is
``billing.statements.preview``: the draft of that calendar month computed on each view and stored
nowhere, so a GET changes no row whoever makes it (a draft is stored by the month-end beat task,
``manage.py statement`` or a correction; only ``issue`` freezes one, and a month that has not
ended is not issued from here).
Downloads are ``billing.exports.render``, the API's and ``manage.py statement``'s exporter.
"""

import logging
from datetime import UTC, datetime

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from billing import exports
from billing.breakdown import daily_costs
from billing.models import ImmutableStatement, Statement, Tenant
from billing.pricing import price_periods
from billing.statements import StatementError, correct, issue, month_bounds, preview
from kubemon.timeseries.errors import TimeseriesError
from web.access import is_staff, request_scope, selected_tenant

log = logging.getLogger(__name__)
OPERATOR = "operator"


def visible_statements(request):
    """The statements the request's scope may see (staff on "all": every one)."""
    scope = request_scope(request)
    statements = Statement.objects.select_related("tenant", "corrects", "issued_by")
    if scope.everything:
        return statements
    return statements.filter(tenant_id__in=scope.tenant_ids)


def statement_or_404(request, pk):
    statement = visible_statements(request).filter(pk=pk).first()
    if statement is None:
        raise Http404("No such statement")
    return statement


def chosen_scope(request):
    """``(tenant, label)`` the list and the current month are about: a tenant, None for the
    operator, or ``(None, None)`` for staff looking at every statement. A ``?tenant=`` outside
    the scope is a 404."""
    scope = request_scope(request)
    wanted = (request.GET.get("tenant") or "").strip()
    if not scope.everything:
        tenant = selected_tenant(request.user, request.session)
        if tenant is None or (wanted and wanted != tenant.slug):
            raise Http404("No such tenant")
        return tenant, tenant.slug
    if not wanted:
        return None, None
    if wanted == OPERATOR:
        return None, OPERATOR
    tenant = Tenant.objects.filter(slug=wanted).first()
    if tenant is None:
        raise Http404("No such tenant")
    return tenant, tenant.slug


def unavailable(exc):
    """What a page says when InfluxDB does not answer (statements are computed from its samples)."""
    log.warning("billing page: the metric store did not answer: %s", exc)
    return f"the metric store (InfluxDB) did not answer, try again in a moment ({type(exc).__name__})"


def may_issue(user, statement, now=None):
    """Staff may issue a draft whose period has ended (the month so far is still being used)."""
    now = now or datetime.now(UTC)
    return is_staff(user) and not statement.is_issued and statement.period_end <= now


def may_correct(user, statement):
    return is_staff(user) and statement.is_issued


@require_GET
def statement_list(request):
    tenant, label = chosen_scope(request)
    statements = visible_statements(request)
    if label == OPERATOR:
        statements = statements.filter(tenant__isnull=True)
    elif tenant is not None:
        statements = statements.filter(tenant=tenant)
    now = datetime.now(UTC)
    month_start, month_end = month_bounds(f"{now:%Y-%m}")
    context = {
        "statements": list(statements[:500]),
        "tenant": tenant,
        "label": label,
        "staff": is_staff(request.user),
        "tenants": list(Tenant.objects.order_by("name", "slug")) if request_scope(request).everything else [],
        "month_start": month_start,
        "now": now,
        "current_query": f"?tenant={label}" if label else "",
    }
    return render(request, "web/billing/statements.html", context)


def _detail(request, statement, current=False, query="", status=200):
    lines = (statement.preview_lines if statement.pk is None else
             list(statement.lines.select_related("price_list_version").order_by("position")))
    several_periods = len({(x.period_start, x.period_end) for x in lines}) > 1
    if current:  # computed for this view, not stored: its downloads and chart compute it again
        downloads = [(fmt, reverse("web:billing_current_download", args=[fmt]) + query) for fmt in exports.FORMATS]
        daily = reverse("web:billing_current_daily") + query
    else:
        downloads = [(fmt, reverse("web:billing_download", args=[statement.pk, fmt])) for fmt in exports.FORMATS]
        daily = reverse("web:billing_daily", args=[statement.pk])
    context = {
        "statement": statement,
        "lines": lines,
        "current": current,
        "several_periods": several_periods,
        "operator": statement.tenant_id is None,
        "downloads": downloads,
        "may_issue": statement.pk is not None and may_issue(request.user, statement),
        "may_correct": statement.pk is not None and may_correct(request.user, statement),
        "staff": is_staff(request.user),
        "corrections": list(statement.corrections.order_by("id")) if statement.pk else [],
        "page": {"dailyUrl": daily, "currency": statement.currency},
    }
    return render(request, "web/billing/statement.html", context, status=status)


@require_GET
def statement_detail(request, pk):
    return _detail(request, statement_or_404(request, pk))


def this_month(request):
    """``(tenant, query, start, end, issued)`` of the current month in the request's scope (for staff
    on "all": the operator's); ``issued`` is the month's issued statement, if it was issued early."""
    tenant, label = chosen_scope(request)
    start, end = month_bounds(f"{datetime.now(UTC):%Y-%m}")
    issued = (Statement.objects.filter(tenant=tenant, period_start=start, period_end=end,
                                       state=Statement.State.ISSUED).order_by("-issued_at").first())
    return tenant, f"?tenant={label}" if label else "", start, end, issued


def _current_error(request, exc, tenant, start):
    status, reason = (409, str(exc)) if isinstance(exc, StatementError) else (503, unavailable(exc))
    context = {"error": reason, "tenant": tenant, "month_start": start}
    return render(request, "web/billing/current_error.html", context, status=status)


@require_GET
def current_month(request):
    """This calendar month so far: the draft computed now, shown and not stored (a GET writes nothing)."""
    tenant, query, start, end, issued = this_month(request)
    if issued is not None:
        # Issued early (by the command or the API's clients): that is the month now; a draft of it
        # beside it would be a second statement of the period.
        messages.info(request, f"This month is issued already ({issued.number}): correct it to change it.")
        return redirect("web:billing_statement", pk=issued.pk)
    try:
        statement = preview(tenant, start, end)
    except (StatementError, TimeseriesError) as exc:
        return _current_error(request, exc, tenant, start)
    return _detail(request, statement, current=True, query=query)


@require_GET
def current_download(request, fmt):
    """The current month's draft as a download, computed now like its page (nothing is stored)."""
    if fmt not in exports.FORMATS:
        raise Http404("No such format")
    tenant, _, start, end, issued = this_month(request)
    if issued is not None:
        return redirect("web:billing_download", pk=issued.pk, fmt=fmt)
    try:
        statement = preview(tenant, start, end)
    except (StatementError, TimeseriesError) as exc:
        return _current_error(request, exc, tenant, start)
    return _download(statement, fmt)


@require_GET
def current_daily(request):
    """The current month's cost per UTC day so far, at today's rates (what its draft charges)."""
    tenant, _, start, end, issued = this_month(request)
    if issued is not None:
        return redirect("web:billing_daily", pk=issued.pk)
    currencies = {p.version.content["currency"] for p in price_periods(tenant, start, end) if p.version is not None}
    return _daily(None, ", ".join(sorted(currencies)), tenant, start, end)


def _download(statement, fmt):
    response = HttpResponse(exports.render(statement, fmt), content_type=exports.content_type(fmt))
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(statement, fmt)}"'
    return response


@require_GET
def statement_download(request, pk, fmt):
    statement = statement_or_404(request, pk)
    if fmt not in exports.FORMATS:
        raise Http404("No such format")
    return _download(statement, fmt)


@require_GET
def statement_daily(request, pk):
    """Cost per UTC day and resource: the samples of each day at the statement's rates
    (``billing.breakdown.daily_costs``)."""
    statement = statement_or_404(request, pk)
    return _daily(statement.pk, statement.currency, statement.tenant, statement.period_start, statement.period_end,
                  idle=statement.idle or None, statement_lines=list(statement.lines.all()))


def _daily(pk, currency, tenant, start, end, **options):
    try:
        days = daily_costs(tenant, start, end, **options)
    except StatementError as exc:
        return JsonResponse({"code": 409, "message": str(exc)}, status=409)
    except TimeseriesError as exc:
        return JsonResponse({"code": 503, "message": unavailable(exc)}, status=503)
    return JsonResponse({
        "statement": pk,
        "currency": currency,
        "days": [day["day"].isoformat() for day in days],
        "series": [{"name": resource, "values": [exports.number(day["costs"][resource]) for day in days]}
                   for resource in ("cpu", "memory", "gpu", "storage")],
        "totals": [exports.number(day["total"]) for day in days],
    })


def _staff_action(request, pk, allowed, refusal, act):
    """A staff action on a statement (POST, CSRF-checked by the middleware): 404 outside the
    scope, 403 for tenant users, else ``act(statement)`` → ``(statement to show, message)``;
    refusals and errors come back as messages on the statement's page."""
    statement = statement_or_404(request, pk)
    who = request.user.get_username()
    if not is_staff(request.user):
        log.warning("statement %s: %s (not staff) was refused %s", statement.pk, who, request.path)
        return HttpResponseForbidden("Only staff issue and correct statements.")
    if not allowed(request.user, statement):
        messages.error(request, refusal)
        return redirect("web:billing_statement", pk=statement.pk)
    try:
        shown, done = act(statement)
    except (StatementError, ImmutableStatement) as exc:
        messages.error(request, f"Not done: {exc}")
        return redirect("web:billing_statement", pk=statement.pk)
    except TimeseriesError as exc:
        messages.error(request, f"Not done: {unavailable(exc)}")
        return redirect("web:billing_statement", pk=statement.pk)
    log.info("portal: %s (statement %s, by %s)", done, statement.pk, who)
    messages.success(request, done)
    return redirect("web:billing_statement", pk=shown.pk)


@require_POST
def statement_issue(request, pk):
    def act(statement):
        issued = issue(statement, request.user)
        return issued, f"Statement {issued.number} issued."

    return _staff_action(request, pk, may_issue, "This statement cannot be issued: it is issued already or its "
                                                 "period has not ended yet.", act)


@require_POST
def statement_correct(request, pk):
    def act(statement):
        correction = correct(statement)
        return correction, f"Correction {correction.pk} of {statement.number} drafted: check it, then issue it."

    return _staff_action(request, pk, may_correct, "Only an issued statement is corrected; a draft is "
                                                   "recomputed instead.", act)
