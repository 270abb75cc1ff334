"""Tenants, the namespaces they own, who belongs to them, and the API credentials they hold (DESIGN §6)."""

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

# Kubernetes namespace names are RFC 1123 labels: this is also what keeps hostile strings out of
# ownership rows and queries.
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SLUG_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@+-]{1,150}$")

# Updating last_used on every request would turn each read into a write; once a minute is enough
# to tell a live credential from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def is_valid_namespace(name):
    return isinstance(name, str) and bool(NAMESPACE_RE.match(name))


def validate_namespace(name):
    if not is_valid_namespace(name):
        raise ValidationError(f"{name!r} is not a valid Kubernetes namespace name (lower-case RFC 1123 label)")


def validate_slug(slug):
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise ValidationError(f"{slug!r} is not a valid tenant slug (lower-case letters, digits and dashes)")


def secret_digest(secret):
    """SHA-256 hex digest of a generated secret.

    The secrets are 256 random bits, so a slow hasher adds no protection and would cost about
    330 ms per request (DESIGN §6); a plain digest keeps the database useless to a thief.
    """
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class Tenant(models.Model):
    class Basis(models.TextChoices):
        USAGE = "usage", "usage"
        REQUEST = "request", "request"
        MAX = "max", "max(request, usage)"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True, validators=[validate_slug])
    allocation_basis = models.CharField(max_length=10, choices=Basis.choices, default=Basis.MAX)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug

    def namespaces(self):
        """The set of namespace names this tenant owns, however the ownership came about."""
        return set(self.ownerships.values_list("namespace", flat=True))

    def owns(self, namespace):
        return self.ownerships.filter(namespace=namespace).exists()

    def assign(self, namespace, source="explicit"):
        """Give ``namespace`` to this tenant; an explicit assignment replaces any earlier owner.

        Returns the ownership row. Raises ``ValidationError`` for a name Kubernetes would refuse.
        """
        validate_namespace(namespace)
        ownership, _ = NamespaceOwnership.objects.update_or_create(
            namespace=namespace, defaults={"tenant": self, "source": source}
        )
        return ownership

    def role_of(self, user):
        membership = self.memberships.filter(user=user).first()
        return membership.role if membership else None

    def is_administered_by(self, user):
        """Whether ``user`` may manage this tenant's credentials and members: staff, or its admins."""
        if user is None or not user.is_authenticated or not user.is_active:
            return False
        if user.is_staff or user.is_superuser:
            return True
        return self.role_of(user) == Membership.Role.ADMIN

    def add_member(self, username, role):
        """Give the existing active user ``username`` a ``role`` here; ``ValidationError`` says why not."""
        from django.contrib.auth import get_user_model

        role = Membership.validated_role(role)
        username = (username or "").strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first() if username else None
        if user is None:
            raise ValidationError(f"there is no active user named {username!r}")
        existing = self.memberships.filter(user=user).first()
        if existing is not None:
            raise ValidationError(f"{username} is already a member of {self.name} ({existing.role})")
        return Membership.objects.create(user=user, tenant=self, role=role)

    def create_credential(self, label="", created_by=None):
        """A new credential of this tenant named ``<slug>-<6 hex digits>``: ``(credential, secret)``."""
        for _ in range(5):  # 24 random bits per name: a clash is rare, five in a row is a broken generator
            username = f"{self.slug}-{secrets.token_hex(3)}"
            if not ApiCredential.objects.filter(username=username).exists():
                return ApiCredential.generate(username, tenant=self, label=label, created_by=created_by)
        raise ValidationError("could not find a free credential name; try again")


class NamespaceOwnership(models.Model):
    class Source(models.TextChoices):
        EXPLICIT = "explicit", "explicit"
        LABEL = "label", "namespace label"

    namespace = models.CharField(max_length=63, unique=True, validators=[validate_namespace])
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ownerships")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.EXPLICIT)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace"]

    def __str__(self):
        return f"{self.namespace} → {self.tenant.slug} ({self.source})"


class Membership(models.Model):
    class Role(models.TextChoices):
        VIEWER = "viewer", "viewer"
        ADMIN = "admin", "admin"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_tenant")]
        ordering = ["tenant__slug", "user__username"]

    def __str__(self):
        return f"{self.user} in {self.tenant.slug} ({self.role})"

    @classmethod
    def validated_role(cls, role):
        if role not in cls.Role.values:
            raise ValidationError(f"{role!r} is not a role (one of: {', '.join(cls.Role.values)})")
        return role

    def _refuse_if_last_admin(self, doing):
        """Raise ``ValidationError`` when this member is the tenant's only admin (inside a transaction).

        The tenant's admin rows are locked first, always in the same order: two admins demoting
        each other at the same moment would otherwise both see "another admin is left" and leave
        the tenant with none, and locking in different orders could deadlock.
        """
        admins = list(Membership.objects.select_for_update().filter(tenant_id=self.tenant_id, role=self.Role.ADMIN)
                      .order_by("pk").values_list("pk", flat=True))
        if not Membership.objects.filter(pk=self.pk).exists():
            raise ValidationError(f"{self.user} is no longer a member of {self.tenant.name}")
        if admins == [self.pk]:
            raise ValidationError(f"{self.user} is the last admin of {self.tenant.name}: "
                                  f"make someone else admin before {doing}")

    def change_role(self, role):
        """Set this member's role; the tenant's last admin cannot be demoted (``ValidationError``)."""
        role = self.validated_role(role)
        with transaction.atomic():
            if role != self.Role.ADMIN:
                self._refuse_if_last_admin("demoting them")
            self.role = role
            self.save(update_fields=["role"])

    def remove(self):
        """End this membership; the tenant's last admin cannot be removed (``ValidationError``)."""
        with transaction.atomic():
            self._refuse_if_last_admin("removing them")
            self.delete()


class ApiCredential(models.Model):
    """An ``X-USERNAME``/``X-PASSWORD`` pair: a tenant's, or global read-only when ``tenant`` is empty."""

    username = models.CharField(max_length=150, unique=True)
    secret_digest = models.CharField(max_length=64)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="credentials",
        help_text="Empty for a global read-only credential (e.g. the billing system's).",
    )
    label = models.CharField(max_length=100, blank=True, help_text="What the credential is for, in words.")
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", help_text="Empty when made by manage.py or by a deleted user.")
    last_used = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["username"]

    def __str__(self):
        return self.username

    @property
    def is_global(self):
        return self.tenant_id is None

    @property
    def is_active(self):
        return self.revoked_at is None

    @classmethod
    def generate(cls, username, tenant=None, label="", created_by=None):
        """Create a credential and return ``(credential, secret)``; the secret is never stored or shown again."""
        label = " ".join((label or "").split())
        if len(label) > cls._meta.get_field("label").max_length:
            raise ValidationError("the name is longer than 100 characters")
        if not USERNAME_RE.match(username or ""):
            raise ValidationError(f"{username!r} is not a valid API username (letters, digits and _.@+-, ≤150)")
        if settings.API_USERNAME and hmac.compare_digest(username.encode(), settings.API_USERNAME.encode()):
            raise ValidationError(f"{username!r} is the API_USERNAME of the settings; choose another name")
        if cls.objects.filter(username=username).exists():
            raise ValidationError(f"an API credential named {username!r} already exists")
        secret = secrets.token_urlsafe(32)  # 256 random bits
        credential = cls.objects.create(username=username, secret_digest=secret_digest(secret), tenant=tenant,
                                        label=label, created_by=created_by)
        return credential, secret

    def revoke(self, when=None):
        if self.revoked_at is None:
            self.revoked_at = when or timezone.now()
            self.save(update_fields=["revoked_at"])

    def touch(self, now=None):
        """Record a use, writing at most once per ``LAST_USED_RESOLUTION``; returns True when it wrote."""
        now = now or timezone.now()
        cutoff = now - LAST_USED_RESOLUTION
        if self.last_used is not None and self.last_used > cutoff:
            return False
        # The filter makes concurrent requests write once between them.
        updated = (
            ApiCredential.objects.filter(pk=self.pk)
            .filter(models.Q(last_used__isnull=True) | models.Q(last_used__lte=cutoff))
            .update(last_used=now)
        )
        self.last_used = now
        return bool(updated)


# Price lists and statements live in their own modules (one job each); importing them here
# registers them with the app, as Django expects of ``billing.models``.
from billing.pricelists import PriceList, PriceListVersion  # noqa: E402, F401
from billing.statementmodels import ImmutableStatement, Statement, StatementLine  # noqa: E402, F401
