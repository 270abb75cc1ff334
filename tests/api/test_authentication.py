"""X-USERNAME/X-PASSWORD: the legacy messages, credentials of every kind, throttling, timing."""

import time
from datetime import UTC, datetime, timedelta
from unittest import mock

from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient

from api.authentication import HeaderCredentialAuthentication
from billing.models import ApiCredential
from tests.support.base import BaseTestCase, container_series, uses_store, write

NOT_AUTHORIZED = {"code": 401, "message": "You are not authorized"}
NOT_RECOGNIZED = {"code": 401, "message": "Username and password is not recognized"}


@uses_store
class AuthenticationTests(BaseTestCase):
    def post(self, **headers):
        return self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev"}, who=None, **headers)

    def test_it_accepts_a_tenant_credential(self):
        response = self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"code": 200, "message": "Query returns empty set"})

    def test_it_says_not_authorized_without_headers(self):
        response = self.post()
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json(), NOT_AUTHORIZED)
        self.assertIn("WWW-Authenticate", response.headers)

    def test_it_says_not_authorized_with_an_empty_or_missing_header(self):
        for headers in ({"HTTP_X_USERNAME": "alpha-api", "HTTP_X_PASSWORD": ""},
                        {"HTTP_X_USERNAME": "", "HTTP_X_PASSWORD": self.alpha_secret},
                        {"HTTP_X_USERNAME": "alpha-api"}):
            response = self.post(**headers)
            self.assertEqual((response.status_code, response.json()), (401, NOT_AUTHORIZED), headers)

    def test_it_rejects_a_wrong_secret_and_an_unknown_username_alike(self):
        wrong = self.post(HTTP_X_USERNAME="alpha-api", HTTP_X_PASSWORD=self.beta_secret)
        unknown = self.post(HTTP_X_USERNAME="nobody", HTTP_X_PASSWORD=self.alpha_secret)
        for response in (wrong, unknown):
            self.assertEqual(response.status_code, 401)
            self.assertEqual(response.json(), NOT_RECOGNIZED)
        self.assertEqual(wrong.headers["WWW-Authenticate"], unknown.headers["WWW-Authenticate"])

    def test_it_rejects_a_revoked_credential(self):
        self.alpha_credential.revoke()
        response = self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev"})
        self.assertEqual(response.json(), NOT_RECOGNIZED)

    def test_it_rejects_the_dummy_secret_for_an_unknown_user(self):
        response = self.post(HTTP_X_USERNAME="nobody", HTTP_X_PASSWORD="kubemon: no such credential")
        self.assertEqual(response.json(), NOT_RECOGNIZED)

    def test_it_rejects_hostile_header_values_without_a_500(self):
        for username in ("a\x00b", "x" * 5000, "' OR 1=1 --", "alpha-api\n"):
            response = self.post(HTTP_X_USERNAME=username, HTTP_X_PASSWORD="y" * 300)
            self.assertEqual(response.status_code, 401, username[:20])

    @override_settings(API_USERNAME="legacy-billing", API_PASSWORD="the legacy shared secret")
    def test_the_settings_credential_is_global_and_read_only(self):
        headers = {"HTTP_X_USERNAME": "legacy-billing", "HTTP_X_PASSWORD": "the legacy shared secret"}
        response = self.post_metric("cpu/usage_rate", {"namespace": "beta-web"}, who=None, **headers)
        self.assertEqual(response.status_code, 200)
        wrong = self.post(HTTP_X_USERNAME="legacy-billing", HTTP_X_PASSWORD="the legacy shared secreT")
        self.assertEqual(wrong.json(), NOT_RECOGNIZED)

    @override_settings(API_USERNAME="", API_PASSWORD="")
    def test_an_unset_settings_credential_accepts_nothing(self):
        response = self.post(HTTP_X_USERNAME="", HTTP_X_PASSWORD="")
        self.assertEqual(response.json(), NOT_AUTHORIZED)

    def test_it_records_last_used_once_a_minute(self):
        self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev"})
        self.alpha_credential.refresh_from_db()
        first = self.alpha_credential.last_used
        self.assertIsNotNone(first)
        self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev"})
        self.alpha_credential.refresh_from_db()
        self.assertEqual(self.alpha_credential.last_used, first)
        ApiCredential.objects.filter(pk=self.alpha_credential.pk).update(last_used=first - timedelta(minutes=2))
        self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev"})
        self.alpha_credential.refresh_from_db()
        self.assertGreater(self.alpha_credential.last_used, first - timedelta(seconds=1))

    def test_a_web_session_gets_the_users_scope(self):
        self.client.force_login(self.bob)
        allowed = self.client.post("/api/cpu/usage_rate", {"namespace": "beta-web"}, format="json")
        self.assertEqual(allowed.status_code, 200)
        refused = self.client.post("/api/cpu/usage_rate", {"namespace": "alpha-dev"}, format="json")
        self.assertEqual(refused.status_code, 404)


BODY = '{"namespace": "beta-web", "limit": "5"}'
# What clients send with -d '{...}': curl's default, a plain text body, none at all, and JSON.
CONTENT_TYPES = ("application/x-www-form-urlencoded", "text/plain", "text/plain; charset=utf-8", "",
                 "application/json")


@uses_store
class SessionBodyTests(BaseTestCase):
    """A logged-in web user's POST reads the same bodies as a header client's, with CSRF enforced."""

    def setUp(self):
        super().setUp()
        self.client = APIClient(enforce_csrf_checks=True)
        self.client.force_login(self.bob)
        self.token = get_random_string(32)
        self.client.cookies[settings.CSRF_COOKIE_NAME] = self.token
        # Ten minutes before now, inside the default window (the last 60 minutes) whatever the minute.
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        write(container_series("beta-web", "web-1", "app", start, 8))

    def post(self, body, content_type, **extra):
        return self.client.generic("POST", "/api/cpu/usage_rate", body, content_type=content_type, **extra)

    def test_it_reads_a_json_body_whatever_the_content_type_for_a_session_as_for_headers(self):
        for content_type in CONTENT_TYPES:
            session = self.post(BODY, content_type, HTTP_X_CSRFTOKEN=self.token)
            header = APIClient().generic("POST", "/api/cpu/usage_rate", BODY, content_type=content_type,
                                         **self.headers("beta"))
            self.assertEqual(session.status_code, 200, (content_type, session.content))
            self.assertEqual(len(session.json()), 5, content_type)
            self.assertEqual(session.json(), header.json(), content_type)

    def test_it_answers_a_session_and_a_header_client_alike_for_a_bad_body(self):
        for body in ("{not json", "[1, 2]", '{"limit": "--5"}', "namespace=beta-web&limit=5"):
            for content_type in CONTENT_TYPES:
                session = self.post(body, content_type, HTTP_X_CSRFTOKEN=self.token)
                header = APIClient().generic("POST", "/api/cpu/usage_rate", body, content_type=content_type,
                                             **self.headers("beta"))
                self.assertEqual(session.status_code, 400, (body, content_type, session.content))
                self.assertEqual(session.json(), header.json(), (body, content_type))

    def test_it_still_refuses_a_session_post_without_the_csrf_token(self):
        for content_type in CONTENT_TYPES:
            for extra, body in (({}, BODY), ({"HTTP_X_CSRFTOKEN": get_random_string(32)}, BODY), ({}, "{not json")):
                response = self.post(body, content_type, **extra)
                self.assertEqual(response.status_code, 403, (content_type, extra, body))
                self.assertEqual(response.json()["code"], 403)
                self.assertIn("CSRF", response.json()["message"])

    def test_a_form_field_named_like_the_csrf_token_does_not_replace_the_header(self):
        # The body is read as JSON, never as a form: a csrfmiddlewaretoken field in it counts for nothing.
        body = f"csrfmiddlewaretoken={self.token}"
        response = self.post(body, "application/x-www-form-urlencoded")
        self.assertEqual(response.status_code, 403)


@uses_store
class ThrottleTests(BaseTestCase):
    ATTACKER = "203.0.113.66"
    BILLING = "10.0.0.5"

    def fail(self, username="billing-system", address=ATTACKER, **extra):
        return self.post_metric("cpu/usage_rate", {"namespace": "alpha-dev"}, who=None,
                                HTTP_X_USERNAME=username, HTTP_X_PASSWORD="wrong", REMOTE_ADDR=address, **extra)

    def right(self, address=BILLING, who="global", **extra):
        namespace = "beta-web" if who == "beta" else "alpha-dev"
        return self.post_metric("cpu/usage_rate", {"namespace": namespace}, who=who, REMOTE_ADDR=address, **extra)

    def test_it_refuses_to_let_an_attacker_lock_out_a_known_username_from_its_own_address(self):
        for _ in range(10):
            self.assertEqual(self.fail().status_code, 401)
        self.assertEqual(self.fail().status_code, 429)
        self.assertEqual(self.right().status_code, 200)

    def test_it_throttles_the_attackers_address_for_that_username_even_with_the_right_secret(self):
        for _ in range(10):
            self.fail()
        right = self.right(address=self.ATTACKER)
        self.assertEqual(right.status_code, 429)
        self.assertEqual(right.json()["code"], 429)
        self.assertIn("Too many failed attempts", right.json()["message"])
        self.assertLessEqual(int(right.headers["Retry-After"]), 60)
        # Another username from the same address is not yet over the address's own, larger limit.
        self.assertEqual(self.right(address=self.ATTACKER, who="beta").status_code, 200)

    def test_it_locks_nobody_out_when_the_failures_come_from_many_addresses(self):
        for i in range(30):
            self.assertEqual(self.fail(address=f"198.51.100.{i}").status_code, 401)
        self.assertEqual(self.right().status_code, 200)

    def test_it_throttles_an_address_trying_many_usernames_after_five_times_the_limit(self):
        for i in range(50):
            self.assertEqual(self.fail(username=f"guess-{i}").status_code, 401, i)
        self.assertEqual(self.fail(username="guess-next").status_code, 429)
        self.assertEqual(self.right(address=self.ATTACKER).status_code, 429)
        self.assertEqual(self.right(address="10.9.9.9").status_code, 200)

    @override_settings(API_AUTH_FAILURES_PER_MINUTE=2)
    def test_both_limits_follow_the_setting(self):
        self.fail(), self.fail()
        self.assertEqual(self.fail().status_code, 429)
        for i in range(8):
            self.fail(username=f"guess-{i}")
        self.assertEqual(self.right(address=self.ATTACKER, who="beta").status_code, 429)

    def test_an_ipv6_attacker_counts_as_its_whole_64_prefix(self):
        for i in range(10):
            self.assertEqual(self.fail(address=f"2001:db8:0:7::{i + 1:x}").status_code, 401)
        self.assertEqual(self.right(address="2001:db8:0:7::ffff").status_code, 429)
        self.assertEqual(self.right(address="2001:db8:0:8::1").status_code, 200)
        self.assertEqual(self.right(address="::ffff:10.0.0.5").status_code, 200)

    def test_the_window_closes_after_a_minute(self):
        for _ in range(10):
            self.fail()
        redis = __import__("kubemon.redis", fromlist=["get_redis"]).get_redis()
        for key in redis.keys("kubemon:authfail:*"):
            self.assertLessEqual(redis.ttl(key), 60)
            redis.expire(key, 1)
        time.sleep(1.2)
        self.assertEqual(self.right(address=self.ATTACKER).status_code, 200)

    @override_settings(API_NUM_PROXIES=1)
    def test_behind_one_proxy_the_forwarded_address_counts(self):
        for _ in range(10):
            self.fail(address="10.0.0.254", HTTP_X_FORWARDED_FOR="spoofed, 192.0.2.7")
        blocked = self.right(address="10.0.0.254", HTTP_X_FORWARDED_FOR="anything, 192.0.2.7")
        self.assertEqual(blocked.status_code, 429)
        other_client = self.right(address="10.0.0.254", HTTP_X_FORWARDED_FOR="192.0.2.7, 192.0.2.8")
        self.assertEqual(other_client.status_code, 200)


@uses_store
class AuthenticationCostTests(BaseTestCase):
    """What a check costs, counted in steps rather than timed (a timed test fails on a loaded
    machine; bench/bench_api.py times it: about 0.3 ms)."""

    def steps(self, username, secret):
        """``(queries, digest comparisons, digests)`` of one check."""
        import hmac

        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        import api.authentication as auth_module

        counts = {"compare": 0, "digest": 0}
        original_compare = hmac.compare_digest

        def compare(a, b):
            counts["compare"] += 1
            return original_compare(a, b)

        def digest(value):
            counts["digest"] += 1
            return original_digest(value)

        original_digest = auth_module.secret_digest
        with (mock.patch.object(auth_module.hmac, "compare_digest", compare),
              mock.patch.object(auth_module, "secret_digest", digest),
              CaptureQueriesContext(connection) as queries):
            HeaderCredentialAuthentication().verify(username, secret)
        return len(queries), counts["compare"], counts["digest"]

    def test_unknown_user_and_wrong_secret_take_the_same_steps(self):
        wrong = self.steps("alpha-api", "wrong secret")
        self.assertEqual(wrong, (1, 1, 1))
        self.assertEqual(self.steps("nobody-at-all", "wrong secret"), wrong)

    def test_a_check_runs_no_password_hasher(self):
        with mock.patch("django.contrib.auth.hashers.get_hasher", side_effect=AssertionError("a hasher ran")):
            self.assertIsNotNone(HeaderCredentialAuthentication().verify("alpha-api", self.alpha_secret))
            self.assertIsNone(HeaderCredentialAuthentication().verify("nobody-at-all", "wrong secret"))

    def test_last_used_is_not_written_on_every_request(self):
        self.alpha_credential.touch(timezone.now())
        with self.assertNumQueries(2):  # the credential read, and the tenant's namespaces
            HeaderCredentialAuthentication().verify("alpha-api", self.alpha_secret)
