"""Request latency and authentication failures for ``/metrics`` (kubemon/selfmetrics.py).

The route label is the URL pattern that answered (``api/<str:metric>``), never the path itself,
so that hostile or numerous paths cannot multiply the series; a request that matched no pattern
counts as ``unmatched``.
"""

import time

from asgiref.sync import iscoroutinefunction
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.utils.decorators import sync_and_async_middleware

from kubemon.selfmetrics import AUTH_FAILURES, HTTP_SECONDS, WEBSOCKET_CLIENTS


@sync_and_async_middleware
def RequestMetricsMiddleware(get_response):  # noqa: N802  (a middleware factory, named as classes are)
    """Time every request; both kinds, so that the async views (the live pages) stay async under ASGI."""
    if iscoroutinefunction(get_response):
        async def middleware(request):
            started = time.perf_counter()
            response = await get_response(request)
            _observe(request, response, started)
            return response
    else:
        def middleware(request):
            started = time.perf_counter()
            response = get_response(request)
            _observe(request, response, started)
            return response
    return middleware


def _observe(request, response, started):
    match = getattr(request, "resolver_match", None)
    route = (match.route or match.view_name or "unnamed") if match is not None else "unmatched"
    method = request.method if request.method in _METHODS else "other"
    HTTP_SECONDS.labels(route, method, str(response.status_code)).observe(time.perf_counter() - started)
    if response.status_code == 401:
        AUTH_FAILURES.labels("api").inc()


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@receiver(user_login_failed, dispatch_uid="kubemon.requestmetrics.login_failed")
def count_login_failure(sender, **kwargs):
    AUTH_FAILURES.labels("portal").inc()


class CountWebsockets:
    """ASGI wrapper: the websocket connections open now (``kubemon_websocket_clients``)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        WEBSOCKET_CLIENTS.inc()
        try:
            return await self.app(scope, receive, send)
        finally:
            WEBSOCKET_CLIENTS.dec()
