"""``GET /api/allocation``: OpenCost's allocation API over kubemon's data (DESIGN §12).

Parameters, fields and the envelope follow OpenCost's ``/allocation`` so that its users' scripts
and dashboards work with only the base URL changed (docs/api.md, "Allocation"). The parameters
are read by ``api.opencost``, the sets built by ``api.allocation_sets``.
"""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from api.allocation_sets import build_sets
from api.base import ApiError, KubemonAPIView, request_scope
from api.opencost import ParameterError, parse_query
from billing.models import is_valid_namespace

_PARAMETERS = [
    OpenApiParameter("window", OpenApiTypes.STR, required=True,
                     description="today, yesterday, week, lastweek, month, lastmonth, <n>m|h|d|w, "
                                 "'<n>d offset <k>d', or start,end (RFC 3339 or Unix seconds)."),
    OpenApiParameter("aggregate", OpenApiTypes.STR,
                     description="cluster, namespace, pod, node, controller, controllerKind, tenant; "
                                 "comma-separated for several (names joined with '/')."),
    OpenApiParameter("step", OpenApiTypes.STR, description="One set per step (1h, 1d, 1w...). Default: one set."),
    OpenApiParameter("accumulate", OpenApiTypes.STR, description="true: one set; hour, day, week, month: one "
                                                                  "set per such period."),
    OpenApiParameter("includeIdle", OpenApiTypes.BOOL, description="Add the __idle__ row (global view only). "
                                                                   "Kubecost's `idle` is accepted too."),
    OpenApiParameter("shareIdle", OpenApiTypes.BOOL, description="Share the idle cost among the rows by their "
                                                                 "cost of each resource."),
    OpenApiParameter("filterNamespaces", OpenApiTypes.STR, description="Only these namespaces (comma-separated)."),
]


class AllocationView(KubemonAPIView):
    """Resource-time and cost per group, in OpenCost's envelope: ``{"code": 200, "data": [set, ...]}``."""

    http_method_names = ["get", "options"]

    @extend_schema(operation_id="allocation", summary="Allocation (OpenCost-compatible)", parameters=_PARAMETERS,
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        try:
            query = parse_query(request.query_params)
        except ParameterError as exc:
            raise ApiError(400, str(exc)) from None
        scope = request_scope(request)
        for namespace in query.namespaces or ():
            if not is_valid_namespace(namespace):
                raise ApiError(400, f"filterNamespaces: {namespace[:63]!r} is not a valid Kubernetes namespace name")
            if not scope.allows(namespace):
                # The same answer whether the namespace exists or belongs to someone else.
                raise ApiError(404, f"Namespace {namespace[:63]!r} not found")
        return Response({"code": 200, "data": build_sets(query, scope, settings.CLUSTER_NAME)})


@extend_schema(exclude=True)
class AllocationComputeView(AllocationView):
    """OpenCost's ``/allocation/compute``: the same answers, kept out of the schema."""
