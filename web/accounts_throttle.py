"""Failed portal logins, counted in Redis per (username, address) and per address.

The same scheme as the API's (api/throttling.py), with the portal's limits: people choose these
passwords, so the limits are lower and the window longer (``WEB_LOGIN_FAILURES_PER_PAIR`` and
``WEB_LOGIN_FAILURES_PER_ADDRESS`` in ``WEB_LOGIN_FAILURE_WINDOW_SECONDS``). Every username is
counted, whether an account has it or not, so a throttled answer says nothing about who exists;
a username is never locked as such (only from the addresses that failed), so nobody can lock a
colleague out from elsewhere. While a pair or an address is over its limit, even the right
password is refused without being checked, so the limit is no oracle either.

The address is the peer's, or the one ``API_NUM_PROXIES`` trusted proxies report
(kubemon/clientaddr.py); an IPv6 address counts as its /64.
"""

import hashlib
import logging
import math
from dataclasses import dataclass

from django.conf import settings

from kubemon import keys
from kubemon.clientaddr import address_scope
from kubemon.redis import get_redis

log = logging.getLogger(__name__)


def _digest(text):
    # Hashed so that a hostile or huge username never becomes a Redis key as it is.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _normalise(username):
    # "Alice" and "alice " are counted together: the form strips spaces, and case games must not
    # multiply an attacker's guesses.
    return (username or "").strip().casefold()


def throttle_keys(username, address):
    """The (username, address) key and the address key."""
    scope = _digest(address_scope(address))
    pair = keys.WEB_LOGIN_FAILURES + "ua:" + _digest(_digest(_normalise(username)) + scope)
    return pair, keys.WEB_LOGIN_FAILURES + "a:" + scope


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the pair or the address may try again


class LoginThrottle:
    def __init__(self, redis=None):
        self.redis = redis
        self.window = settings.WEB_LOGIN_FAILURE_WINDOW_SECONDS
        self.limits = (settings.WEB_LOGIN_FAILURES_PER_PAIR, settings.WEB_LOGIN_FAILURES_PER_ADDRESS)

    def _client(self):
        return self.redis or get_redis()

    def check(self, username, address):
        """May this username be tried from this address now?"""
        names = throttle_keys(username, address)
        try:
            redis = self._client()
            pipe = redis.pipeline()
            for name in names:
                pipe.get(name)
                pipe.pttl(name)
            replies = pipe.execute()
        except Exception as exc:  # noqa: BLE001  (Redis down must not lock everyone out of the portal)
            log.warning("portal login throttle unavailable: %s", exc)
            return Verdict(True)
        waits = []
        for (count, pttl), limit in zip(zip(replies[::2], replies[1::2], strict=True), self.limits, strict=True):
            if limit > 0 and count is not None and int(count) >= limit:
                waits.append(math.ceil(pttl / 1000) if pttl and pttl > 0 else self.window)
        if waits:
            return Verdict(False, max(max(waits), 1))
        return Verdict(True)

    def failed(self, username, address):
        try:
            pipe = self._client().pipeline()
            for name in throttle_keys(username, address):
                # The window opens with the first failure and closes WINDOW seconds later.
                pipe.set(name, 0, ex=self.window, nx=True)
                pipe.incr(name)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001
            log.warning("portal login throttle unavailable: %s", exc)

    def succeeded(self, username, address):
        """The right password from this address: its pair starts afresh (the address count stays)."""
        try:
            self._client().delete(throttle_keys(username, address)[0])
        except Exception as exc:  # noqa: BLE001
            log.warning("portal login throttle unavailable: %s", exc)
