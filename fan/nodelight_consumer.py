"""``ws/nodelight/<node>/``: the node's summary (fan/nodelight.py) on connect and after each cycle.

The socket listens to the ``cluster`` group's notices (one per usage cycle, collectors/snapshot.py)
and re-reads the stored view once per cycle per worker. A node-light agent is one socket per
node of a small tower, so it joins the group itself. Closes: 4401 no or wrong token, 4404 a
node kubemon does not know, 4503 node lights off (no NODELIGHT_TOKEN).
"""

import asyncio
import contextlib
import logging

import orjson
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from fan.nodelight import summary, token_ok
from kubemon import keys
from kubemon.live import CLUSTER_GROUP
from kubemon.redis import get_async_redis

log = logging.getLogger(__name__)
RESEND_SECONDS = 30.0  # a quiet cluster still gets its summary (with "stale" when cycles stopped)
_cache = {"seq": None, "view": {}}


async def _view():
    redis = get_async_redis()
    raw = await redis.get(keys.LIVE_STATE)
    seq = orjson.loads(raw)["seq"] if raw else None
    if seq is None or seq != _cache["seq"]:
        raw_view = await redis.get(keys.SNAPSHOT)
        _cache.update(seq=seq, view=orjson.loads(raw_view) if raw_view else {})
    return _cache["view"]


class NodeLightConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.node = self.scope["url_route"]["kwargs"]["node"]
        headers = dict(self.scope.get("headers") or [])
        if not settings.NODELIGHT_TOKEN:
            await self.close(code=4503)
            return
        if not token_ok(headers.get(b"authorization")):
            log.info("node light socket for %s refused: no or wrong token", self.node)
            await self.close(code=4401)
            return
        doc = summary(await _view(), self.node)
        if doc is None:
            await self.accept()
            await self.close(code=4404)
            return
        await self.accept()
        self.sent_seq = None
        await self.channel_layer.group_add(CLUSTER_GROUP, self.channel_name)
        await self._send(doc)
        self.timer = asyncio.ensure_future(self._resend())

    async def disconnect(self, code):
        timer = getattr(self, "timer", None)
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await timer
        with contextlib.suppress(Exception):
            await self.channel_layer.group_discard(CLUSTER_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        pass  # the agent only listens

    async def live_message(self, event):
        doc = summary(await _view(), self.node)
        if doc is not None and doc["seq"] != self.sent_seq:
            await self._send(doc)

    async def _resend(self):
        while True:
            await asyncio.sleep(RESEND_SECONDS)
            doc = summary(await _view(), self.node)
            if doc is not None:
                await self._send(doc)

    async def _send(self, doc):
        self.sent_seq = doc["seq"]
        await self.send(text_data=orjson.dumps(doc).decode())
