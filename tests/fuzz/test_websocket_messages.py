"""Hostile strings through the live websocket (web/consumers.py) on the real stack: kubemon.asgi's origin
check and session login, the Redis channel layer, a view published as the usage cycle publishes it.

alice (tenant alpha) connects with a hostile ``?seq=`` (raw bytes, invalid UTF-8 included) and sends
hostile messages: the string as text, inside JSON where ``type`` or another key is expected, JSON
of the wrong type, and as bytes. After every batch the socket must still be open and answer a resync
with alpha's view, and nothing sent on it may name beta's namespace or pod. The node-light socket
(fan/nodelight_consumer.py) gets hostile node names and tokens: it must close with its codes.
"""

import json
import random
from urllib.parse import quote

import orjson
import pytest
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.test import override_settings

from kubemon.asgi import application
from tests.fuzz.corpus import HOSTILE, JSON_CONFUSION, hostile_strings
from tests.fuzz.targets import cookie_quoted
from tests.web import test_consumers as live
from tests.web.test_consumers import _cluster, _session_cookie, publish

# The live-socket tests' fixtures: alice, bob and charlie as in tests/support/base.py, and the
# consumer thread's database connection closed after each test.
people = live.people
close_thread_connections = live.close_thread_connections

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
BETA = (b"beta-web", b"web-1")
PER_SOCKET = 50  # messages sent on one socket before it is asked for its view again


def _messages(value):
    """The ways one hostile string reaches ``LiveConsumer.receive``: (text_data, bytes_data). (The
    communicator cannot send an empty frame.)"""
    if value:
        yield value, None
        yield None, value.encode("utf-8", "surrogatepass")
    yield json.dumps({"type": value}), None
    yield json.dumps({"type": "resync", value[:100]: value}), None


def expected_messages(strings, json_values, sockets):
    return sum(len(list(_messages(value))) for value in strings) + sockets * 2 * len(json_values)


def _query_strings(value):
    """``?seq=`` percent-encoded, as raw UTF-8, and as bytes that are not UTF-8 at all."""
    yield ("seq=" + quote(value, safe="")).encode()
    yield b"seq=" + value.encode("utf-8", "surrogatepass")[:2000]
    yield b"seq=\xff\xfe" + value.encode("utf-8", "surrogatepass")[:100] + b"\xc3"


async def _open(people, query_string):
    _, key = await database_sync_to_async(_session_cookie)(people.alice)
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", f"sessionid={key}".encode())]
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
    communicator.scope["query_string"] = query_string
    connected, code = await communicator.connect(timeout=5)
    assert connected, (query_string[:60], code)
    return communicator


async def _view(communicator):
    """The next message: a view of alpha's pods only."""
    text = await communicator.receive_from(timeout=5)
    assert not any(marker in text.encode() for marker in BETA), text[:300]
    view = orjson.loads(text)
    assert view["type"] == "snapshot" and view["scope"] == "tenant", text[:200]
    return view


async def fuzz_live_socket(people, redis_db, strings, json_values=()):
    """Every string through ``?seq=`` (two encodings) and as four kinds of message; returns the counts."""
    pods, usage, nodes = _cluster()
    await publish(redis_db, pods, usage, nodes, 1000, people)
    sockets = messages = 0
    communicator = None
    for i, value in enumerate(strings):
        if i % PER_SOCKET == 0:
            if communicator is not None:
                await communicator.disconnect()
            query_strings = list(_query_strings(value))
            communicator = await _open(people, query_strings[(i // PER_SOCKET) % 3])
            sockets += 1
            await _view(communicator)  # no hostile seq is the latest one: the full view comes
        for text, data in _messages(value):
            await communicator.send_to(text_data=text, bytes_data=data)
            messages += 1
        if i % PER_SOCKET == PER_SOCKET - 1 or i == len(strings) - 1:
            for value_of_wrong_type in json_values:
                await communicator.send_to(text_data=json.dumps({"type": value_of_wrong_type}))
                await communicator.send_to(text_data=json.dumps(value_of_wrong_type))
                messages += 2
            await communicator.send_to(text_data='{"type": "resync"}')
            await _view(communicator)  # still open, and still alpha's view only
    await communicator.disconnect()
    return sockets, messages


async def test_a_sample_of_hostile_strings_through_the_live_socket_breaks_nothing(people, redis_db):
    rng = random.Random(14)
    strings = rng.sample(HOSTILE, 50) + rng.sample(hostile_strings(1000)[len(HOSTILE):], 100)
    sockets, messages = await fuzz_live_socket(people, redis_db, strings, JSON_CONFUSION)
    print(f"\nfuzz: {len(strings)} hostile strings, {sockets} live sockets, {messages} websocket messages")
    assert (sockets, messages) == (3, expected_messages(strings, JSON_CONFUSION, 3))


@pytest.mark.slow
async def test_ten_thousand_hostile_strings_through_the_live_socket_break_nothing(people, redis_db):
    strings = hostile_strings(10_000)
    sockets, messages = await fuzz_live_socket(people, redis_db, strings, JSON_CONFUSION)
    print(f"\nfuzz: {len(strings)} hostile strings, {sockets} live sockets, {messages} websocket messages")
    assert (sockets, messages) == (200, expected_messages(strings, JSON_CONFUSION, 200))


# A refused socket costs about half a second of the test's wall time here: a few in make test, more in test-slow.
SOCKET_COUNTS = [6, pytest.param(60, marks=pytest.mark.slow)]


@pytest.mark.parametrize("count", SOCKET_COUNTS)
async def test_hostile_node_names_and_tokens_on_the_node_light_socket_only_close_it(people, redis_db, count):
    pods, usage, nodes = _cluster()
    await publish(redis_db, pods, usage, nodes, 1000, people)
    # (a node name with "/" matches no route: Channels' URLRouter refuses the socket before kubemon sees it)
    strings = [s for s in random.Random(14).sample(HOSTILE, 100) if "/" not in s and s][:count]
    closes = {}
    with override_settings(NODELIGHT_TOKEN="fuzz-light-token"):
        for value in strings:
            for path, token in ((f"/ws/nodelight/{quote(value[:500], safe='')}/", "fuzz-light-token"),
                                ("/ws/nodelight/node-1/", value[:500])):
                headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"),
                           (b"authorization", b"Bearer " + token.encode("utf-8", "surrogatepass"))]
                communicator = WebsocketCommunicator(application, path, headers=headers)
                connected, code = await communicator.connect(timeout=5)
                if connected:
                    output = await communicator.receive_output(timeout=5)
                    code = output.get("code") if output["type"] == "websocket.close" else "message"
                    if code == "message":
                        assert not any(m in output.get("text", "").encode() for m in BETA[1:]), output
                closes[code] = closes.get(code, 0) + 1
                await communicator.disconnect()
    print(f"\nfuzz: node-light sockets closed with {closes}")
    assert set(closes) <= {4401, 4404, "message", None}, closes
    assert sum(closes.values()) == 2 * len(strings)


@pytest.mark.parametrize("count", SOCKET_COUNTS)
async def test_hostile_session_cookies_on_the_live_socket_are_refused_as_logged_out(people, redis_db, count):
    strings = [s for s in random.Random(14).sample(HOSTILE, 100) if s][:count]
    strings += ["abcdefgh\x00", "abcdefghijklmnop\x00x"]
    for value in strings:
        for cookie in (cookie_quoted(value), value[:2000].replace(";", "")):
            headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"),
                       (b"cookie", f"sessionid={cookie}".encode("utf-8", "surrogatepass"))]
            communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
            connected, code = await communicator.connect(timeout=5)
            assert (connected, code) == (False, 4401), (value[:40], code)
            await communicator.disconnect()
