"""The live websocket (``ws/live/``): one view per socket, kept current one cycle at a time.

On connect a socket gets the full view its user may see (unless its ``?seq=`` already is the
latest, as when the page embedded it), then one delta per usage cycle, or the full view again
when it cannot apply the delta (it missed one, or its tenant's namespaces changed). The group
notices carry no data: the consumer reads the group's delta from Redis once per worker process
and sends the same text to every socket of the group (docs/web.md, "Live protocol").

A slow socket is never sent a queue: notices only overwrite ``pending``, and the sending task
takes the newest; if that is not the delta after what the socket has, it sends the full view.

Access is asked again (``web.access.scope_for`` on a freshly loaded session) before each send,
at most once a second: a logged-out session, a changed password, a deactivated user or a
revoked membership closes the socket. Logging out and membership changes also tell the socket at
once (the ``session-*`` and ``user-*`` groups, web/accounts_signals.py and web/livesignals.py).
"""

import asyncio
import contextlib
import logging
import time
import weakref
from importlib import import_module
from urllib.parse import parse_qs

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.utils.crypto import constant_time_compare

from kubemon import keys
from kubemon.redis import get_async_redis
from web.access import SESSION_KEY as TENANT_SESSION_KEY
from web.access import scope_for, session_group
from web.livedata import decode_view, group_for, needs_full_views, scope_key, view_for_scope
from web.livesignals import user_group

log = logging.getLogger(__name__)

ACCESS_TTL_SECONDS = 1.0  # how long a checked scope is trusted before the next send asks again
RESYNC_EVERY_SECONDS = 1.0  # a client's resync requests beyond this rate wait
CLOSE_LOGGED_OUT = 4401
CLOSE_FORBIDDEN = 4403


class _Cache:
    """The latest cluster view and the texts built from it, per worker process and event loop.

    A thousand sockets of one worker then cost one Redis read and one decode per cycle, and one
    filtered view per scope, not one per socket."""

    def __init__(self):
        self.lock = asyncio.Lock()
        self.view_seq = None
        self.view = None
        self.texts = {}  # (seq, scope key) -> text
        self.deltas = {}  # group -> (seq, future of the text)
        self.checks = {}  # session key -> (monotonic time, future of (user, scope))
        self.batch = {}  # session key -> future, the checks asked for in this turn of the loop

    async def view_text(self, scope):
        async with self.lock:
            redis = get_async_redis()
            raw = await redis.get(keys.LIVE_STATE)
            latest = orjson.loads(raw)["seq"] if raw else 0
            if self.view is None or latest != self.view_seq:
                view = decode_view(await redis.get(keys.SNAPSHOT))
                self.view, self.view_seq, self.texts = view, view["seq"], {}
            key = (self.view_seq, scope_key(scope))
            text = self.texts.get(key)
            if text is None:
                text = self.texts[key] = orjson.dumps(view_for_scope(self.view, scope)).decode()
            return self.view_seq, text

    async def scope_of(self, session_key):
        """``_current_scope`` of a session, asked at most once a second per session and worker:
        the sockets of one session (tabs, and every socket at a cycle's notice) share one answer.

        The sessions asked for in one turn of the event loop (every socket woken by a cycle's
        notice) are checked together, in one thread hop and a few queries
        (``_current_scopes``): one hop and four queries per session were most of a 500-socket
        fan-out (docs/benchmarks.md)."""
        now = time.monotonic()
        entry = self.checks.get(session_key)
        if entry is None or now - entry[0] >= ACCESS_TTL_SECONDS:
            if len(self.checks) > 10_000:
                self.checks = {k: v for k, v in self.checks.items() if now - v[0] < ACCESS_TTL_SECONDS}
            entry = (now, asyncio.get_running_loop().create_future())
            self.checks[session_key] = entry
            if not self.batch:
                asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._check_batch()))
            self.batch[session_key] = entry[1]
        return await asyncio.shield(entry[1])

    async def _check_batch(self):
        batch, self.batch = self.batch, {}
        try:
            answers = await _current_scopes(list(batch))
        except Exception as exc:  # noqa: BLE001  (each waiting socket sees the error and closes 1011)
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
            for key, future in batch.items():
                if self.checks.get(key, (None, None))[1] is future:
                    del self.checks[key]  # not cached: the next send asks again
            return
        for key, future in batch.items():
            if not future.done():
                future.set_result(answers.get(key, (None, None)))

    def forget(self, session_key):
        self.checks.pop(session_key, None)

    async def delta_text(self, group, seq):
        """The group's delta at ``seq`` as browsers get it, or None when Redis holds a newer one.

        Read once per worker: the sockets woken by one notice wait for the same read (hundreds
        of reads at once would also exhaust the Redis connection pool)."""
        cached = self.deltas.get(group)
        if cached is None or cached[0] != seq:
            cached = (seq, asyncio.ensure_future(self._read_delta(group, seq)))
            self.deltas[group] = cached
        return await asyncio.shield(cached[1])

    @staticmethod
    async def _read_delta(group, seq):
        raw = await get_async_redis().get(keys.LIVE_MESSAGE + group)
        if not raw:
            return None
        head, _, body = raw.partition(b"\n")
        if int(head) != seq:
            return None  # overwritten by a newer cycle: the socket gets the full view
        return body.decode()


class _Hub:
    """One channel-layer channel per worker process for the live groups, fanned out in-process.

    channels-redis delivers a group message as one copy per member channel, and a worker pops
    its channels' messages one Redis round trip at a time: at a few hundred sockets that was
    most of a cycle's fan-out time (docs/benchmarks.md). So the sockets of a worker do not join
    ``cluster`` or ``tenant-<id>`` themselves: the hub joins each group once, for as long as one
    of its sockets listens to it, and hands every notice to those sockets."""

    REJOIN_SECONDS = 3600  # channels-redis forgets group members after GROUP_EXPIRY (a day)

    def __init__(self, layer):
        self.layer = layer
        self.channel = None
        self.members = {}  # group -> set of consumers
        self.task = None
        self.rejoin = None

    async def join(self, group, consumer):
        if self.channel is None:
            self.channel = await self.layer.new_channel()
            self.task = asyncio.create_task(self._run())
            self.rejoin = asyncio.create_task(self._rejoin())
        members = self.members.get(group)
        if members is None:
            members = self.members[group] = set()
            await self.layer.group_add(group, self.channel)
        members.add(consumer)

    async def leave(self, group, consumer):
        members = self.members.get(group)
        if members is None:
            return
        members.discard(consumer)
        if not members:
            del self.members[group]
            await self.layer.group_discard(group, self.channel)
        if not self.members:
            await self.stop()

    async def stop(self):
        """Stop receiving once no socket listens: a receive left pending would hold channels-redis's
        receive lock to this event loop (and a worker's last socket may be closing for good)."""
        tasks, self.task, self.rejoin, self.channel = [self.task, self.rejoin], None, None, None
        for task in tasks:
            if task is not None:
                task.cancel()
        for task in tasks:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _run(self):
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001  (Redis away for a moment: the sockets resync from the next notice)
                log.warning("the live hub could not receive; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            data = message.get("data") or {}
            for consumer in list(self.members.get(data.get("group"), ())):
                consumer.deliver(data)

    async def _rejoin(self):
        while True:
            await asyncio.sleep(self.REJOIN_SECONDS)
            for group in list(self.members):
                with contextlib.suppress(Exception):
                    await self.layer.group_add(group, self.channel)


_caches = weakref.WeakKeyDictionary()
_hubs = weakref.WeakKeyDictionary()


def _hub(layer):
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = _Hub(layer)
    return hub


def _cache():
    loop = asyncio.get_running_loop()
    cache = _caches.get(loop)
    if cache is None:
        cache = _caches[loop] = _Cache()
    return cache


def _session_user(store, get_user=None):
    """The user a session store names, as ``django.contrib.auth.get_user`` finds it for a request:
    None without one, with an unknown backend, or when the password changed since the login.
    ``get_user(backend path, user id)`` replaces the backend's lookup (a batch's)."""
    user_id, backend_path = store.get(auth.SESSION_KEY), store.get(auth.BACKEND_SESSION_KEY)
    if user_id is None or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    if get_user is not None:
        user = get_user(backend_path, user_id)
    else:
        user = auth.load_backend(backend_path).get_user(user_id)
    if user is None or not hasattr(user, "get_session_auth_hash"):
        return user
    stored = store.get(auth.HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash()]
    if hasattr(user, "get_session_auth_fallback_hash"):
        hashes += list(user.get_session_auth_fallback_hash())
    return user if any(constant_time_compare(stored, h) for h in hashes) else None


@database_sync_to_async
def _current_scopes(session_keys):
    """``{session key: (user, AccessScope) or (None, None)}``: ``_current_scope`` of many sessions
    at once. With the database session store, the sessions and their users are read in one query
    each (rather than three per session) and ``scope_for`` runs once per user and tenant
    selection; the rule is the same function's, ``_session_user`` and ``scope_for``."""
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return {key: _current_scope_sync(key) for key in session_keys}
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    decoder = import_module(settings.SESSION_ENGINE).SessionStore()
    rows = Session.objects.filter(session_key__in=session_keys, expire_date__gt=timezone.now())
    stores = {row.session_key: decoder.decode(row.session_data) for row in rows}
    users = _BatchUsers(store.get(auth.SESSION_KEY) for store in stores.values())
    answers, scopes = {}, {}
    for key in session_keys:
        store = stores.get(key)
        user = _session_user(store, users.get) if store is not None else None
        if user is None or not user.is_active:
            answers[key] = (None, None)
            continue
        selection = (user.pk, repr(store.get(TENANT_SESSION_KEY)))
        if selection not in scopes:
            scopes[selection] = scope_for(user, store)
        answers[key] = (user, scopes[selection])
    return answers


class _BatchUsers:
    """The users of a batch of sessions, read in one query when the backend is Django's model
    backend; any other backend is asked user by user, as ``auth.get_user`` would."""

    def __init__(self, ids):
        self.ids = {str(i) for i in ids if i is not None}
        self.found = None

    def get(self, backend_path, user_id):
        backend = auth.load_backend(backend_path)
        if type(backend) is not ModelBackend:
            return backend.get_user(user_id)
        if self.found is None:
            model = auth.get_user_model()
            self.found = {str(u.pk): u for u in model._default_manager.filter(pk__in=list(self.ids))}
        user = self.found.get(str(user_id))
        return user if user is not None and backend.user_can_authenticate(user) else None


def _current_scope_sync(session_key):
    """``(user, AccessScope)`` from the session as it is now in the session store, or ``(None, None)``
    when it is gone (logged out, expired) or no longer names an active user."""
    if not session_key:
        return None, None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if not store.exists(session_key):
        return None, None
    user = _session_user(store)
    if user is None or not user.is_active:
        return None, None
    return user, scope_for(user, store)


_current_scope = database_sync_to_async(_current_scope_sync)


class LiveConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.sender = None
        self.groups_joined = []
        self.joined_hub = False
        user = self.scope.get("user")
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        if user is None or not user.is_authenticated or not self.session_key:
            await self.close(code=CLOSE_LOGGED_OUT)
            return
        user, access = await _current_scope(self.session_key)
        if access is None:
            await self.close(code=CLOSE_LOGGED_OUT)
            return
        if not access.everything and not access.namespaces and not access.tenant_ids:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user_id = user.pk
        self.access = access
        self.checked_at = time.monotonic()
        self.group = group_for(access)
        self.pending = None
        self.last_resync = 0.0
        self.wake = asyncio.Event()
        for group in (session_group(self.session_key), user_group(user.pk)):
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await _hub(self.channel_layer).join(self.group, self)
        self.joined_hub = True
        await self.accept()
        self.seq = _client_seq(self.scope)
        self.sender = asyncio.create_task(self._send_loop())
        self.wake.set()  # the first send: the full view, unless the page already has the latest

    async def disconnect(self, code):
        if self.sender is not None:
            self.sender.cancel()
        try:
            if getattr(self, "joined_hub", False):
                await _hub(self.channel_layer).leave(self.group, self)
            for group in self.groups_joined:
                await self.channel_layer.group_discard(group, self.channel_name)
        except Exception as exc:  # noqa: BLE001  (a mass disconnect may find Redis busy; members expire anyway)
            log.debug("could not leave the live groups: %s", exc)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = orjson.loads(text_data or b"null")
        except orjson.JSONDecodeError:
            return
        if isinstance(message, dict) and message.get("type") == "resync":
            self.seq = None
            self.wake.set()

    # --- notices and channel-layer handlers: they only record and wake the sender ---

    def deliver(self, notice):
        """A group's notice, from the worker's hub: recorded, the sending task takes the newest."""
        self.pending = notice
        self.wake.set()

    async def session_ended(self, event):
        _cache().forget(self.session_key)
        await self._end(CLOSE_LOGGED_OUT)

    async def access_changed(self, event):
        self.checked_at = float("-inf")
        _cache().forget(self.session_key)
        self.wake.set()

    # --- sending ---

    async def _end(self, code):
        if self.sender is not None and self.sender is not asyncio.current_task():
            self.sender.cancel()
        await self.close(code=code)

    async def _check(self):
        """The scope to send with, or None after closing the socket when access is gone or moved."""
        if time.monotonic() - self.checked_at < ACCESS_TTL_SECONDS:
            return self.access
        _user, access = await _cache().scope_of(self.session_key)
        if access is None:
            await self._end(CLOSE_LOGGED_OUT)
            return None
        if (not access.everything and not access.namespaces) or group_for(access) != self.group:
            # Revoked, or now another tenant's view: the page reconnects into what it may see now.
            await self._end(CLOSE_FORBIDDEN)
            return None
        if scope_key(access) != scope_key(self.access):
            self.seq = None  # namespaces given or taken: a delta would not fit what the page has
        self.access = access
        self.checked_at = time.monotonic()
        return access

    async def _send_loop(self):
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                notice, self.pending = self.pending, None
                if await self._check() is None:
                    return
                text = await self._next_text(notice)
                if text is not None:
                    await self.send(text_data=text)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed send must not leave a silent socket: the page reconnects
            if type(exc).__name__ == "ClientDisconnected":  # the server's word for a peer already gone
                return
            log.exception("live socket failed")
            await self.close(code=1011)

    def _fits(self, notice):
        if self.seq is None or notice["base"] != self.seq or needs_full_views(self.access):
            return False
        names = notice.get("namespaces")
        return self.access.everything or (names is not None and set(names) <= self.access.namespaces)

    async def _next_text(self, notice):
        if notice is not None and self.seq is not None and notice["seq"] <= self.seq:
            return None  # the socket has it already (it got the full view meanwhile)
        if notice is not None and self._fits(notice):
            text = await _cache().delta_text(self.group, notice["seq"])
            if text is not None:
                self.seq = notice["seq"]
                return text
        if notice is None and self.seq is not None and not await self._behind():
            return None
        wait = self.last_resync + RESYNC_EVERY_SECONDS - time.monotonic()
        if notice is None and wait > 0:
            await asyncio.sleep(wait)  # a client asking for full views in a loop gets one a second
        self.last_resync = time.monotonic()
        seq, text = await _cache().view_text(self.access)
        if seq == self.seq:
            return None
        self.seq = seq
        return text

    async def _behind(self):
        """Whether the stored view is newer than what the socket has (connect with ``?seq=``)."""
        raw = await get_async_redis().get(keys.LIVE_STATE)
        latest = orjson.loads(raw)["seq"] if raw else 0
        return latest != self.seq


def _client_seq(scope):
    """The seq of the view the page embedded (``ws/live/?seq=N``), so connecting does not resend it."""
    # (bytes that are not UTF-8 are replaced: a hostile query string must not fail the connect)
    values = parse_qs((scope.get("query_string") or b"").decode("utf-8", "replace")).get("seq")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None
