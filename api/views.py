"""``POST /api/<metric>`` (the legacy contract, DESIGN §5) and ``GET /api/metrics`` (the catalogue)."""

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from api.base import ApiError, KubemonAPIView, envelope, request_scope
from api.serializers import (
    AggregateRowSerializer,
    EnvelopeSerializer,
    MetricDescriptionSerializer,
    MetricQuerySerializer,
    RawRowSerializer,
    first_error,
)
from metrics.catalogue import METRICS, get_metric
from metrics.engine import aggregate_rows
from metrics.raw import raw_rows
from metrics.selection import Selection
from metrics.window import Window, WindowError

EMPTY = {"code": 200, "message": "Query returns empty set"}


def parse_body(request):
    """The JSON object of the body whatever the Content-Type (legacy clients use ``curl -d``).

    An empty body means every default, as in the legacy API.
    """
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(400, "body: too large") from None
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"body: malformed JSON ({str(exc)[:80]})") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body: must be a JSON object")
    return data


_ERRORS = {
    code: OpenApiResponse(EnvelopeSerializer, description=text)
    for code, text in (
        (400, "Bad input; the message names the field."),
        (401, "Missing (`You are not authorized`) or wrong (`Username and password is not recognized`) headers."),
        (403, "A node-level metric asked with a tenant credential."),
        (404, "Unknown metric, or a namespace the credential does not own."),
        (405, "Wrong method (400 `Bad request` when API_LEGACY_METHOD_400 is set)."),
        (429, "Too many failed authentication attempts."),
        (503, "InfluxDB unavailable."),
    )
}


class MetricQueryView(KubemonAPIView):
    """Samples or per-namespace/per-pod aggregates of one metric over a time window."""

    # The body is read by ``parse_body`` whatever its Content-Type; this declares JSON for the schema.
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="query_metric",
        summary="Query a metric",
        description=(
            "The legacy `POST /api/<metric>` contract. `metric` is a catalogue name and may contain `/` "
            "(e.g. `cpu/usage_rate`). Without `agg`: raw rows, newest first. With `agg`: one flat row per "
            "group. No data: `{\"code\":200,\"message\":\"Query returns empty set\"}`. The window is "
            "[timeBeginInterval, timeEndInterval): begin included, end excluded."
        ),
        request=MetricQuerySerializer,
        parameters=[OpenApiParameter("metric", OpenApiTypes.STR, OpenApiParameter.PATH,
                                     description="Catalogue name, e.g. cpu/usage_rate (see GET /api/metrics).")],
        responses={
            200: OpenApiResponse(
                AggregateRowSerializer(many=True),
                description="Aggregated rows (agg given), raw rows (RawRow shape) or the empty-set envelope.",
            ),
            **_ERRORS,
        },
        examples=[
            OpenApiExample("legacy billing call", request_only=True,
                           value={"agg": "pod-by-namespace", "namespace": "team-a",
                                  "timeBeginInterval": "2017-12-01", "timeEndInterval": "2017-12-31"}),
            OpenApiExample("raw rows", request_only=True, value={"namespace": "team-a", "limit": "10"}),
        ],
    )
    def post(self, request, metric=""):
        name = metric.strip("/")
        if not name:
            raise ApiError(404, "Request not found")
        definition = get_metric(name)
        if definition is None:
            raise ApiError(404, f"Unknown metric {name[:100]!r}; GET /api/metrics lists them")
        body = MetricQuerySerializer(data=parse_body(request))
        if not body.is_valid():
            raise ApiError(400, first_error(body.errors))
        data = body.validated_data
        try:
            window = Window.from_body(data.get("timeBeginInterval"), data.get("timeEndInterval"))
        except WindowError as exc:
            raise ApiError(400, f"{exc.field}: {exc}") from None
        scope = request_scope(request)
        mode = data.get("agg")

        if definition.level == "node":
            if not scope.sees_cluster:
                raise ApiError(403, f"{name} is cluster-level data: it needs a global credential")
            if mode:
                raise ApiError(400, f"agg: {name} is a node metric; only raw rows (no agg) are available")
            rows = raw_rows(definition, window, None, data["limit"])
        elif mode in ("all-namespace", "all-pod"):
            exclude = data.get("excludeNamespaces", settings.API_DEFAULT_EXCLUDED_NAMESPACES)
            rows = aggregate_rows(definition, window, mode, Selection.for_scope(scope, exclude))
        else:
            namespace = data["namespace"]
            if not scope.allows(namespace):
                # The same answer whether the namespace exists or belongs to someone else.
                raise ApiError(404, f"Namespace {namespace!r} not found")
            selection = Selection.one(namespace)
            if mode == "pod-by-namespace":
                rows = aggregate_rows(definition, window, mode, selection)
            else:
                rows = raw_rows(definition, window, selection, data["limit"])
        return Response(rows if rows else EMPTY)

    # Declared so that the schema and the 405 answer list POST as the method to use.
    http_method_names = ["post", "options"]


@extend_schema(exclude=True)
class MetricQueryAliasView(MetricQueryView):
    """``/api`` and ``/api/``: the same answers, kept out of the schema."""


class MetricCatalogueView(KubemonAPIView):
    """Every metric name ``POST /api/<metric>`` accepts, with its unit and source."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="list_metrics", summary="The metric catalogue",
                   responses={200: MetricDescriptionSerializer(many=True)}, auth=[])
    def get(self, request):
        return Response([metric.describe() for metric in METRICS.values()])


@extend_schema(exclude=True)
class MetricCatalogueAliasView(MetricCatalogueView):
    """``/api/metrics/`` with a slash."""


__all__ = ["MetricCatalogueView", "MetricQueryView", "RawRowSerializer", "envelope"]
