from datetime import timedelta

from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from api.authentication import HeaderCredentialAuthentication
from billing.access import AccessScope
from billing.models import ApiCredential, NamespaceOwnership, secret_digest
from tests.support.base import BaseTestCase


class ApiCredentialTests(BaseTestCase):
    def test_it_stores_only_the_digest_of_a_256_bit_secret(self):
        credential, secret = ApiCredential.generate("ci-robot", tenant=self.alpha)
        self.assertGreaterEqual(len(secret), 43)  # token_urlsafe(32): 32 random bytes
        credential.refresh_from_db()
        self.assertEqual(credential.secret_digest, secret_digest(secret))
        self.assertNotIn(secret, credential.secret_digest)

    def test_it_checks_the_secret(self):
        # Through the API's own check (api/authentication.py), the one path that compares secrets.
        verify = HeaderCredentialAuthentication().verify
        self.assertEqual(verify("alpha-api", self.alpha_secret).credential, self.alpha_credential)
        self.assertIsNone(verify("alpha-api", self.beta_secret))
        self.assertIsNone(verify("alpha-api", ""))

    def test_a_revoked_credential_never_matches(self):
        self.alpha_credential.revoke()
        self.alpha_credential.refresh_from_db()
        self.assertIsNotNone(self.alpha_credential.revoked_at)
        self.assertIsNone(HeaderCredentialAuthentication().verify("alpha-api", self.alpha_secret))

    def test_it_refuses_a_duplicate_or_malformed_username(self):
        with self.assertRaisesMessage(ValidationError, "already exists"):
            ApiCredential.generate("alpha-api")
        with self.assertRaisesMessage(ValidationError, "not a valid API username"):
            ApiCredential.generate("has space")

    @override_settings(API_USERNAME="legacy", API_PASSWORD="legacy secret")
    def test_it_refuses_the_username_of_the_settings_credential(self):
        with self.assertRaisesMessage(ValidationError, "API_USERNAME"):
            ApiCredential.generate("legacy")

    def test_it_records_use_at_most_once_a_minute(self):
        now = timezone.now()
        self.assertTrue(self.alpha_credential.touch(now))
        self.assertFalse(self.alpha_credential.touch(now + timedelta(seconds=30)))
        self.assertTrue(self.alpha_credential.touch(now + timedelta(seconds=61)))
        self.alpha_credential.refresh_from_db()
        self.assertEqual(self.alpha_credential.last_used, now + timedelta(seconds=61))

    def test_a_stale_copy_does_not_write_twice(self):
        now = timezone.now()
        other_copy = ApiCredential.objects.get(pk=self.alpha_credential.pk)
        self.assertTrue(self.alpha_credential.touch(now))
        self.assertFalse(other_copy.touch(now + timedelta(seconds=1)))


class TenantTests(BaseTestCase):
    def test_it_lists_its_namespaces(self):
        self.assertEqual(self.alpha.namespaces(), {"alpha-dev", "alpha-prod"})
        self.assertTrue(self.alpha.owns("alpha-dev"))
        self.assertFalse(self.alpha.owns("beta-web"))

    def test_an_explicit_assignment_moves_the_namespace(self):
        self.beta.assign("alpha-dev")
        self.assertEqual(self.alpha.namespaces(), {"alpha-prod"})
        self.assertEqual(NamespaceOwnership.objects.get(namespace="alpha-dev").tenant, self.beta)

    def test_it_refuses_a_name_kubernetes_would_refuse(self):
        for bad in ("Upper", "a_b", "-x", "x" * 64, "a'b", ""):
            with self.assertRaises(ValidationError, msg=bad):
                self.alpha.assign(bad)

    def test_it_knows_its_members_roles(self):
        self.assertEqual(self.alpha.role_of(self.alice), "admin")
        self.assertEqual(self.beta.role_of(self.bob), "viewer")
        self.assertIsNone(self.alpha.role_of(self.bob))


class AccessScopeTests(BaseTestCase):
    def test_a_tenant_credential_sees_its_namespaces_only(self):
        scope = AccessScope.for_credential(self.alpha_credential)
        self.assertEqual(scope.namespaces, {"alpha-dev", "alpha-prod"})
        self.assertTrue(scope.allows("alpha-dev"))
        self.assertFalse(scope.allows("beta-web"))
        self.assertFalse(scope.allows("never-heard-of"))
        self.assertFalse(scope.sees_cluster)

    def test_a_global_credential_sees_everything(self):
        scope = AccessScope.for_credential(self.global_credential)
        self.assertTrue(scope.allows("beta-web") and scope.allows("anything") and scope.sees_cluster)

    def test_staff_see_everything_and_members_their_tenants(self):
        self.assertTrue(AccessScope.for_user(self.charlie).everything)
        self.assertEqual(AccessScope.for_user(self.alice).namespaces, {"alpha-dev", "alpha-prod"})
        self.assertEqual(AccessScope.for_user(self.bob).visible(["alpha-dev", "beta-web"]), ["beta-web"])

    def test_an_inactive_or_anonymous_user_sees_nothing(self):
        self.alice.is_active = False
        self.assertFalse(AccessScope.for_user(self.alice).allows("alpha-dev"))
        self.assertFalse(AccessScope.for_user(None).allows("alpha-dev"))
