"""The header's tenant switcher and the AccessScope a portal user gets from it (web/access.py)."""

from django.contrib.auth import get_user_model
from django.test import Client

from billing.models import Membership, Tenant
from tests.support.base import BaseTestCase
from web import access


class TenantSwitchTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # A third tenant whose name sorts first, so "first by name" is not "first created".
        cls.aardvark = Tenant.objects.create(name="Aardvark group", slug="aardvark")
        cls.aardvark.assign("aardvark-ml")
        cls.dave = get_user_model().objects.create_user("dave", "dave@example.org", "dave password")
        Membership.objects.create(user=cls.dave, tenant=cls.beta, role=Membership.Role.VIEWER)
        Membership.objects.create(user=cls.dave, tenant=cls.aardvark, role=Membership.Role.ADMIN)

    def setUp(self):
        self.client = Client()

    def as_user(self, user):
        self.client.force_login(user)
        return self.client

    def switch(self, value, next_url="/web/status/"):
        return self.client.post("/web/tenant/", {"tenant": value, "next": next_url})

    def scope(self):
        request = self.client.get("/web/status/").wsgi_request
        return access.scope_for(request.user, request.session)

    def test_a_member_of_one_tenant_sees_its_namespaces_and_its_name_in_the_header(self):
        self.as_user(self.bob)
        scope = self.scope()
        self.assertEqual(scope.namespaces, {"beta-web"})
        self.assertFalse(scope.sees_cluster)
        text = self.client.get("/web/status/").content.decode()
        self.assertIn("Beta team", text)
        self.assertNotIn('id="tenant-select"', text)  # nothing to switch to

    def test_a_member_of_several_tenants_starts_on_the_first_by_name_and_switches(self):
        self.as_user(self.dave)
        self.assertEqual(self.scope().namespaces, {"aardvark-ml"})
        text = self.client.get("/web/status/").content.decode()
        self.assertIn('id="tenant-select"', text)
        self.assertIn(f'<option value="{self.aardvark.pk}" selected>Aardvark group</option>', text)
        self.assertNotIn("All tenants", text)
        self.assertNotIn("Alpha lab", text)

        response = self.switch(str(self.beta.pk))
        self.assertEqual((response.status_code, response["Location"]), (302, "/web/status/"))
        self.assertEqual(self.scope().namespaces, {"beta-web"})
        self.assertIn(f'<option value="{self.beta.pk}" selected>Beta team</option>',
                      self.client.get("/web/status/").content.decode())

    def test_switching_to_a_tenant_one_does_not_belong_to_is_404_and_changes_nothing(self):
        self.as_user(self.dave)
        self.switch(str(self.beta.pk))
        self.assertEqual(self.switch(str(self.alpha.pk)).status_code, 404)
        self.assertEqual(self.switch("999999").status_code, 404)
        self.assertEqual(self.scope().namespaces, {"beta-web"})

    def test_only_staff_may_choose_all(self):
        self.as_user(self.bob)
        self.assertEqual(self.switch("all").status_code, 404)
        self.assertEqual(self.scope().namespaces, {"beta-web"})
        self.assertFalse(self.scope().everything)

    def test_a_malformed_tenant_is_a_400_with_a_json_message(self):
        self.as_user(self.dave)
        for value in ("", "beta", "1; DROP TABLE", "-3", "１２"):
            response = self.switch(value)
            self.assertEqual(response.status_code, 400, value)
            self.assertEqual(response.json()["code"], 400)

    def test_a_get_of_the_switcher_is_refused(self):
        self.as_user(self.dave)
        self.assertEqual(self.client.get("/web/tenant/", {"tenant": self.beta.pk}).status_code, 405)

    def test_the_switcher_does_not_redirect_off_the_site(self):
        self.as_user(self.dave)
        for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
            response = self.switch(str(self.beta.pk), next_url=target)
            self.assertEqual(response["Location"], "/", target)

    def test_staff_see_everything_by_default_and_may_look_at_one_tenant_then_all_again(self):
        self.as_user(self.charlie)
        self.assertTrue(self.scope().everything)
        self.assertTrue(self.scope().sees_cluster)
        text = self.client.get("/web/status/").content.decode()
        self.assertIn('<option value="all" selected>All tenants</option>', text)
        for tenant in ("Aardvark group", "Alpha lab", "Beta team"):
            self.assertIn(tenant, text)

        self.switch(str(self.alpha.pk))
        scope = self.scope()
        self.assertEqual(scope.namespaces, {"alpha-dev", "alpha-prod"})
        self.assertFalse(scope.everything)
        self.switch("all")
        self.assertTrue(self.scope().everything)

    def test_a_revoked_membership_stops_giving_access_at_the_next_call(self):
        self.as_user(self.dave)
        self.switch(str(self.beta.pk))
        request = self.client.get("/web/status/").wsgi_request
        self.assertEqual(access.scope_for(request.user, request.session).namespaces, {"beta-web"})
        Membership.objects.filter(user=self.dave, tenant=self.beta).delete()
        self.assertEqual(access.scope_for(request.user, request.session).namespaces, {"aardvark-ml"})
        Membership.objects.filter(user=self.dave).delete()
        self.assertEqual(access.scope_for(request.user, request.session), access.AccessScope.nothing())

    def test_an_anonymous_or_inactive_user_gets_nothing(self):
        from django.contrib.auth.models import AnonymousUser

        self.assertEqual(access.scope_for(AnonymousUser(), {}), access.AccessScope.nothing())
        self.bob.is_active = False
        self.assertEqual(access.scope_for(self.bob, {}), access.AccessScope.nothing())

    def test_the_scope_works_with_a_plain_mapping_as_a_consumer_session(self):
        # A Channels consumer passes scope["session"]; any mapping with .get() will do.
        self.assertEqual(access.scope_for(self.dave, {access.SESSION_KEY: self.beta.pk}).namespaces, {"beta-web"})
        self.assertEqual(access.scope_for(self.dave, {access.SESSION_KEY: self.alpha.pk}).namespaces,
                         {"aardvark-ml"})  # not his: the default instead
        self.assertTrue(access.scope_for(self.charlie, None).everything)

    def test_an_anonymous_switch_goes_to_the_login_page(self):
        response = self.switch(str(self.beta.pk))
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith("/web/login/"))
