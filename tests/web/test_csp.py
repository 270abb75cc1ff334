"""The Content-Security-Policy and what it forbids: no page of the portal may need an inline script.

Each page is rendered as the people who see it would, and its HTML is parsed: every <script>
must have a ``src`` unless it is ``type="application/json"`` data (Django's json_script), and no
element may carry an inline event handler, a ``style`` attribute or a ``javascript:`` URL. Pages
of the portal without URL parameters are found from the URL conf, so a new page is checked too.
"""

from html.parser import HTMLParser

from django.conf import settings
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from tests.support.base import BaseTestCase, uses_redis


class InlineCodeFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.problems = []
        self.scripts = []
        self.in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
            if "src" not in attrs and attrs.get("type") != "application/json":
                self.problems.append(f"inline <script {attrs}>")
        if tag == "style":
            self.problems.append("<style> block")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> inline handler")
            if name == "style":
                self.problems.append(f"<{tag} style=...>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")


def inline_code(html):
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder


def parameterless_portal_paths():
    """Every path of the web URL namespace that takes no argument, e.g. "/web/status/"."""
    paths = []

    def walk(patterns, prefix, in_web):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern), in_web or entry.namespace == "web")
            elif isinstance(entry, URLPattern) and in_web and not entry.pattern.converters:
                route = prefix + str(entry.pattern)
                if "<" not in route and "(" not in route and "^" not in route:
                    paths.append("/" + route)

    walk(get_resolver().url_patterns, "", False)
    return sorted(set(paths))


@uses_redis
class ContentSecurityPolicyTests(BaseTestCase):
    def setUp(self):
        self.client = Client()

    def assert_clean(self, response, label):
        self.assertEqual(response["Content-Security-Policy"], settings.WEB_CONTENT_SECURITY_POLICY, label)
        self.assertIn("script-src 'self'", response["Content-Security-Policy"])
        finder = inline_code(response.content.decode())
        self.assertEqual(finder.problems, [], label)
        return finder

    def test_the_login_page_has_the_policy_and_no_inline_code(self):
        finder = self.assert_clean(self.client.get("/web/login/"), "login")
        self.assertIn({"type": "module", "src": "/static/web/base.js"}, finder.scripts)

    def test_a_failed_and_a_throttled_login_page_have_no_inline_code(self):
        self.assert_clean(self.client.post("/web/login/", {"username": "alice", "password": "x"}), "failed")
        with override_settings(WEB_LOGIN_FAILURES_PER_PAIR=1):
            response = self.client.post("/web/login/", {"username": "alice", "password": "x"})
            self.assertEqual(response.status_code, 429)
            self.assert_clean(response, "throttled")

    def test_the_account_pages_of_a_logged_in_user_have_no_inline_code(self):
        self.client.force_login(self.alice)
        for path in ("/web/logout/", "/web/password/", "/web/password/done/", "/web/status/"):
            response = self.client.get(path)
            self.assertEqual(response.status_code, 200, path)
            self.assert_clean(response, path)
        wrong = self.client.post("/web/password/", {"old_password": "x", "new_password1": "y", "new_password2": "z"})
        self.assert_clean(wrong, "password change errors")

    def test_every_parameterless_portal_page_has_no_inline_code_for_staff_and_a_tenant_member(self):
        paths = parameterless_portal_paths()
        self.assertIn("/web/status/", paths)
        self.assertIn("/web/login/", paths)
        checked = []
        for user in (self.charlie, self.bob):
            self.client.force_login(user)
            for path in paths:
                response = self.client.get(path, follow=True)
                if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
                    self.assert_clean(response, (user.username, path))
                    checked.append(path)
        self.assertIn("/web/status/", checked)
        self.assertIn("/web/fan/", checked)  # staff operate the fan

    def test_the_header_has_no_inline_code_in_any_of_its_forms(self):
        self.client.force_login(self.charlie)  # staff: the tenant switcher's select is shown
        response = self.client.get("/web/status/")
        text = response.content.decode()
        self.assertIn('id="tenant-select"', text)
        self.assertIn('id="live-state"', text)
        self.assert_clean(response, "staff header")

    def test_other_responses_carry_the_policy_too(self):
        response = self.client.get("/healthz")
        self.assertEqual(response["Content-Security-Policy"], settings.WEB_CONTENT_SECURITY_POLICY)
        self.assertEqual(response["X-Frame-Options"], "DENY")
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        self.assertEqual(response["Referrer-Policy"], "same-origin")
        self.assertEqual(response["Cross-Origin-Opener-Policy"], "same-origin")
        self.assertIn("camera=()", response["Permissions-Policy"])

    def test_the_api_docs_page_starts_swagger_ui_from_a_script_file_not_inline(self):
        response = self.client.get("/api/docs/")
        self.assertEqual(response.status_code, 200)
        finder = inline_code(response.content.decode())
        self.assertEqual([p for p in finder.problems if "script" in p], [])
        starter = [s["src"] for s in finder.scripts if "script" in s.get("src", "").split("?")[-1]]
        self.assertEqual(len(starter), 1, finder.scripts)
        script = self.client.get(starter[0])
        self.assertEqual(script.status_code, 200)
        self.assertTrue(script["Content-Type"].startswith("application/javascript"))
        self.assertIn("SwaggerUIBundle", script.content.decode())

    def test_the_finder_catches_what_the_policy_forbids(self):
        # The checker itself must be able to fail.
        bad = ('<script>alert(1)</script><script type="module">x()</script><a href="javascript:x()">a</a>'
               '<button onclick="x()">b</button><p style="color:red">c</p><style>p{}</style>')
        self.assertEqual(len(inline_code(bad).problems), 6)
        good = '<script type="application/json" id="d">{"a": 1}</script><script type="module" src="/s.js"></script>'
        self.assertEqual(inline_code(good).problems, [])
