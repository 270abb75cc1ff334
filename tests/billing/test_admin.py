"""The Django admin keeps the rules the team pages keep: a tenant's last admin stays an admin."""

from django.contrib.auth import get_user_model
from django.test import Client

from billing.models import Membership
from tests.support.base import BaseTestCase


class MembershipAdminTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.root = get_user_model().objects.create_superuser("root", "root@example.org", "root password")
        self.browser = Client()
        self.browser.force_login(self.root)
        self.alice_in_alpha = Membership.objects.get(user=self.alice, tenant=self.alpha)

    def change(self, membership, role):
        return self.browser.post(f"/admin/billing/membership/{membership.pk}/change/",
                                 {"user": membership.user_id, "tenant": membership.tenant_id, "role": role})

    def test_it_refuses_to_demote_the_last_admin(self):
        response = self.change(self.alice_in_alpha, "viewer")
        self.assertEqual(response.status_code, 200)  # the form again, with the error
        self.assertContains(response, "last admin")
        self.alice_in_alpha.refresh_from_db()
        self.assertEqual(self.alice_in_alpha.role, "admin")

    def test_it_demotes_an_admin_when_another_is_left(self):
        Membership.objects.create(user=self.bob, tenant=self.alpha, role=Membership.Role.ADMIN)
        self.assertEqual(self.change(self.alice_in_alpha, "viewer").status_code, 302)
        self.alice_in_alpha.refresh_from_db()
        self.assertEqual(self.alice_in_alpha.role, "viewer")

    def test_the_last_admin_cannot_be_deleted(self):
        response = self.browser.post(f"/admin/billing/membership/{self.alice_in_alpha.pk}/delete/", {"post": "yes"})
        self.assertEqual(response.status_code, 403)
        self.assertTrue(Membership.objects.filter(pk=self.alice_in_alpha.pk).exists())

    def test_a_bulk_delete_that_takes_the_last_admin_is_refused_whole(self):
        bob_in_beta = Membership.objects.get(user=self.bob, tenant=self.beta)
        response = self.browser.post("/admin/billing/membership/", {
            "action": "delete_selected", "post": "yes", "_selected_action": [self.alice_in_alpha.pk, bob_in_beta.pk],
        })
        self.assertEqual(response.status_code, 403)
        self.assertEqual(Membership.objects.count(), 2)

    def test_the_tenant_page_refuses_to_leave_a_tenant_without_an_admin(self):
        page = self.browser.get(f"/admin/billing/tenant/{self.alpha.pk}/change/")
        self.assertEqual(page.status_code, 200)
        form = page.context["adminform"].form
        data = {key: value for key, value in form.initial.items() if value is not None and key != "created"}
        data.update({"created_0": "2026-01-01", "created_1": "00:00:00"})
        for formset in page.context["inline_admin_formsets"]:
            management = formset.formset.management_form
            prefix = formset.formset.prefix
            for field in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
                data[f"{prefix}-{field}"] = management.initial.get(field, management[field].value())
            for i, inline in enumerate(formset.formset.initial_forms):
                for name, value in inline.initial.items():
                    data[f"{prefix}-{i}-{name}"] = value
                data[f"{prefix}-{i}-id"] = inline.instance.pk
                data[f"{prefix}-{i}-{formset.formset.fk.name}"] = self.alpha.pk
            data[f"{prefix}-TOTAL_FORMS"] = len(formset.formset.initial_forms)
        membership_prefix = next(f.formset.prefix for f in page.context["inline_admin_formsets"]
                                 if f.formset.model is Membership)
        data[f"{membership_prefix}-0-role"] = "viewer"
        response = self.browser.post(f"/admin/billing/tenant/{self.alpha.pk}/change/", data)
        self.assertContains(response, "at least one admin")
        self.alice_in_alpha.refresh_from_db()
        self.assertEqual(self.alice_in_alpha.role, "admin")
