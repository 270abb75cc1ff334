"""Failed portal logins are throttled per (username, address) and per address, in Redis."""

import re

from django.test import Client, override_settings

from kubemon.redis import get_redis
from tests.support.base import BaseTestCase, uses_redis


def error_text(response):
    match = re.search(r'<div class="form-error"[^>]*>(.*?)</div>', response.content.decode(), re.S)
    return match.group(1).strip() if match else None


@uses_redis
@override_settings(WEB_LOGIN_FAILURES_PER_PAIR=3, WEB_LOGIN_FAILURES_PER_ADDRESS=7,
                   WEB_LOGIN_FAILURE_WINDOW_SECONDS=120)
class LoginThrottleTests(BaseTestCase):
    def setUp(self):
        self.client = Client()

    def login(self, username, password, address="192.0.2.10", **extra):
        return self.client.post("/web/login/", {"username": username, "password": password},
                                REMOTE_ADDR=address, **extra)

    def fail(self, username, times, address="192.0.2.10", **extra):
        for _ in range(times):
            self.assertEqual(self.login(username, "a wrong guess", address, **extra).status_code, 200)

    def test_it_refuses_even_the_right_password_after_too_many_failures_and_says_when_to_retry(self):
        self.fail("alice", 3)
        response = self.login("alice", "alice password")
        self.assertEqual(response.status_code, 429)
        retry = int(response["Retry-After"])
        self.assertTrue(110 <= retry <= 120, retry)
        self.assertRegex(error_text(response), r"Too many failed logins from your address\. "
                                               r"Try again in \d+ s \(after \d\d:\d\d:\d\d\)\.")
        self.assertEqual(self.client.get("/web/status/").status_code, 302)  # not logged in

    def test_an_unknown_username_is_throttled_with_the_same_answer(self):
        self.fail("alice", 3)
        self.fail("nobody-by-this-name", 3)
        known = self.login("alice", "another guess")
        unknown = self.login("nobody-by-this-name", "another guess")
        self.assertEqual((known.status_code, unknown.status_code), (429, 429))
        self.assertEqual(re.sub(r"\d", "0", error_text(known)), re.sub(r"\d", "0", error_text(unknown)))

    def test_the_same_username_from_another_address_may_still_log_in(self):
        self.fail("alice", 3, address="192.0.2.10")
        response = self.login("alice", "alice password", address="198.51.100.4")
        self.assertEqual((response.status_code, response["Location"]), (302, "/"))

    def test_an_address_that_fails_with_many_usernames_is_throttled_for_all_of_them(self):
        for name in ("u1", "u2", "u3"):
            self.fail(name, 2)
        self.fail("u4", 1)  # 7 failures from this address
        response = self.login("bob", "bob password")
        self.assertEqual(response.status_code, 429)
        other = self.login("bob", "bob password", address="198.51.100.4")
        self.assertEqual(other.status_code, 302)

    def test_a_successful_login_clears_its_pairs_count(self):
        self.fail("alice", 2)
        self.assertEqual(self.login("alice", "alice password").status_code, 302)
        self.client.logout()
        self.fail("alice", 2)  # 2 more: the count started afresh, so not yet over 3
        self.assertEqual(self.login("alice", "alice password").status_code, 302)

    def test_usernames_differing_only_in_case_or_spaces_count_together(self):
        self.fail("Alice", 1)
        self.fail("ALICE ", 1)
        self.fail("alice", 1)
        self.assertEqual(self.login("alice", "alice password").status_code, 429)

    def test_an_ipv6_client_counts_as_its_slash_64(self):
        self.fail("alice", 2, address="2001:db8:1:2::10")
        self.fail("alice", 1, address="2001:db8:1:2::ffff")
        self.assertEqual(self.login("alice", "alice password", address="2001:db8:1:2::abcd").status_code, 429)
        self.assertEqual(self.login("alice", "alice password", address="2001:db8:1:3::1").status_code, 302)

    @override_settings(API_NUM_PROXIES=1)
    def test_behind_a_proxy_the_address_comes_from_x_forwarded_for_as_far_as_trusted(self):
        # The client wrote "spoofed"; the proxy appended the address it saw.
        self.fail("alice", 3, address="10.0.0.254", HTTP_X_FORWARDED_FOR="spoofed, 192.0.2.7")
        blocked = self.login("alice", "alice password", address="10.0.0.254",
                             HTTP_X_FORWARDED_FOR="anything, 192.0.2.7")
        self.assertEqual(blocked.status_code, 429)
        other = self.login("alice", "alice password", address="10.0.0.254", HTTP_X_FORWARDED_FOR="192.0.2.8")
        self.assertEqual(other.status_code, 302)

    def test_the_legacy_signin_is_throttled_too(self):
        self.fail("bob", 3)
        response = self.client.post("/web/authentication/signin", {"username": "bob", "password": "bob password"},
                                    REMOTE_ADDR="192.0.2.10")
        self.assertEqual(response.status_code, 429)

    def test_the_counters_expire_with_the_window(self):
        self.fail("alice", 3)
        keys = get_redis().keys("kubemon:web:loginfail:*")
        self.assertEqual(len(keys), 2)  # the pair and the address; no username in the key names
        self.assertTrue(all(b"alice" not in key for key in keys))
        self.assertTrue(all(0 < get_redis().ttl(key) <= 120 for key in keys))
        for key in keys:
            get_redis().delete(key)  # what the window's end does
        self.assertEqual(self.login("alice", "alice password").status_code, 302)

    def test_with_redis_down_logins_still_work(self):
        with override_settings(REDIS_URL="redis://127.0.0.1:9/0"):
            from kubemon.redis import reset_redis

            reset_redis()
            try:
                self.assertEqual(self.login("alice", "a wrong guess").status_code, 200)
                self.assertEqual(self.login("alice", "alice password").status_code, 302)
            finally:
                reset_redis()
