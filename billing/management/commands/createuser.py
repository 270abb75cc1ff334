"""``manage.py createuser --username U --email E [--tenant SLUG] [--role viewer|admin] [--staff]``."""

import getpass
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from billing.models import Membership, Tenant


class Command(BaseCommand):
    help = "Create a web user, optionally a member of a tenant; prompts twice for the password."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--tenant", metavar="SLUG", help="make the user a member of this tenant")
        parser.add_argument("--role", choices=[r.value for r in Membership.Role], default=Membership.Role.VIEWER)
        parser.add_argument("--staff", action="store_true", help="staff users see every tenant and the admin")
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from the first line of standard input"
        )

    def handle(self, *args, username, email, tenant, role, staff, password_stdin, **options):
        User = get_user_model()
        username = username.strip()
        if not username:
            raise CommandError("--username must not be empty")
        try:
            User.username_validator(username)
        except ValidationError as exc:
            raise CommandError(f"username {username!r}: {' '.join(exc.messages)}") from None
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not a valid e-mail address") from None
        if User.objects.filter(username=username).exists():
            raise CommandError(f"a user named {username!r} already exists")
        tenant_obj = None
        if tenant:
            tenant_obj = Tenant.objects.filter(slug=tenant).first()
            if tenant_obj is None:
                raise CommandError(f"no tenant with slug {tenant!r} (create it with createtenant)")
        elif role != Membership.Role.VIEWER:
            raise CommandError("--role needs --tenant")

        password = self.read_password(password_stdin)
        candidate = User(username=username, email=email)
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            raise CommandError("the password was refused: " + " ".join(exc.messages)) from None

        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password, is_staff=staff)
            if tenant_obj is not None:
                Membership.objects.create(user=user, tenant=tenant_obj, role=role)
        where = f" in tenant {tenant_obj.slug} as {role}" if tenant_obj else ""
        self.stdout.write(f"created user {username}{where}{' (staff)' if staff else ''}")

    def read_password(self, from_stdin):
        if from_stdin:
            line = sys.stdin.readline()
            password = line.rstrip("\r\n")
            if not password:
                raise CommandError("no password on standard input")
            return password
        if not sys.stdin.isatty():
            raise CommandError("no terminal to prompt for the password: use --password-stdin")
        try:
            first = getpass.getpass("Password: ")
            second = getpass.getpass("Password (again): ")
        except (EOFError, KeyboardInterrupt):
            raise CommandError("cancelled") from None
        if first != second:
            raise CommandError("the two passwords do not match")
        if not first:
            raise CommandError("the password must not be empty")
        return first
