"""``manage.py createapicredential (--tenant SLUG | --global) [--username U]``: prints the secret once."""

import secrets

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing.models import ApiCredential, Tenant


class Command(BaseCommand):
    help = "Create an X-USERNAME/X-PASSWORD credential for a tenant or a global read-only one."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--tenant", metavar="SLUG")
        group.add_argument("--global", dest="is_global", action="store_true", help="read-only, every namespace")
        parser.add_argument("--username", help="default: <tenant slug or 'global'>-<random suffix>")

    def handle(self, *args, tenant, is_global, username, **options):
        tenant_obj = None
        if tenant:
            tenant_obj = Tenant.objects.filter(slug=tenant).first()
            if tenant_obj is None:
                raise CommandError(f"no tenant with slug {tenant!r}")
        if not username:
            username = f"{tenant_obj.slug if tenant_obj else 'global'}-{secrets.token_hex(3)}"
        try:
            credential, secret = ApiCredential.generate(username, tenant=tenant_obj)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        scope = f"tenant {tenant_obj.slug}" if tenant_obj else "global read-only"
        self.stdout.write(f"created API credential {credential.username} ({scope})")
        self.stdout.write(f"X-USERNAME: {credential.username}")
        self.stdout.write(f"X-PASSWORD: {secret}")
        self.stdout.write("The secret is shown this once; kubemon keeps only its digest.")
