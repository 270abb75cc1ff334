"""Price lists (DESIGN §12, Koku's price lists as the anchor): the models and their validation.

A ``PriceList`` is in force over ``[effective_start, effective_end)`` (an empty end: open) for
one scope: a tenant (its negotiated rates) or, with no tenant, everyone (the default list). Lists
of one scope never overlap; a tenant's list overrides the default one over its dates
(``billing.pricing.price_periods``).

Rates are per hour of a CPU core, a GiB of memory and a GPU, with per-GPU-model rates
(``gpu_model_rates``: ``{"NVIDIA H100 80GB HBM3": "4.10", "Jetson": "0.20", ...}``; a model not
listed takes ``gpu_hour``), optional node-label rules (``node_label_rates``: a list of
``{"label": ..., "value": ..., "cpu_core_hour"?: ..., "memory_gib_hour"?: ..., "gpu_hour"?: ...}``,
the first rule matching a node's labels overrides the rates it names) and a rate per GiB-month
of storage (a month is ``HOURS_PER_MONTH`` hours). Money is ``Decimal``: rates are stored as
decimals and written as strings in the JSON fields.

Every save that changes what a list charges records a ``PriceListVersion`` (a frozen snapshot,
numbered 1, 2, ...); a statement keeps the version it was computed with, so editing a list never
changes a statement already issued.
"""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

HOURS_PER_MONTH = Decimal(730)  # 365 × 24 / 12, the cloud providers' storage month
RATE_DIGITS = {"max_digits": 14, "decimal_places": 6}
RATE_PLACES = Decimal("0.000001")
LABEL_RATE_KEYS = ("cpu_core_hour", "memory_gib_hour", "gpu_hour")


class Basis(models.TextChoices):
    USAGE = "usage", "usage"
    REQUEST = "request", "request"
    MAX = "max", "max(request, usage)"


def parse_rate(value, where):
    """A non-negative ``Decimal`` from a rate given as text or number; ``ValidationError`` otherwise."""
    if isinstance(value, float):
        value = repr(value)
    try:
        rate = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{where}: {value!r} is not a decimal rate") from None
    if not rate.is_finite() or rate < 0:
        raise ValidationError(f"{where}: a rate must be a non-negative decimal number")
    if rate != rate.quantize(RATE_PLACES):
        raise ValidationError(f"{where}: at most 6 decimal places")
    return rate.quantize(RATE_PLACES)  # one spelling, as the database returns it: versions compare equal


def validate_gpu_model_rates(value):
    if not isinstance(value, dict):
        raise ValidationError("GPU model rates must be an object {model name: hourly rate}")
    for model, rate in value.items():
        if not isinstance(model, str) or not model.strip() or len(model) > 200:
            raise ValidationError(f"{model!r} is not a GPU model name")
        parse_rate(rate, f"GPU model {model!r}")


def validate_node_label_rates(value):
    if not isinstance(value, list):
        raise ValidationError("node label rates must be a list of {label, value, rates...}")
    for n, rule in enumerate(value, 1):
        if not isinstance(rule, dict) or not isinstance(rule.get("label"), str) or not rule["label"]:
            raise ValidationError(f"node label rule {n} needs a label")
        if not isinstance(rule.get("value"), str):
            raise ValidationError(f"node label rule {n} needs a value (text)")
        unknown = set(rule) - {"label", "value", *LABEL_RATE_KEYS}
        if unknown:
            raise ValidationError(f"node label rule {n}: unknown keys {', '.join(sorted(unknown))}")
        if not any(key in rule for key in LABEL_RATE_KEYS):
            raise ValidationError(f"node label rule {n} sets no rate")
        for key in LABEL_RATE_KEYS:
            if key in rule:
                parse_rate(rule[key], f"node label rule {n} {key}")


def validate_currency(value):
    if not (isinstance(value, str) and len(value) == 3 and value.isalpha() and value.isupper()):
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code (three capital letters)")


class PriceList(models.Model):
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency])
    tenant = models.ForeignKey(
        "billing.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="price_lists",
        help_text="Empty for the default list; a tenant's own list overrides it over its dates.",
    )
    effective_start = models.DateTimeField(help_text="Inclusive (UTC).")
    effective_end = models.DateTimeField(null=True, blank=True, help_text="Exclusive (UTC); empty: open-ended.")
    allocation_basis = models.CharField(
        max_length=10, choices=Basis.choices, blank=True,
        help_text="Empty: the tenant's own basis (max(request, usage) by default).",
    )
    cpu_core_hour = models.DecimalField(**RATE_DIGITS, default=Decimal(0))
    memory_gib_hour = models.DecimalField(**RATE_DIGITS, default=Decimal(0))
    gpu_hour = models.DecimalField(**RATE_DIGITS, default=Decimal(0), help_text="Default rate of a GPU-hour.")
    gpu_model_rates = models.JSONField(default=dict, blank=True, validators=[validate_gpu_model_rates],
                                       help_text='{"NVIDIA H100 80GB HBM3": "4.10", "Jetson": "0.20"}')
    node_label_rates = models.JSONField(default=list, blank=True, validators=[validate_node_label_rates],
                                        help_text='[{"label": "node-pool", "value": "gpu", "cpu_core_hour": "0.05"}]')
    storage_gib_month = models.DecimalField(**RATE_DIGITS, default=Decimal(0))
    version = models.PositiveIntegerField(default=0, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["tenant__slug", "effective_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_end__isnull=True) | Q(effective_end__gt=models.F("effective_start")),
                name="price_list_end_after_start",
            ),
        ]

    def __str__(self):
        scope = self.tenant.slug if self.tenant_id else "default"
        return f"{self.name} ({scope}, v{self.version})"

    def save(self, *args, **kwargs):
        """Validate (no overlap, valid rates), save, and record a new version when the content changed."""
        for name in ("cpu_core_hour", "memory_gib_hour", "gpu_hour", "storage_gib_month"):
            setattr(self, name, parse_rate(getattr(self, name), name))
        validate_gpu_model_rates(self.gpu_model_rates)
        validate_node_label_rates(self.node_label_rates)
        validate_currency(self.currency)
        with transaction.atomic():
            # Lock the scope's lists so two concurrent saves cannot both pass the overlap check.
            list(PriceList.objects.select_for_update().filter(tenant=self.tenant_id).order_by().values_list("pk"))
            self.clean()
            content = self.snapshot()
            latest = self.versions.order_by("-number").first() if self.pk else None
            changed = latest is None or latest.content != content
            if changed:
                self.version = (latest.number if latest else 0) + 1
            super().save(*args, **kwargs)
            if changed:
                PriceListVersion.objects.create(price_list=self, number=self.version, content=content)

    def delete(self, *args, **kwargs):
        if self.versions.filter(lines__isnull=False).exists():
            raise ValidationError("this price list priced statements; end it (effective end) instead of deleting it")
        return super().delete(*args, **kwargs)

    def overlapping(self):
        """Other lists of the same scope whose dates meet this one's."""
        same = PriceList.objects.exclude(pk=self.pk).filter(tenant=self.tenant_id)
        if self.effective_end is not None:
            same = same.filter(effective_start__lt=self.effective_end)
        return same.filter(Q(effective_end__isnull=True) | Q(effective_end__gt=self.effective_start))

    def clean(self):
        super().clean()
        if self.effective_end is not None and self.effective_start and self.effective_end <= self.effective_start:
            raise ValidationError({"effective_end": "must be after the start"})
        if self.effective_start and self.overlapping().exists():
            other = self.overlapping().first()
            raise ValidationError(f"overlaps {other} for the same scope ({_span(other)}); end one list first")

    def snapshot(self):
        """What this list charges, as JSON-safe data (decimals as text): one version's content."""
        return {
            "name": self.name, "currency": self.currency, "tenant": self.tenant.slug if self.tenant_id else None,
            "effective_start": self.effective_start.isoformat(),
            "effective_end": self.effective_end.isoformat() if self.effective_end else None,
            "allocation_basis": self.allocation_basis,
            "cpu_core_hour": str(self.cpu_core_hour), "memory_gib_hour": str(self.memory_gib_hour),
            "gpu_hour": str(self.gpu_hour), "storage_gib_month": str(self.storage_gib_month),
            "gpu_model_rates": {model: str(parse_rate(rate, model)) for model, rate in self.gpu_model_rates.items()},
            "node_label_rates": [
                {**rule, **{key: str(parse_rate(rule[key], key)) for key in LABEL_RATE_KEYS if key in rule}}
                for rule in self.node_label_rates
            ],
        }

    @property
    def current_version(self):
        return self.versions.get(number=self.version)


class PriceListVersion(models.Model):
    """One version of a price list, frozen: statements point here, so history is never rewritten."""

    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    content = models.JSONField()
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["price_list_id", "number"]
        constraints = [models.UniqueConstraint(fields=["price_list", "number"], name="one_number_per_version")]

    def __str__(self):
        return f"{self.content.get('name')} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("a price list version is frozen; edit the price list to make a new one")
        return super().save(*args, **kwargs)


def _span(price_list):
    end = price_list.effective_end.isoformat() if price_list.effective_end else "open"
    return f"{price_list.effective_start.isoformat()} to {end}"
