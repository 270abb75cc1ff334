"""``X-USERNAME``/``X-PASSWORD`` header authentication, compatible with the legacy API clients.

A request without the headers is not this scheme's business (``None``: DRF then answers 401
"You are not authorized"). Wrong headers raise ``AuthenticationFailed`` with the legacy message.
Every path does the same work (one indexed database read, one SHA-256, one constant-time
comparison against a real or a dummy digest), so an unknown username and a wrong secret get the
same answer in about the same time.
"""

import copy
import functools
import hmac
import logging
from dataclasses import dataclass

from django.conf import settings
from django.http import QueryDict
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication

from api.throttling import FailedLoginThrottle, client_address
from billing.access import AccessScope
from billing.models import ApiCredential, secret_digest

log = logging.getLogger(__name__)

NOT_AUTHORIZED = "You are not authorized"
NOT_RECOGNIZED = "Username and password is not recognized"
MAX_HEADER_LENGTH = 256

# Compared against when the username is unknown, so that path costs what a wrong secret costs.
_DUMMY_DIGEST = secret_digest("kubemon: no such credential")


@dataclass(frozen=True)
class ApiClient:
    """The authenticated caller of an API request (``request.user``)."""

    username: str
    scope: AccessScope
    credential: ApiCredential | None = None
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def is_global(self):
        return self.scope.everything

    def __str__(self):
        return self.username


@functools.lru_cache(maxsize=4)
def _settings_credential(username, password):
    """Digests of the ``API_USERNAME``/``API_PASSWORD`` pair, computed once per value."""
    if not username or not password:
        return None
    return secret_digest(username), secret_digest(password)


def _header(request, name):
    value = request.META.get(name, "")
    return value.strip() if isinstance(value, str) else ""


class HeaderCredentialAuthentication(BaseAuthentication):
    keyword = "X-USERNAME"

    def authenticate(self, request):
        username = _header(request, "HTTP_X_USERNAME")
        secret = _header(request, "HTTP_X_PASSWORD")
        if not username or not secret:
            return None
        address = client_address(request)
        throttle = FailedLoginThrottle()
        throttle.check(username, address)
        client = self.verify(username, secret)
        if client is None:
            throttle.failed(username, address)
            log.info("API authentication failed for %r from %s", username[:64], address)
            raise exceptions.AuthenticationFailed(NOT_RECOGNIZED)
        return client, client.credential

    def verify(self, username, secret):
        """Return an ``ApiClient`` when ``secret`` is right for ``username``, else ``None``."""
        credential = None
        # Over-long or NUL-carrying values cannot name a credential and would upset the database.
        plausible = len(username) <= MAX_HEADER_LENGTH and len(secret) <= MAX_HEADER_LENGTH and "\x00" not in username
        if plausible:
            credential = ApiCredential.objects.select_related("tenant").filter(username=username).first()
        from_settings = _settings_credential(settings.API_USERNAME, settings.API_PASSWORD)
        if credential is not None:
            expected = credential.secret_digest
        elif from_settings is not None and hmac.compare_digest(secret_digest(username), from_settings[0]):
            expected = from_settings[1]
        else:
            expected = _DUMMY_DIGEST
        matches = hmac.compare_digest(secret_digest(secret), expected)
        if not matches or expected is _DUMMY_DIGEST:
            return None
        if credential is None:
            return ApiClient(username=username, scope=AccessScope.all_namespaces())
        if not credential.is_active:
            return None
        credential.touch()
        return ApiClient(username=username, scope=AccessScope.for_credential(credential), credential=credential)

    def authenticate_header(self, request):
        # A WWW-Authenticate value makes DRF answer 401 rather than 403.
        return 'X-USERNAME realm="api"'


class WebSessionAuthentication(SessionAuthentication):
    """A logged-in web user. CSRF is enforced as for any Django POST, with the token in ``X-CSRFToken``.

    The body is read as JSON whatever its Content-Type (``api.views.parse_body``), for a session as
    for header clients, so it is never a form and never carries a ``csrfmiddlewaretoken``. DRF's
    own check reads ``request.POST``, which parses the body by its Content-Type first: ``curl -d``
    (form-encoded) and text bodies got a 415, bad JSON got DRF's message instead of ours, and a
    bad body was refused before a missing token. The check here runs on a copy of the request
    whose form is empty, so the header (with the cookie) is the only token source and the body is
    left to the view.
    """

    def enforce_csrf(self, request):
        checked = copy.copy(request._request)
        checked.POST = QueryDict()
        super().enforce_csrf(checked)
