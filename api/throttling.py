"""Counting failed API logins per (username, address) and per address (Redis, one-minute windows).

Generated secrets cannot be guessed, but ``API_PASSWORD`` is chosen by a person. Failures are
counted for each username from each client address (``API_AUTH_FAILURES_PER_MINUTE``, 10) and for
each address whatever the username (``ADDRESS_FACTOR`` times that, 50). A username is never
throttled as such: an attacker who knows one (the billing system's) can only throttle it from
their own addresses, and the right secret from the right address keeps working. The price is that
guesses spread over many addresses are not limited per username; see docs/api.md.

While a pair or an address is over its limit, even a correct secret is refused without being
checked, so the limit cannot be used as an oracle. An IPv6 address counts as its /64 network,
which one machine can fill with addresses at will.
"""

import hashlib
import logging

from django.conf import settings
from rest_framework.exceptions import Throttled

from kubemon import keys
from kubemon.clientaddr import address_scope, client_address  # noqa: F401  (shared with the portal)
from kubemon.redis import get_redis

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
KEY_PREFIX = keys.AUTH_FAILURES


def _digest(text):
    # Hashed so that a hostile or huge username never becomes a Redis key as it is.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _keys(username, address):
    """The (username, address) key and the address key."""
    scope = _digest(address_scope(address))
    return KEY_PREFIX + "ua:" + _digest(_digest(username) + scope), KEY_PREFIX + "a:" + scope


class FailedLoginThrottle:
    # The address limit is this many times the pair limit: one address may get a few usernames
    # wrong (a shared NAT, a misconfigured client) before it loses the right to try any.
    ADDRESS_FACTOR = 5

    def __init__(self, limit=None, redis=None):
        self.limit = settings.API_AUTH_FAILURES_PER_MINUTE if limit is None else limit
        self.redis = redis

    def _client(self):
        return self.redis or get_redis()

    def check(self, username, address):
        """Raise ``Throttled`` when this username from this address, or this address, used up its failures."""
        keys = _keys(username, address)
        limits = (self.limit, self.limit * self.ADDRESS_FACTOR)
        try:
            redis = self._client()
            counts = redis.mget(keys)
            waits = [redis.ttl(key) for key, count, limit in zip(keys, counts, limits, strict=True)
                     if count is not None and int(count) >= limit]
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
