"""The tenancy management commands: happy paths, and refusals with a message and exit code 1."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.models import ApiCredential, Membership, NamespaceOwnership, Tenant, secret_digest
from tests.support.base import BaseTestCase

ROOT = Path(__file__).resolve().parents[2]
STRONG = "correct horse battery staple 42"


def run(*args, stdin=""):
    out = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out, stderr=io.StringIO())
    finally:
        sys.stdin = old_stdin
    return out.getvalue()


class CreateUserTests(BaseTestCase):
    def test_it_creates_a_member_from_a_password_on_stdin(self):
        out = run("createuser", "--username", "dora", "--email", "dora@example.org", "--tenant", "alpha",
                  "--role", "admin", "--password-stdin", stdin=STRONG + "\n")
        self.assertIn("created user dora in tenant alpha as admin", out)
        dora = get_user_model().objects.get(username="dora")
        self.assertTrue(dora.check_password(STRONG))
        self.assertEqual(Membership.objects.get(user=dora).role, "admin")

    def test_it_prompts_twice_and_refuses_different_passwords(self):
        answers = iter([STRONG, STRONG + "x"])
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("getpass.getpass", lambda prompt="": next(answers))
            mp.setattr(sys, "stdin", type("Tty", (io.StringIO,), {"isatty": lambda self: True})())
            with self.assertRaisesMessage(CommandError, "do not match"):
                call_command("createuser", "--username", "eve", "--email", "eve@example.org", stdout=io.StringIO())
        self.assertFalse(get_user_model().objects.filter(username="eve").exists())

    def test_it_prompts_twice_and_creates_the_user(self):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("getpass.getpass", lambda prompt="": STRONG)
            mp.setattr(sys, "stdin", type("Tty", (io.StringIO,), {"isatty": lambda self: True})())
            call_command("createuser", "--username", "eve", "--email", "eve@example.org", "--staff",
                         stdout=io.StringIO())
        self.assertTrue(get_user_model().objects.get(username="eve").is_staff)

    def test_it_refuses_an_existing_username(self):
        with self.assertRaisesMessage(CommandError, "already exists"):
            run("createuser", "--username", "alice", "--email", "a@example.org", "--password-stdin", stdin=STRONG)

    def test_it_refuses_a_weak_password(self):
        with self.assertRaisesMessage(CommandError, "the password was refused"):
            run("createuser", "--username", "fred", "--email", "f@example.org", "--password-stdin",
                stdin="password\n")
        self.assertFalse(get_user_model().objects.filter(username="fred").exists())

    def test_it_refuses_an_unknown_tenant_and_a_bad_email(self):
        with self.assertRaisesMessage(CommandError, "no tenant with slug 'nope'"):
            run("createuser", "--username", "g", "--email", "g@example.org", "--tenant", "nope",
                "--password-stdin", stdin=STRONG)
        with self.assertRaisesMessage(CommandError, "not a valid e-mail"):
            run("createuser", "--username", "g", "--email", "not-an-email", "--password-stdin", stdin=STRONG)

    def test_without_a_terminal_it_asks_for_password_stdin(self):
        with self.assertRaisesMessage(CommandError, "--password-stdin"):
            run("createuser", "--username", "h", "--email", "h@example.org")


class CreateTenantTests(BaseTestCase):
    def test_it_creates_a_tenant_with_namespaces(self):
        out = run("createtenant", "gamma", "--name", "Gamma", "--namespaces", "g-one, g-two", "--basis", "usage")
        self.assertIn("created tenant gamma owning g-one, g-two", out)
        gamma = Tenant.objects.get(slug="gamma")
        self.assertEqual(gamma.namespaces(), {"g-one", "g-two"})
        self.assertEqual(gamma.allocation_basis, "usage")

    def test_it_refuses_a_taken_slug_a_taken_namespace_and_a_bad_name(self):
        with self.assertRaisesMessage(CommandError, "already exists"):
            run("createtenant", "alpha", "--name", "again")
        with self.assertRaisesMessage(CommandError, "already owned: beta-web (beta)"):
            run("createtenant", "gamma", "--name", "Gamma", "--namespaces", "beta-web")
        with self.assertRaisesMessage(CommandError, "not a valid Kubernetes namespace"):
            run("createtenant", "gamma", "--name", "Gamma", "--namespaces", "Bad_Name")
        self.assertFalse(Tenant.objects.filter(slug="gamma").exists())


class AssignNamespaceTests(BaseTestCase):
    def test_it_assigns_and_releases(self):
        run("assignnamespace", "--tenant", "beta", "beta-jobs")
        self.assertIn("beta-jobs", self.beta.namespaces())
        run("assignnamespace", "--release", "beta-jobs")
        self.assertNotIn("beta-jobs", self.beta.namespaces())

    def test_it_moves_another_tenants_namespace_only_when_told(self):
        with self.assertRaisesMessage(CommandError, "--move"):
            run("assignnamespace", "--tenant", "beta", "alpha-dev")
        run("assignnamespace", "--tenant", "beta", "--move", "alpha-dev")
        self.assertEqual(NamespaceOwnership.objects.get(namespace="alpha-dev").tenant, self.beta)

    def test_it_refuses_an_unknown_tenant(self):
        with self.assertRaisesMessage(CommandError, "no tenant with slug"):
            run("assignnamespace", "--tenant", "zzz", "x")


class ApiCredentialCommandTests(BaseTestCase):
    def test_it_prints_a_working_secret_once(self):
        out = run("createapicredential", "--tenant", "alpha", "--username", "alpha-ci")
        secret = out.split("X-PASSWORD: ")[1].split()[0]
        credential = ApiCredential.objects.get(username="alpha-ci")
        self.assertEqual(credential.secret_digest, secret_digest(secret))
        self.assertEqual(credential.tenant, self.alpha)

    def test_it_creates_a_global_credential_with_a_generated_name(self):
        out = run("createapicredential", "--global")
        username = out.split("X-USERNAME: ")[1].split()[0]
        self.assertTrue(username.startswith("global-"))
        self.assertIsNone(ApiCredential.objects.get(username=username).tenant)

    def test_it_revokes(self):
        run("revokeapicredential", "beta-api")
        self.beta_credential.refresh_from_db()
        self.assertFalse(self.beta_credential.is_active)
        with self.assertRaisesMessage(CommandError, "already revoked"):
            run("revokeapicredential", "beta-api")
        with self.assertRaisesMessage(CommandError, "no API credential named"):
            run("revokeapicredential", "nobody")

    def test_it_refuses_an_unknown_tenant_or_a_taken_name(self):
        with self.assertRaisesMessage(CommandError, "no tenant"):
            run("createapicredential", "--tenant", "nope")
        with self.assertRaisesMessage(CommandError, "already exists"):
            run("createapicredential", "--global", "--username", "alpha-api")


@pytest.mark.django_db(transaction=True)
def test_a_refusal_exits_1_with_a_message_and_no_traceback():
    result = subprocess.run(
        [sys.executable, "manage.py", "createtenant", "Not A Slug", "--name", "x"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert result.returncode == 1
    assert "not a valid tenant slug" in result.stderr
    assert "Traceback" not in result.stderr
