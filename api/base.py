"""What every kubemon API view shares: authentication, the legacy error envelope, the method check.

Every error leaves as ``{"code": N, "message": "..."}`` with status N, the shape the legacy
clients parse (DESIGN §5).
"""

import logging

from django.conf import settings
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from api.authentication import NOT_AUTHORIZED, ApiClient, HeaderCredentialAuthentication, WebSessionAuthentication
from billing.access import AccessScope
from kubemon.timeseries import TimeseriesError, TimeseriesQueryError

log = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with an exact status and message, e.g. ``ApiError(404, "...")``."""

    def __init__(self, status_code, message):
        super().__init__(message)
        self.status_code = status_code


def envelope(status_code, message, headers=None):
    return Response({"code": status_code, "message": message}, status=status_code, headers=headers)


def _message(exc, response):
    if isinstance(exc, exceptions.NotAuthenticated):
        return NOT_AUTHORIZED
    if isinstance(exc, exceptions.Throttled):
        return f"Too many failed attempts; retry in {exc.wait or 60:.0f} seconds"
    if isinstance(exc, exceptions.ValidationError):
        from api.serializers import first_error

        return first_error(exc.detail)
    if isinstance(exc, Http404):
        return "Request not found"
    detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
    return str(detail)


def envelope_exception_handler(exc, context):
    """DRF's handler (status codes, WWW-Authenticate, Retry-After) with the legacy body."""
    if isinstance(exc, TimeseriesError):
        return timeseries_error_response(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = {"code": response.status_code, "message": _message(exc, response)}
    return response


def timeseries_error_response(exc):
    text = str(exc)
    if isinstance(exc, TimeseriesQueryError) and "database not found" not in text:
        # Our statement was refused: a bug or a schema mismatch, not the caller's fault.
        log.error("InfluxDB refused a query: %s", text)
        return envelope(502, "The time-series database refused the query")
    log.warning("InfluxDB unavailable for an API request: %s", text)
    return envelope(503, "The time-series database is unavailable; retry later")


class LegacyMethodNotAllowed(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Bad request"


class KubemonAPIView(APIView):
    # Headers first: their class's WWW-Authenticate value is what makes a refusal a 401. A web
    # session works too, so the dashboards can call the API with the user's own scope.
    authentication_classes = [HeaderCredentialAuthentication, WebSessionAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self):
        return envelope_exception_handler

    def initial(self, request, *args, **kwargs):
        # The method is checked before the credentials, as the legacy API did: a GET is told it
        # is the wrong method whether or not it carries headers.
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            if settings.API_LEGACY_METHOD_400:
                raise LegacyMethodNotAllowed()
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)


def request_scope(request):
    """The caller's ``AccessScope``: a credential's, or a logged-in web user's."""
    user = request.user
    if isinstance(user, ApiClient):
        return user.scope
    return AccessScope.for_user(user)
