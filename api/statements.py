"""``GET /api/statements`` and ``GET /api/statements/<id>``: statements for the billing system.

A tenant's credential or member sees its tenant's statements; the global credential and staff
see every one, the operator's included. Another tenant's statement is a 404, like a missing one.
Statements are read-only here: issued ones are immutable (``billing.statementmodels``) and
drafts are recomputed by billing, so PUT, PATCH and DELETE are refused (405).

One statement comes as JSON (default), CSV or PDF (``billing.exports``), chosen by ``?format=``
or, without it, by the ``Accept`` header (``text/csv``, ``application/pdf``).
"""

import re

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api.base import ApiError, KubemonAPIView, request_scope
from billing import exports
from billing.models import Statement
from billing.statements import StatementError, month_bounds

MAX_LIST = 1000
_SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,50}", re.ASCII)  # billing.models.Tenant.slug
_ACCEPTED = {"text/csv": "csv", "application/pdf": "pdf", "application/json": "json"}


class JsonOnlyNegotiation(BaseContentNegotiation):
    """The views pick their format themselves (``?format=``, ``Accept``); DRF would answer 404 for an
    unknown ``?format=`` and 406 for ``Accept: text/csv`` before they could say 400 or send CSV."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type


class StatementsBase(KubemonAPIView):
    content_negotiation_class = JsonOnlyNegotiation
    http_method_names = ["get", "options"]

    def visible(self, request):
        scope = request_scope(request)
        statements = Statement.objects.select_related("tenant", "corrects", "issued_by")
        if scope.everything:
            return statements
        return statements.filter(tenant_id__in=scope.tenant_ids)


def summary(statement):
    return {"id": statement.pk, "number": statement.number, "state": statement.state, "tenant": statement.scope,
            "period_start": statement.period_start.isoformat(), "period_end": statement.period_end.isoformat(),
            "currency": statement.currency, "total": exports.number(statement.total),
            "corrects": statement.corrects_id,
            "issued_at": statement.issued_at.isoformat() if statement.issued_at else None,
            "url": f"/api/statements/{statement.pk}"}


class StatementListView(StatementsBase):
    """The statements the caller may see, newest period first."""

    @extend_schema(operation_id="list_statements", summary="List statements", parameters=[
        OpenApiParameter("tenant", OpenApiTypes.STR, description="A tenant's slug, or `operator`."),
        OpenApiParameter("state", OpenApiTypes.STR, enum=["draft", "issued"]),
        OpenApiParameter("month", OpenApiTypes.STR, description="Statements whose period starts in this month "
                                                               "(YYYY-MM)."),
    ], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        statements = self.visible(request)
        params = request.query_params
        tenant = params.get("tenant")
        if tenant:
            if not _SLUG_RE.fullmatch(tenant):
                # (a NUL would reach PostgreSQL, which refuses it in a text value: a 500)
                raise ApiError(400, f"tenant: {tenant[:40]!r} is not a tenant's slug or operator")
            statements = statements.filter(tenant__isnull=True) if tenant == "operator" else \
                statements.filter(tenant__slug=tenant)
        state = params.get("state")
        if state:
            if state not in Statement.State.values:
                raise ApiError(400, f"state: {state[:20]!r} is not draft or issued")
            statements = statements.filter(state=state)
        month = params.get("month")
        if month:
            try:
                start, end = month_bounds(month)
            except StatementError as exc:
                raise ApiError(400, f"month: {exc}") from None
            statements = statements.filter(period_start__gte=start, period_start__lt=end)
        return Response({"code": 200, "data": [summary(s) for s in statements[:MAX_LIST]]})


def requested_format(request):
    fmt = request.query_params.get("format")
    if fmt is not None:
        fmt = fmt.strip().lower()
        if fmt not in exports.FORMATS:
            raise ApiError(400, f"format: {fmt[:20]!r} is not one of {', '.join(exports.FORMATS)}")
        return fmt
    for part in request.META.get("HTTP_ACCEPT", "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in _ACCEPTED:
            return _ACCEPTED[media]
    return "json"


class StatementDetailView(StatementsBase):
    """One statement with its lines, as JSON, CSV or PDF."""

    @extend_schema(operation_id="get_statement", summary="A statement (JSON, CSV or PDF)", parameters=[
        OpenApiParameter("format", OpenApiTypes.STR, enum=list(exports.FORMATS),
                         description="json (default), csv or pdf; or send Accept: text/csv / application/pdf."),
    ], responses={200: OpenApiTypes.OBJECT})
    def get(self, request, ref):
        fmt = requested_format(request)
        statement = self.visible(request).filter(pk=int(ref)).first() if ref.isascii() and ref.isdigit() and \
            len(ref) < 19 else None
        if statement is None:
            raise ApiError(404, f"Statement {ref[:40]!r} not found")
        if fmt == "json":
            return Response({"code": 200, "data": exports.document(statement)})
        response = HttpResponse(exports.render(statement, fmt), content_type=exports.content_type(fmt))
        disposition = "inline" if fmt == "pdf" else "attachment"
        response["Content-Disposition"] = f'{disposition}; filename="{exports.filename(statement, fmt)}"'
        return response
