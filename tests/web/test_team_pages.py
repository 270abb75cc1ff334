"""A tenant admin's team pages (web/team.py): API credentials and members, who may see and change them.

The people of tests/support/base.py: alice administers alpha, bob views beta, charlie is staff;
here dave views alpha too. A revoked credential is tried against the real API (``/api/statements``
with the ``X-USERNAME``/``X-PASSWORD`` headers).
"""

import re
import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.test import Client

from billing.models import ApiCredential, Membership, Tenant, secret_digest
from tests.support.base import BaseTestCase, uses_redis
from tests.web.test_csp import inline_code

NOT_RECOGNIZED = {"code": 401, "message": "Username and password is not recognized"}


def secret_in(html):
    match = re.search(r'<code id="new-secret-value">([^<]+)</code>', html)
    return match.group(1) if match else None


class TeamPageBase(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        User = get_user_model()
        cls.dave = User.objects.create_user("dave", "dave@example.org", "dave password")
        cls.dave_in_alpha = Membership.objects.create(user=cls.dave, tenant=cls.alpha, role=Membership.Role.VIEWER)
        cls.erin = User.objects.create_user("erin", "erin@example.org", "erin password")  # in no tenant
        cls.alice_in_alpha = Membership.objects.get(user=cls.alice, tenant=cls.alpha)
        cls.bob_in_beta = Membership.objects.get(user=cls.bob, tenant=cls.beta)

    def setUp(self):
        self.client = Client()

    def as_user(self, user):
        self.client.logout()
        if user is not None:
            self.client.force_login(user)
        return self.client

    def create(self, slug="alpha", label="CI pipeline"):
        return self.client.post(f"/web/team/{slug}/credentials/", {"label": label})

    def api(self, username, secret):
        return Client().get("/api/statements", HTTP_X_USERNAME=username, HTTP_X_PASSWORD=secret)


@uses_redis
class TeamPermissionTests(TeamPageBase):
    def test_each_kind_of_user_gets_the_page_they_should_or_404(self):
        expected = {  # (user, tenant) -> status of both pages; forms shown?
            ("alice", "alpha"): (200, True), ("charlie", "alpha"): (200, True), ("charlie", "beta"): (200, True),
            ("dave", "alpha"): (200, False), ("bob", "beta"): (200, False),
            ("bob", "alpha"): (404, None), ("alice", "beta"): (404, None), ("erin", "alpha"): (404, None),
        }
        users = {"alice": self.alice, "bob": self.bob, "charlie": self.charlie, "dave": self.dave, "erin": self.erin}
        for (username, slug), (status, may_change) in expected.items():
            self.as_user(users[username])
            for page in ("credentials", "members"):
                response = self.client.get(f"/web/team/{slug}/{page}/")
                label = (username, slug, page)
                self.assertEqual(response.status_code, status, label)
                if status != 200:
                    continue
                text = response.content.decode()
                self.assertEqual(inline_code(text).problems, [], label)
                self.assertIn("no-store", response["Cache-Control"], label)
                self.assertEqual('method="post"' in text.split('<main id="content"')[1], may_change, label)
                self.assertEqual('id="read-only-note"' in text, not may_change, label)

    def test_a_tenant_that_does_not_exist_is_404_like_a_foreign_one(self):
        self.as_user(self.charlie)
        self.assertEqual(self.client.get("/web/team/nosuch/members/").status_code, 404)
        self.assertEqual(self.client.post("/web/team/nosuch/credentials/", {"label": "x"}).status_code, 404)

    def test_an_anonymous_visitor_is_sent_to_the_login_page_and_changes_nothing(self):
        response = self.client.get("/web/team/alpha/credentials/")
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith("/web/login/?next="))
        before = ApiCredential.objects.count()
        self.assertEqual(self.create().status_code, 302)
        response = self.client.post(f"/web/team/alpha/credentials/{self.alpha_credential.pk}/revoke")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(ApiCredential.objects.count(), before)
        self.alpha_credential.refresh_from_db()
        self.assertTrue(self.alpha_credential.is_active)

    def test_a_viewer_may_not_change_anything_403_and_a_foreigner_404(self):
        before = ApiCredential.objects.count()
        posts = [
            ("/web/team/alpha/credentials/", {"label": "mine"}),
            (f"/web/team/alpha/credentials/{self.alpha_credential.pk}/revoke", {}),
            ("/web/team/alpha/members/", {"username": "erin", "role": "admin"}),
            (f"/web/team/alpha/members/{self.dave_in_alpha.pk}/role", {"role": "admin"}),
            (f"/web/team/alpha/members/{self.alice_in_alpha.pk}/remove", {}),
        ]
        for user, status in ((self.dave, 403), (self.bob, 404), (self.erin, 404)):
            self.as_user(user)
            for path, data in posts:
                self.assertEqual(self.client.post(path, data).status_code, status, (user.username, path))
        self.assertEqual(ApiCredential.objects.count(), before)
        self.alpha_credential.refresh_from_db()
        self.assertTrue(self.alpha_credential.is_active)
        self.assertEqual(sorted(self.alpha.memberships.values_list("user__username", "role")),
                         [("alice", "admin"), ("dave", "viewer")])

    def test_the_changing_urls_answer_only_post(self):
        self.as_user(self.alice)
        for path in (f"/web/team/alpha/credentials/{self.alpha_credential.pk}/revoke",
                     f"/web/team/alpha/members/{self.dave_in_alpha.pk}/role",
                     f"/web/team/alpha/members/{self.dave_in_alpha.pk}/remove"):
            self.assertEqual(self.client.get(path).status_code, 405, path)
        self.alpha_credential.refresh_from_db()
        self.assertTrue(self.alpha_credential.is_active)

    def test_a_post_without_the_csrf_token_is_refused(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.alice)
        before = ApiCredential.objects.count()
        self.assertEqual(client.post("/web/team/alpha/credentials/", {"label": "forged"}).status_code, 403)
        response = client.post(f"/web/team/alpha/credentials/{self.alpha_credential.pk}/revoke")
        self.assertEqual(response.status_code, 403)
        response = client.post(f"/web/team/alpha/members/{self.alice_in_alpha.pk}/role", {"role": "viewer"})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(ApiCredential.objects.count(), before)
        self.alpha_credential.refresh_from_db()
        self.assertTrue(self.alpha_credential.is_active)

        page = client.get("/web/team/alpha/credentials/").content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        response = client.post("/web/team/alpha/credentials/", {"label": "real", "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(ApiCredential.objects.count(), before + 1)


@uses_redis
class CredentialPageTests(TeamPageBase):
    def test_a_new_credential_shows_its_secret_once_and_keeps_only_the_digest(self):
        self.as_user(self.alice)
        response = self.create(label="  CI   pipeline ")
        self.assertEqual(response.status_code, 200)
        self.assertIn("no-store", response["Cache-Control"])
        html = response.content.decode()
        secret = secret_in(html)
        self.assertIsNotNone(secret, html)
        self.assertGreaterEqual(len(secret), 43)  # 256 bits in URL-safe base64
        credential = ApiCredential.objects.get(label="CI pipeline")
        self.assertRegex(credential.username, r"^alpha-[0-9a-f]{6}$")
        self.assertIn(f'<code id="new-secret-username">{credential.username}</code>', html)
        self.assertEqual((credential.tenant, credential.created_by), (self.alpha, self.alice))
        self.assertEqual(credential.secret_digest, secret_digest(secret))
        self.assertNotIn(secret, str(ApiCredential.objects.filter(pk=credential.pk).values().get()))

        for user in (self.alice, self.charlie, self.dave):
            self.as_user(user)
            page = self.client.get("/web/team/alpha/credentials/").content.decode()
            self.assertIn(credential.username, page)
            self.assertIn("CI pipeline", page)
            self.assertNotIn(secret, page, user.username)
            self.assertIsNone(secret_in(page))

    def test_reloading_the_answer_with_the_secret_creates_no_second_credential(self):
        self.as_user(self.alice)
        page = self.client.get("/web/team/alpha/credentials/").content.decode()
        once = re.search(r'name="once" value="([^"]+)"', page).group(1)
        first = self.client.post("/web/team/alpha/credentials/", {"label": "CI pipeline", "once": once})
        self.assertEqual(first.status_code, 200)
        secret = secret_in(first.content.decode())
        again = self.client.post("/web/team/alpha/credentials/", {"label": "CI pipeline", "once": once})
        self.assertEqual(again.status_code, 409)
        text = again.content.decode()
        self.assertIn("This form has already created its credential", text)
        self.assertNotIn(secret, text)
        self.assertIsNone(secret_in(text))
        self.assertEqual(ApiCredential.objects.filter(label="CI pipeline").count(), 1)
        # The answer's own form is a new one.
        fresh = re.search(r'name="once" value="([^"]+)"', first.content.decode()).group(1)
        self.assertNotEqual(fresh, once)
        self.assertEqual(self.client.post("/web/team/alpha/credentials/",
                                          {"label": "second", "once": fresh}).status_code, 200)

    def test_the_list_shows_name_key_id_created_last_used_and_revoked(self):
        self.alpha_credential.touch()
        old, _ = self.alpha.create_credential("old script")
        old.revoke()
        self.as_user(self.dave)
        html = self.client.get("/web/team/alpha/credentials/").content.decode()
        rows = re.findall(r'<tr data-username="([^"]+)"( class="revoked")?>(.*?)</tr>', html, re.S)
        self.assertEqual([(name, bool(revoked)) for name, revoked, _ in rows],
                         [("alpha-api", False), (old.username, True)])  # active first
        active, revoked = rows[0][2], rows[1][2]
        self.assertIn("active", active)
        self.assertIn(self.alpha_credential.last_used.strftime("%Y-%m-%d %H:%M"), active)
        self.assertIn("old script", revoked)
        self.assertIn("never", revoked)
        self.assertIn("revoked", revoked)
        self.assertIn(old.revoked_at.strftime("%Y-%m-%d %H:%M"), revoked)
        self.assertNotIn("beta-api", html)
        self.assertNotIn("billing-system", html)

    def test_a_credential_without_a_name_or_with_a_too_long_one_is_refused_with_a_message(self):
        self.as_user(self.alice)
        before = ApiCredential.objects.count()
        for label in ("", "   ", "x" * 101):
            response = self.create(label=label)
            self.assertEqual(response.status_code, 400, label)
            self.assertIn('class="errorlist"', response.content.decode())
            self.assertIsNone(secret_in(response.content.decode()))
        self.assertEqual(ApiCredential.objects.count(), before)

    def test_staff_create_and_revoke_for_any_tenant(self):
        self.as_user(self.charlie)
        response = self.create(slug="beta", label="billing export")
        self.assertEqual(response.status_code, 200)
        credential = ApiCredential.objects.get(label="billing export")
        self.assertEqual(credential.tenant, self.beta)
        response = self.client.post(f"/web/team/beta/credentials/{credential.pk}/revoke")
        self.assertEqual((response.status_code, response["Location"]), (302, "/web/team/beta/credentials/"))
        credential.refresh_from_db()
        self.assertFalse(credential.is_active)

    def test_another_tenants_or_the_global_credential_under_this_tenant_is_404(self):
        self.as_user(self.alice)
        for credential in (self.beta_credential, self.global_credential):
            response = self.client.post(f"/web/team/alpha/credentials/{credential.pk}/revoke")
            self.assertEqual(response.status_code, 404)
            credential.refresh_from_db()
            self.assertTrue(credential.is_active)
        self.assertEqual(self.client.post("/web/team/alpha/credentials/999999/revoke").status_code, 404)

    def test_a_revoked_credential_is_refused_by_the_api_at_once(self):
        self.as_user(self.alice)
        secret = secret_in(self.create().content.decode())
        credential = ApiCredential.objects.get(label="CI pipeline")
        response = self.api(credential.username, secret)
        self.assertEqual(response.status_code, 200, response.content)
        credential.refresh_from_db()
        self.assertIsNotNone(credential.last_used)

        response = self.client.post(f"/web/team/alpha/credentials/{credential.pk}/revoke", follow=True)
        self.assertEqual(response.status_code, 200)
        self.assertIn(f"Revoked {credential.username}", response.content.decode())
        response = self.api(credential.username, secret)
        self.assertEqual((response.status_code, response.json()), (401, NOT_RECOGNIZED))
        # The tenant's other credential still works.
        self.assertEqual(self.api("alpha-api", self.alpha_secret).status_code, 200)

    def test_revoking_twice_changes_nothing_the_second_time(self):
        self.as_user(self.alice)
        path = f"/web/team/alpha/credentials/{self.alpha_credential.pk}/revoke"
        self.client.post(path)
        self.alpha_credential.refresh_from_db()
        first = self.alpha_credential.revoked_at
        response = self.client.post(path, follow=True)
        self.assertIn("was already revoked", response.content.decode())
        self.alpha_credential.refresh_from_db()
        self.assertEqual(self.alpha_credential.revoked_at, first)


@uses_redis
class MemberPageTests(TeamPageBase):
    def roles(self, tenant=None):
        return dict((tenant or self.alpha).memberships.values_list("user__username", "role"))

    def member_error(self, response):
        match = re.search(r'<div class="form-error" role="alert" id="members-error">([^<]+)</div>',
                          response.content.decode())
        return match.group(1) if match else None

    def test_the_list_shows_the_members_and_their_roles(self):
        self.as_user(self.dave)
        html = self.client.get("/web/team/alpha/members/").content.decode()
        rows = re.findall(r'<tr data-username="([^"]+)">.*?<td class="member-role">\s*(\w+)', html, re.S)
        self.assertEqual(rows, [("alice", "admin"), ("dave", "viewer")])
        self.assertIn("only this tenant's admins (alice) and staff can", html)
        self.assertNotIn("bob", html.split('<main id="content"')[1])

    def test_an_admin_adds_an_existing_user_changes_their_role_and_removes_them(self):
        self.as_user(self.alice)
        response = self.client.post("/web/team/alpha/members/", {"username": " erin ", "role": "viewer"})
        self.assertEqual((response.status_code, response["Location"]), (302, "/web/team/alpha/members/"))
        self.assertEqual(self.roles()["erin"], "viewer")
        erin = Membership.objects.get(user=self.erin, tenant=self.alpha)

        response = self.client.post(f"/web/team/alpha/members/{erin.pk}/role", {"role": "admin"}, follow=True)
        self.assertIn("erin is now admin", response.content.decode())
        self.assertEqual(self.roles()["erin"], "admin")

        response = self.client.post(f"/web/team/alpha/members/{erin.pk}/remove")
        self.assertEqual(response.status_code, 302)
        self.assertNotIn("erin", self.roles())

    def test_adding_an_unknown_an_inactive_or_an_existing_member_says_why(self):
        get_user_model().objects.create_user("frank", "f@example.org", "frank password", is_active=False)
        self.as_user(self.alice)
        cases = {"nobody": "there is no active user named", "frank": "there is no active user named",
                 "dave": "dave is already a member of Alpha lab (viewer)"}
        for username, message in cases.items():
            response = self.client.post("/web/team/alpha/members/", {"username": username, "role": "viewer"})
            self.assertEqual(response.status_code, 400, username)
            self.assertIn(message, response.content.decode().replace("&#x27;", "'"), username)
        response = self.client.post("/web/team/alpha/members/", {"username": "erin", "role": "owner"})
        self.assertEqual(response.status_code, 400)
        response = self.client.post(f"/web/team/alpha/members/{self.dave_in_alpha.pk}/role", {"role": "owner"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.roles(), {"alice": "admin", "dave": "viewer"})

    def test_the_last_admin_can_be_neither_demoted_nor_removed_even_by_staff(self):
        for user in (self.alice, self.charlie):
            self.as_user(user)
            page = self.client.get("/web/team/alpha/members/").content.decode()
            self.assertIn("admin <span class=\"muted\">(the last admin)</span>", page)  # no form offers it
            self.assertNotIn(f"/members/{self.alice_in_alpha.pk}/", page)
            self.assertIn(f"/members/{self.dave_in_alpha.pk}/remove", page)
            response = self.client.post(f"/web/team/alpha/members/{self.alice_in_alpha.pk}/role", {"role": "viewer"})
            self.assertEqual(response.status_code, 400)
            self.assertIn("alice is the last admin of Alpha lab", self.member_error(response))
            response = self.client.post(f"/web/team/alpha/members/{self.alice_in_alpha.pk}/remove")
            self.assertEqual(response.status_code, 400)
            self.assertIn("alice is the last admin of Alpha lab", self.member_error(response))
            self.assertEqual(self.roles(), {"alice": "admin", "dave": "viewer"})

    def test_with_a_second_admin_the_first_may_step_down_and_then_sees_the_page_read_only(self):
        self.dave_in_alpha.change_role(Membership.Role.ADMIN)
        self.as_user(self.alice)
        response = self.client.post(f"/web/team/alpha/members/{self.alice_in_alpha.pk}/role", {"role": "viewer"})
        self.assertEqual((response.status_code, response["Location"]), (302, "/web/team/alpha/members/"))
        self.assertEqual(self.roles(), {"alice": "viewer", "dave": "admin"})
        self.assertIn('id="read-only-note"', self.client.get("/web/team/alpha/members/").content.decode())
        # dave is now the last admin
        self.as_user(self.dave)
        response = self.client.post(f"/web/team/alpha/members/{self.dave_in_alpha.pk}/remove")
        self.assertEqual(response.status_code, 400)

    def test_an_admin_who_removes_themselves_goes_to_the_overview(self):
        self.dave_in_alpha.change_role(Membership.Role.ADMIN)
        self.as_user(self.alice)
        response = self.client.post(f"/web/team/alpha/members/{self.alice_in_alpha.pk}/remove")
        self.assertEqual((response.status_code, response["Location"]), (302, "/"))
        self.assertEqual(self.client.get("/web/team/alpha/members/").status_code, 404)

    def test_staff_manage_the_members_of_any_tenant(self):
        self.as_user(self.charlie)
        response = self.client.post("/web/team/beta/members/", {"username": "erin", "role": "admin"})
        self.assertEqual(response.status_code, 302)
        response = self.client.post(f"/web/team/beta/members/{self.bob_in_beta.pk}/role", {"role": "admin"})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.roles(self.beta), {"bob": "admin", "erin": "admin"})
        response = self.client.post(f"/web/team/beta/members/{self.bob_in_beta.pk}/remove")
        self.assertEqual((response.status_code, response["Location"]), (302, "/web/team/beta/members/"))
        self.assertEqual(self.roles(self.beta), {"erin": "admin"})

    def test_a_membership_of_another_tenant_under_this_tenant_is_404(self):
        self.as_user(self.alice)
        response = self.client.post(f"/web/team/alpha/members/{self.bob_in_beta.pk}/role", {"role": "admin"})
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self.client.post(f"/web/team/alpha/members/{self.bob_in_beta.pk}/remove").status_code, 404)
        self.assertEqual(self.roles(self.beta), {"bob": "viewer"})


@uses_redis
class TeamNavigationTests(TeamPageBase):
    def test_the_team_link_leads_to_the_selected_tenants_page(self):
        self.as_user(self.alice)
        self.assertEqual(self.client.get("/web/team/")["Location"], "/web/team/alpha/credentials/")
        self.as_user(self.bob)
        self.assertEqual(self.client.get("/web/team/")["Location"], "/web/team/beta/members/")
        self.as_user(self.erin)
        self.assertEqual(self.client.get("/web/team/").status_code, 404)
        self.as_user(self.charlie)  # looking at every tenant: a chooser
        response = self.client.get("/web/team/")
        self.assertEqual(response.status_code, 200)
        self.assertIn('href="/web/team/beta/credentials/"', response.content.decode())

    def test_switching_tenant_in_the_header_on_a_team_page_shows_the_other_tenants_page(self):
        Membership.objects.create(user=self.dave, tenant=self.beta, role=Membership.Role.ADMIN)
        self.as_user(self.dave)
        self.assertEqual(self.client.get("/web/team/beta/members/").status_code, 200)
        self.assertEqual(self.client.get("/web/team/beta/members/").status_code, 200)  # a reload stays
        self.client.post("/web/tenant/", {"tenant": str(self.alpha.pk), "next": "/web/team/beta/members/"})
        response = self.client.get("/web/team/beta/members/")
        self.assertEqual((response.status_code, response["Location"]), (302, "/web/team/alpha/members/"))
        page = self.client.get("/web/team/alpha/members/").content.decode()
        self.assertIn(f'<option value="{self.alpha.pk}" selected>Alpha lab</option>', page)
        # A link to the other tenant's page selects it in the header.
        page = self.client.get("/web/team/beta/credentials/").content.decode()
        self.assertIn(f'<option value="{self.beta.pk}" selected>Beta team</option>', page)

    def test_staff_switching_to_all_tenants_on_a_team_page_go_to_the_chooser(self):
        self.as_user(self.charlie)
        self.client.get("/web/team/alpha/members/")
        self.client.post("/web/tenant/", {"tenant": "all", "next": "/web/team/alpha/members/"})
        response = self.client.get("/web/team/alpha/members/")
        self.assertEqual((response.status_code, response["Location"]), (302, "/web/team/"))


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_the_tenant_one_admin():
    """The real race on PostgreSQL: the first demotion holds its transaction open; the second waits
    for its locks, then sees the first's change and refuses. Without the locks both would pass."""
    User = get_user_model()
    tenant = Tenant.objects.create(name="Race lab", slug="race")
    first = Membership.objects.create(user=User.objects.create_user("ann"), tenant=tenant, role="admin")
    second = Membership.objects.create(user=User.objects.create_user("ben"), tenant=tenant, role="admin")
    holding, release, outcome = threading.Event(), threading.Event(), {}

    def demote_and_hold():
        try:
            with transaction.atomic():
                Membership.objects.get(pk=second.pk).change_role("viewer")
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    def demote_the_other():
        try:
            Membership.objects.get(pk=first.pk).change_role("viewer")
            outcome["second"] = "demoted"
        except ValidationError as exc:
            outcome["second"] = " ".join(exc.messages)
        finally:
            connections.close_all()

    holder = threading.Thread(target=demote_and_hold)
    holder.start()
    assert holding.wait(10)
    other = threading.Thread(target=demote_the_other)
    other.start()
    try:
        other.join(0.5)
        assert other.is_alive(), outcome  # waiting for the first transaction's locks
    finally:
        release.set()
        holder.join(10)
        other.join(10)
    assert "ann is the last admin of Race lab" in outcome["second"]
    assert dict(tenant.memberships.values_list("user__username", "role")) == {"ann": "admin", "ben": "viewer"}


@uses_redis
class TeamNavLinkTests(TeamPageBase):
    def test_the_header_links_the_team_pages_for_tenant_members_and_staff_only(self):
        link = '<a href="/web/team/">Team</a>'
        for user, shown in ((self.alice, True), (self.bob, True), (self.charlie, True), (self.erin, False)):
            self.as_user(user)
            page = self.client.get("/web/status/").content.decode()
            self.assertEqual(link in page, shown, user.username)
        self.as_user(self.alice)
        page = self.client.get("/web/team/alpha/members/").content.decode()
        self.assertIn('<a href="/web/team/" aria-current="page">Team</a>', page)
