"""The portal's middleware: login required on its pages, and the security headers of every response."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import JsonResponse


class PortalLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Every view of the ``web`` URL namespace needs a logged-in user unless marked otherwise.

    Django's ``LoginRequiredMiddleware`` applied to the portal only: the API authenticates with
    its own headers and ``/healthz`` and the temperature push are public. A page that must stay
    open (the login form) says so with ``django.contrib.auth.decorators.login_not_required``, so a
    new page is protected even if its author forgets a decorator.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or "web" not in match.namespaces:
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

    def handle_no_permission(self, request, view_func):
        # A script's fetch() of a JSON endpoint gets a JSON 401, not the login page's HTML.
        if wants_json(request):
            return JsonResponse({"code": 401, "message": "Log in first"}, status=401)
        return super().handle_no_permission(request, view_func)


def wants_json(request):
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/web/data/") or ("application/json" in accept and "text/html" not in accept)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response (the rest is SecurityMiddleware's).

    A response that already carries a policy keeps it, so a view may tighten (never loosen by
    accident) its own.
    """

    # Both, so that an async view under the ASGI server is not pushed through a thread for this.
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.csp = settings.WEB_CONTENT_SECURITY_POLICY
        self.permissions = settings.WEB_PERMISSIONS_POLICY
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return self._add_headers(self.get_response(request))

    async def _acall(self, request):
        return self._add_headers(await self.get_response(request))

    def _add_headers(self, response):
        if self.csp and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.csp
        if self.permissions and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = self.permissions
        return response
