"""Counting failed API logins per username and per client address (Redis, fixed one-minute windows).

Generated secrets cannot be guessed, but ``API_PASSWORD`` is chosen by a person: ten failures a
minute per username and per address make guessing it hopeless, while a client with the right
secret never notices. While a username or an address is over the limit, even a correct secret is
refused without being checked, so the limit cannot be used as an oracle.
"""

import hashlib
import logging

from django.conf import settings
from rest_framework.exceptions import Throttled

from kubemon import keys
from kubemon.redis import get_redis

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
KEY_PREFIX = keys.AUTH_FAILURES


def client_address(request):
    """The caller's address; ``X-Forwarded-For`` is trusted only as far as ``API_NUM_PROXIES`` says."""
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.API_NUM_PROXIES
    if proxies > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote


def _keys(username, address):
    # Hashed so that a hostile or huge username never becomes a Redis key as it is.
    user_key = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    addr_key = hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return KEY_PREFIX + "u:" + user_key, KEY_PREFIX + "a:" + addr_key


class FailedLoginThrottle:
    def __init__(self, limit=None, redis=None):
        self.limit = settings.API_AUTH_FAILURES_PER_MINUTE if limit is None else limit
        self.redis = redis

    def _client(self):
        return self.redis or get_redis()

    def check(self, username, address):
        """Raise ``Throttled`` when the username or the address has used up its failures."""
        keys = _keys(username, address)
        try:
            redis = self._client()
            counts = redis.mget(keys)
            waits = [redis.ttl(key) for key, count in zip(keys, counts, strict=True)
                     if count is not None and int(count) >= self.limit]
        except Exception as exc:  # noqa: BLE001  (Redis down must not take the API down; secrets are 256-bit)
            log.warning("failed-login throttle unavailable: %s", exc)
            return
        if waits:
            raise Throttled(wait=max(max(waits), 1))

    def failed(self, username, address):
        try:
            pipe = self._client().pipeline()
            for key in _keys(username, address):
                # The window opens with the first failure and closes a minute later.
                pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)
                pipe.incr(key)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001
            log.warning("failed-login throttle unavailable: %s", exc)
