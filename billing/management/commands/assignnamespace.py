"""``manage.py assignnamespace --tenant SLUG NAMESPACE... [--move]`` and ``--release NAMESPACE...``."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing.management.commands.createtenant import split_namespaces
from billing.models import NamespaceOwnership, Tenant


class Command(BaseCommand):
    help = "Give namespaces to a tenant explicitly (or release them with --release)."

    def add_arguments(self, parser):
        parser.add_argument("namespaces", nargs="+")
        parser.add_argument("--tenant", metavar="SLUG")
        parser.add_argument("--move", action="store_true", help="take namespaces another tenant owns explicitly")
        parser.add_argument("--release", action="store_true", help="remove the ownership of these namespaces")

    def handle(self, *args, namespaces, tenant, move, release, **options):
        names = split_namespaces(",".join(namespaces))
        if release:
            if tenant or move:
                raise CommandError("--release takes no --tenant or --move")
            count = NamespaceOwnership.objects.filter(namespace__in=names).delete()[0]
            self.stdout.write(f"released {count} namespace(s)")
            return
        if not tenant:
            raise CommandError("--tenant SLUG is required")
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant with slug {tenant!r}")
        others = (
            NamespaceOwnership.objects.filter(namespace__in=names, source=NamespaceOwnership.Source.EXPLICIT)
            .exclude(tenant=tenant_obj)
            .select_related("tenant")
        )
        if others and not move:
            owners = ", ".join(f"{o.namespace} ({o.tenant.slug})" for o in others)
            raise CommandError(f"already owned by another tenant: {owners}; add --move to move them")
        with transaction.atomic():
            for namespace in names:
                tenant_obj.assign(namespace)
        self.stdout.write(f"{tenant_obj.slug} now owns {', '.join(names)}")
