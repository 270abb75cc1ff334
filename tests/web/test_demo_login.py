"""One-time demo login links (``WEB_DEMO_LOGIN``) and the logout message to a session's websockets."""

import asyncio
import hashlib
import io
import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from kubemon.redis import get_redis
from tests.support.base import BaseTestCase, uses_redis
from web.access import session_group
from web.accounts_demo import DemoLoginDisabled, issue_token, login_path


@uses_redis
@override_settings(WEB_DEMO_LOGIN=True)
class DemoLoginTests(BaseTestCase):
    def setUp(self):
        self.client = Client()

    def test_a_link_logs_its_user_in_once(self):
        path = login_path(issue_token("alice"))
        response = self.client.get(path)
        self.assertEqual((response.status_code, response["Location"]), (302, "/"))
        page = self.client.get("/web/status/")
        self.assertEqual(page.status_code, 200)
        self.assertEqual(page.wsgi_request.user.username, "alice")

        other = Client()
        self.assertEqual(other.get(path).status_code, 404)
        self.assertEqual(other.get("/web/status/").status_code, 302)

    def test_redis_keeps_only_the_digest_of_the_secret_with_a_short_lifetime(self):
        token = issue_token("alice")
        token_id, secret = token.split(".")
        (key,) = get_redis().keys("kubemon:web:demo-login:*")
        self.assertEqual(key.decode(), "kubemon:web:demo-login:" + token_id)
        record = json.loads(get_redis().get(key))
        self.assertEqual(record, {"digest": hashlib.sha256(secret.encode()).hexdigest(), "username": "alice"})
        self.assertNotIn(secret.encode(), get_redis().get(key))
        self.assertTrue(0 < get_redis().ttl(key) <= 600)

    def test_a_wrong_secret_is_404_and_leaves_the_link_usable(self):
        token = issue_token("bob")
        token_id, secret = token.split(".")
        forged = token_id + "." + ("A" if secret[0] != "A" else "B") + secret[1:]
        self.assertEqual(self.client.get(login_path(forged)).status_code, 404)
        self.assertEqual(self.client.get("/web/status/").status_code, 302)
        self.assertEqual(self.client.get(login_path(token)).status_code, 302)
        self.assertEqual(self.client.get("/web/status/").wsgi_request.user.username, "bob")

    def test_an_expired_or_malformed_link_is_404(self):
        token = issue_token("bob")
        get_redis().delete(*get_redis().keys("kubemon:web:demo-login:*"))  # what the TTL does
        self.assertEqual(self.client.get(login_path(token)).status_code, 404)
        for junk in ("x", "a" * 16 + "." + "b" * 10, "../../etc"):
            self.assertEqual(self.client.get(f"/web/login/demo/{junk}/").status_code, 404, junk)

    def test_a_link_of_a_user_deactivated_since_is_404(self):
        token = issue_token("bob")
        self.bob.is_active = False
        self.bob.save()
        self.assertEqual(self.client.get(login_path(token)).status_code, 404)

    def test_the_command_prints_a_working_path(self):
        out = io.StringIO()
        call_command("demologin", "--username", "charlie", stdout=out)
        path = out.getvalue().strip()
        self.assertRegex(path, r"^/web/login/demo/[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}/$")
        self.assertEqual(self.client.get(path).status_code, 302)
        self.assertEqual(self.client.get("/web/status/").wsgi_request.user.username, "charlie")

    def test_the_command_refuses_an_unknown_user(self):
        with self.assertRaisesRegex(CommandError, "no active user"):
            call_command("demologin", "--username", "nobody", stdout=io.StringIO())


@uses_redis
class DemoLoginDisabledTests(BaseTestCase):
    def test_with_the_setting_off_no_link_is_issued_and_the_path_is_404(self):
        with override_settings(WEB_DEMO_LOGIN=True):
            token = issue_token("alice")
        with self.assertRaises(DemoLoginDisabled):
            issue_token("alice")
        with self.assertRaisesRegex(CommandError, "WEB_DEMO_LOGIN is off"):
            call_command("demologin", "--username", "alice", stdout=io.StringIO())
        client = Client()
        self.assertEqual(client.get(login_path(token)).status_code, 404)
        self.assertEqual(client.get("/web/status/").status_code, 302)


@pytest.mark.usefixtures("redis_db")
class LogoutClosesWebsocketsTests(BaseTestCase):
    def test_logging_out_tells_the_sessions_group_that_the_session_ended(self):
        client = Client()
        client.force_login(self.alice)
        key = client.session.session_key
        layer = get_channel_layer()

        async def join():
            channel = await layer.new_channel()
            await layer.group_add(session_group(key), channel)
            return channel

        async def receive(channel):
            return await asyncio.wait_for(layer.receive(channel), 5)

        channel = async_to_sync(join)()
        self.assertEqual(client.post("/web/logout/").status_code, 302)
        self.assertEqual(async_to_sync(receive)(channel), {"type": "session.ended"})

    def test_the_group_name_is_a_valid_channels_name_that_hides_the_session_key(self):
        name = session_group("abcdefghijklmnopqrstuvwxyz012345")
        self.assertRegex(name, r"^session-[0-9a-f]{40}$")
        self.assertNotIn("abcdef", name)
        self.assertNotEqual(name, session_group("another-session-key-0123456789ab"))
