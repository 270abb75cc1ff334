"""One-time login links for ``make demo`` (``WEB_DEMO_LOGIN``): the demo logs its user in at once.

A link is ``/web/login/demo/<id>.<secret>/``. Redis keeps, under the id and for
``WEB_DEMO_LOGIN_TTL_SECONDS``, only the SHA-256 digest of the secret and the username; the view
compares digests with ``hmac.compare_digest`` and deletes the key before logging in, so a link
works once (of two simultaneous uses, only the one whose delete removed the key logs in). With
the setting off (the default) the path answers 404 and no link can be issued.
"""

import hashlib
import hmac
import json
import re
import secrets

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kubemon import keys
from kubemon.redis import get_redis

TOKEN_RE = re.compile(r"^([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$")
BACKEND = "django.contrib.auth.backends.ModelBackend"


class DemoLoginDisabled(RuntimeError):
    pass


def _digest(secret):
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def issue_token(username, redis=None, ttl=None):
    """A fresh one-time token for ``username`` (who must exist and be active)."""
    if not settings.WEB_DEMO_LOGIN:
        raise DemoLoginDisabled("WEB_DEMO_LOGIN is off: demo login links are disabled")
    user = get_user_model().objects.get(username=username, is_active=True)
    token_id, secret = secrets.token_urlsafe(12), secrets.token_urlsafe(32)
    record = json.dumps({"digest": _digest(secret), "username": user.get_username()})
    (redis or get_redis()).set(keys.WEB_DEMO_LOGIN + token_id, record,
                               ex=ttl or settings.WEB_DEMO_LOGIN_TTL_SECONDS)
    return f"{token_id}.{secret}"


def login_path(token):
    return reverse("web:demo_login", args=[token])


def redeem(token, redis=None):
    """The username of a valid unused ``token``, which is used up by this call; None otherwise."""
    match = TOKEN_RE.match(token or "")
    if not match:
        return None
    token_id, secret = match.groups()
    redis = redis or get_redis()
    key = keys.WEB_DEMO_LOGIN + token_id
    raw = redis.get(key)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
        expected, username = record["digest"], record["username"]
    except (ValueError, KeyError, TypeError):
        return None
    if not hmac.compare_digest(expected.encode(), _digest(secret).encode()):
        return None
    if redis.delete(key) != 1:  # someone redeemed it in between
        return None
    return username


@login_not_required
@never_cache
@require_GET
def demo_login(request, token):
    if not settings.WEB_DEMO_LOGIN:
        raise Http404("demo login is disabled")
    username = redeem(token)
    user = get_user_model().objects.filter(username=username, is_active=True).first() if username else None
    if user is None:
        raise Http404("unknown, used or expired demo login link")
    auth.login(request, user, backend=BACKEND)
    return redirect(reverse("web:overview"))
