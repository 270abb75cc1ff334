"""``manage.py revokeapicredential USERNAME``: the credential stops working at once."""

from django.core.management.base import BaseCommand, CommandError

from billing.models import ApiCredential


class Command(BaseCommand):
    help = "Revoke an API credential (kept for the record, never accepted again)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        credential = ApiCredential.objects.filter(username=username).first()
        if credential is None:
            raise CommandError(f"no API credential named {username!r}")
        if not credential.is_active:
            raise CommandError(f"{username} was already revoked at {credential.revoked_at.isoformat()}")
        credential.revoke()
        self.stdout.write(f"revoked {username}")
