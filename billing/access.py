"""What a caller may see: the one place that turns a user or a credential into a set of namespaces.

The API, the web dashboards and the Channels consumers all ask an ``AccessScope`` before they
read or send anything (DESIGN §6): staff users and global credentials see every namespace and
the cluster-level data (nodes, temperatures); everyone else sees the namespaces of their
tenants and nothing else.
"""

from dataclasses import dataclass, field

from billing.models import NamespaceOwnership


@dataclass(frozen=True)
class AccessScope:
    everything: bool = False
    namespaces: frozenset = field(default_factory=frozenset)
    tenant_ids: frozenset = field(default_factory=frozenset)

    @classmethod
    def all_namespaces(cls):
        return cls(everything=True)

    @classmethod
    def nothing(cls):
        return cls()

    @classmethod
    def for_tenants(cls, tenant_ids):
        tenant_ids = frozenset(tenant_ids)
        if not tenant_ids:
            return cls.nothing()
        names = NamespaceOwnership.objects.filter(tenant_id__in=tenant_ids).values_list("namespace", flat=True)
        return cls(namespaces=frozenset(names), tenant_ids=tenant_ids)

    @classmethod
    def for_user(cls, user):
        if user is None or not user.is_authenticated or not user.is_active:
            return cls.nothing()
        if user.is_staff or user.is_superuser:
            return cls.all_namespaces()
        return cls.for_tenants(user.memberships.values_list("tenant_id", flat=True))

    @classmethod
    def for_credential(cls, credential):
        """A credential's scope; ``credential.tenant_id is None`` means the global read-only one."""
        if credential.tenant_id is None:
            return cls.all_namespaces()
        return cls.for_tenants([credential.tenant_id])

    @property
    def sees_cluster(self):
        """Node-level data (capacity, temperature) belongs to no tenant: only the global view shows it."""
        return self.everything

    def allows(self, namespace):
        return self.everything or namespace in self.namespaces

    def visible(self, namespaces):
        """The subset of ``namespaces`` this scope may see, in the given order."""
        if self.everything:
            return list(namespaces)
        return [name for name in namespaces if name in self.namespaces]
