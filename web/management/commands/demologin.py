"""``manage.py demologin --username demo``: print a one-time login path (needs WEB_DEMO_LOGIN on)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from web.accounts_demo import DemoLoginDisabled, issue_token, login_path


class Command(BaseCommand):
    help = "Print a one-time login path for a user (the demo's; only with WEB_DEMO_LOGIN=true)."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)

    def handle(self, *args, username, **options):
        try:
            token = issue_token(username)
        except DemoLoginDisabled as exc:
            raise CommandError(str(exc)) from None
        except get_user_model().DoesNotExist:
            raise CommandError(f"no active user {username!r}") from None
        self.stdout.write(login_path(token))
