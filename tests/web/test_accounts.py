"""Logging in and out of the portal, password change, and the legacy account paths."""

import re
import statistics
import time
from unittest import mock

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher, PBKDF2PasswordHasher
from django.test import Client, override_settings

from tests.support.base import BaseTestCase, uses_redis


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 with a tenth of its iterations: still the slowest step of a login, quicker to time."""

    iterations = PBKDF2PasswordHasher.iterations // 10


def error_text(response):
    match = re.search(r'<div class="form-error"[^>]*>(.*?)</div>', response.content.decode(), re.S)
    return match.group(1).strip() if match else None


@uses_redis
class LoginTests(BaseTestCase):
    def setUp(self):
        self.client = Client()

    def login(self, username, password, path="/web/login/", **extra):
        return self.client.post(path, {"username": username, "password": password, **extra})

    def test_it_logs_a_user_in_and_sends_them_to_the_overview(self):
        response = self.login("alice", "alice password")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["Location"], "/")
        self.assertEqual(self.client.get("/web/status/").status_code, 200)

    def test_it_sends_a_user_to_the_page_they_asked_for_after_login(self):
        page = self.client.get("/web/status/")
        self.assertEqual(page["Location"], "/web/login/?next=/web/status/")
        response = self.login("alice", "alice password", next="/web/status/")
        self.assertEqual(response["Location"], "/web/status/")

    def test_it_does_not_follow_a_next_that_leaves_the_site(self):
        response = self.login("alice", "alice password", next="https://evil.example/phish")
        self.assertEqual(response["Location"], "/")

    def test_it_refuses_a_wrong_password_with_a_form_error(self):
        response = self.login("alice", "not her password")
        self.assertEqual(response.status_code, 200)
        self.assertIn("do not match an account", error_text(response))
        self.assertEqual(self.client.get("/web/status/").status_code, 302)

    def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(self):
        wrong = self.login("alice", "not her password")
        unknown = self.login("nobody-by-this-name", "not her password")
        self.assertEqual(wrong.status_code, unknown.status_code)
        self.assertEqual(error_text(wrong), error_text(unknown))

    def test_an_inactive_user_with_the_right_password_gets_the_same_answer(self):
        get_user_model().objects.filter(username="bob").update(is_active=False)
        inactive = self.login("bob", "bob password")
        wrong = self.login("alice", "not her password")
        self.assertEqual(error_text(inactive), error_text(wrong))

    def test_the_hasher_runs_for_an_unknown_user_as_for_a_wrong_password(self):
        # Django's ModelBackend hashes the given password when no user has the name; if a
        # Django upgrade stopped doing so, unknown names would answer measurably faster.
        with mock.patch.object(MD5PasswordHasher, "encode", autospec=True,
                               side_effect=MD5PasswordHasher.encode) as encode:
            self.login("nobody-by-this-name", "guess one")
            unknown_calls = [call.args[1] for call in encode.call_args_list]
            encode.reset_mock()
            self.login("alice", "guess one")
            wrong_calls = [call.args[1] for call in encode.call_args_list]
        self.assertEqual(unknown_calls, ["guess one"])
        self.assertEqual(wrong_calls, ["guess one"])

    def test_the_login_form_has_the_legacy_field_names(self):
        text = self.client.get("/web/login/").content.decode()
        self.assertIn('name="username"', text)
        self.assertIn('name="password"', text)
        self.assertIn('name="csrfmiddlewaretoken"', text)

    def test_a_logged_in_user_opening_the_login_page_goes_on_to_the_overview(self):
        self.client.force_login(self.alice)
        response = self.client.get("/web/login/")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["Location"], "/")

    def test_the_login_form_needs_the_csrf_token(self):
        client = Client(enforce_csrf_checks=True)
        response = client.post("/web/login/", {"username": "alice", "password": "alice password"})
        self.assertEqual(response.status_code, 403)

    def test_the_session_cookie_is_httponly_samesite_lax_and_secure_when_not_debug(self):
        response = self.login("alice", "alice password")
        cookie = response.cookies["sessionid"]
        self.assertTrue(cookie["httponly"])
        self.assertEqual(cookie["samesite"], "Lax")
        self.assertTrue(cookie["secure"])  # the suite runs with DEBUG off
        csrf = self.client.cookies["csrftoken"]
        self.assertTrue(csrf["httponly"])
        self.assertEqual(csrf["samesite"], "Lax")


@uses_redis
class LegacyPathTests(BaseTestCase):
    def setUp(self):
        self.client = Client()

    def test_the_legacy_signin_logs_in_with_the_legacy_fields(self):
        response = self.client.post("/web/authentication/signin", {"username": "bob", "password": "bob password"})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["Location"], "/")
        self.assertEqual(self.client.get("/web/status/").status_code, 200)

    def test_the_legacy_signin_shows_the_login_form_with_the_error_on_a_wrong_password(self):
        response = self.client.post("/web/authentication/signin", {"username": "bob", "password": "nope"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("do not match an account", error_text(response))

    def test_a_get_of_the_legacy_signin_goes_to_the_login_page(self):
        response = self.client.get("/web/authentication/signin")
        self.assertEqual((response.status_code, response["Location"]), (302, "/web/login/"))

    def test_the_legacy_signout_logs_out(self):
        self.client.force_login(self.bob)
        response = self.client.post("/web/authentication/signout")
        self.assertEqual((response.status_code, response["Location"]), (302, "/web/login/"))
        self.assertEqual(self.client.get("/web/status/").status_code, 302)

    def test_the_legacy_login_path_is_the_login_page(self):
        response = self.client.get("/web/login/")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Log in to kubemon", response.content.decode())


@uses_redis
class LogoutAndPasswordTests(BaseTestCase):
    def setUp(self):
        self.client = Client()
        self.client.force_login(self.alice)

    def test_logout_is_a_post_and_a_get_only_asks(self):
        asked = self.client.get("/web/logout/")
        self.assertEqual(asked.status_code, 200)
        self.assertIn('action="/web/logout/"', asked.content.decode())
        self.assertEqual(self.client.get("/web/status/").status_code, 200)  # still logged in
        response = self.client.post("/web/logout/")
        self.assertEqual((response.status_code, response["Location"]), (302, "/web/login/"))
        self.assertEqual(self.client.get("/web/status/").status_code, 302)

    def test_every_page_has_a_logout_form_that_posts(self):
        text = self.client.get("/web/status/").content.decode()
        self.assertRegex(text, r'<form method="post" action="/web/logout/">\s*'
                               r'<input type="hidden" name="csrfmiddlewaretoken"')

    def test_a_user_changes_their_password_and_stays_logged_in(self):
        response = self.client.post("/web/password/", {
            "old_password": "alice password",
            "new_password1": "a much better passphrase 42",
            "new_password2": "a much better passphrase 42",
        })
        self.assertEqual((response.status_code, response["Location"]), (302, "/web/password/done/"))
        self.assertEqual(self.client.get("/web/status/").status_code, 200)
        self.alice.refresh_from_db()
        self.assertTrue(self.alice.check_password("a much better passphrase 42"))
        self.assertFalse(self.alice.check_password("alice password"))

    def test_a_password_change_with_the_wrong_old_password_is_a_form_error(self):
        response = self.client.post("/web/password/", {
            "old_password": "a guess",
            "new_password1": "a much better passphrase 42",
            "new_password2": "a much better passphrase 42",
        })
        self.assertEqual(response.status_code, 200)
        self.assertIn("Your old password was entered incorrectly", response.content.decode())
        self.alice.refresh_from_db()
        self.assertTrue(self.alice.check_password("alice password"))

    def test_a_too_short_new_password_is_refused_with_the_validators_message(self):
        response = self.client.post("/web/password/", {
            "old_password": "alice password", "new_password1": "short", "new_password2": "short",
        })
        self.assertEqual(response.status_code, 200)
        self.assertIn("This password is too short", response.content.decode())


@uses_redis
class LoginTimingTests(BaseTestCase):
    """An unknown username must not answer measurably faster than a wrong password (loose bound)."""

    def setUp(self):
        self.client = Client()

    def timed_login(self, username):
        start = time.perf_counter()
        response = self.client.post("/web/login/", {"username": username, "password": "a wrong guess"})
        elapsed = time.perf_counter() - start
        self.assertEqual(response.status_code, 200)
        return elapsed

    @override_settings(PASSWORD_HASHERS=["tests.web.test_accounts.QuickPBKDF2PasswordHasher"],
                       WEB_LOGIN_FAILURES_PER_PAIR=0, WEB_LOGIN_FAILURES_PER_ADDRESS=0)
    def test_an_unknown_username_takes_about_as_long_as_a_wrong_password(self):
        user = get_user_model().objects.create_user("erin", "erin@example.org", "erin's real password")
        self.assertTrue(user.password.startswith("pbkdf2_sha256$"))
        wrong, unknown = [], []
        for _ in range(7):  # interleaved, so that load on the machine hits both alike
            wrong.append(self.timed_login("erin"))
            unknown.append(self.timed_login("nobody-by-this-name"))
        wrong_median, unknown_median = statistics.median(wrong), statistics.median(unknown)
        # The hasher dominates both (about 30 ms here); without it an unknown name takes ~2 ms.
        self.assertGreater(unknown_median, 0.5 * wrong_median, (wrong, unknown))
        self.assertLess(unknown_median, 2.0 * wrong_median, (wrong, unknown))
