"""A session cookie that cannot be a session key is dropped before Django or Channels looks it up.

Django unquotes cookie values the way ``http.cookies`` does, so ``Cookie: sessionid="abcdefgh\\000"``
arrives as a key with a NUL in it, through any HTTP server. The database session store sends the
key to PostgreSQL, which refuses a NUL in a text value: every page and the API (which also reads a
web session) answered that cookie with a 500, and the live websocket failed its connect (found by
tests/fuzz). Django's own keys are 32 characters of ``[a-z0-9]``; anything else is no session.
"""

import re

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.utils.decorators import sync_and_async_middleware

_SESSION_KEY_RE = re.compile(r"[a-z0-9]{8,64}\Z")


def plausible_session_key(key):
    return isinstance(key, str) and _SESSION_KEY_RE.match(key) is not None


def _drop_implausible(cookies):
    key = cookies.get(settings.SESSION_COOKIE_NAME)
    if key is not None and not plausible_session_key(key):
        del cookies[settings.SESSION_COOKIE_NAME]


@sync_and_async_middleware
def drop_implausible_session_cookie(get_response):
    """Django middleware, before ``SessionMiddleware``; sync and async, so async views stay async."""
    if iscoroutinefunction(get_response):
        async def middleware(request):
            _drop_implausible(request.COOKIES)
            return await get_response(request)
    else:
        def middleware(request):
            _drop_implausible(request.COOKIES)
            return get_response(request)
    return middleware


class DropImplausibleSessionCookie:
    """ASGI middleware for the websockets, between Channels' ``CookieMiddleware`` (which fills
    ``scope["cookies"]``) and its ``SessionMiddleware``."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if "cookies" in scope:
            cookies = dict(scope["cookies"])
            _drop_implausible(cookies)
            scope = {**scope, "cookies": cookies}
        return await self.inner(scope, receive, send)
