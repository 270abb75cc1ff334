"""``manage.py createtenant SLUG --name N [--namespaces a,b] [--basis usage|request|max]``."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing.models import NamespaceOwnership, Tenant, validate_namespace, validate_slug


def split_namespaces(text):
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    for name in names:
        try:
            validate_namespace(name)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
    return names


class Command(BaseCommand):
    help = "Create a tenant and give it namespaces."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--namespaces", default="", help="comma-separated namespace names")
        parser.add_argument("--basis", choices=[b.value for b in Tenant.Basis], default=Tenant.Basis.MAX)

    def handle(self, *args, slug, name, namespaces, basis, **options):
        try:
            validate_slug(slug)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if not name.strip():
            raise CommandError("--name must not be empty")
        if Tenant.objects.filter(slug=slug).exists():
            raise CommandError(f"a tenant with slug {slug!r} already exists")
        names = split_namespaces(namespaces)
        taken = NamespaceOwnership.objects.filter(namespace__in=names, source=NamespaceOwnership.Source.EXPLICIT)
        if taken:
            owners = ", ".join(f"{o.namespace} ({o.tenant.slug})" for o in taken.select_related("tenant"))
            raise CommandError(f"already owned: {owners}; use assignnamespace --move to move them")
        with transaction.atomic():
            tenant = Tenant.objects.create(slug=slug, name=name.strip(), allocation_basis=basis)
            for namespace in names:
                tenant.assign(namespace)
        self.stdout.write(f"created tenant {slug}" + (f" owning {', '.join(names)}" if names else ""))
