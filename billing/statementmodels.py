"""Statements and their lines: drafts recomputed on demand, issued ones immutable (DESIGN §12).

The model refuses to alter or delete an issued statement or any of its lines: ``save`` and
``delete`` on an instance, and ``update``/``delete``/``bulk_create``/``bulk_update`` on a queryset,
all raise ``ImmutableStatement``. A mistake in an issued statement is put right by a correction:
a new statement that references the one it corrects (``billing.statements.correct``).

A statement with no tenant is the operator's: every tenant's namespaces, ``__unallocated__``
(namespaces nobody owns) and, unless idle is shared, ``__idle__`` (capacity no one was charged for).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

IDLE = "__idle__"
UNALLOCATED = "__unallocated__"
MONEY = {"max_digits": 16, "decimal_places": 2}
QUANTITY = {"max_digits": 24, "decimal_places": 6}


class ImmutableStatement(ValidationError):
    def __init__(self, message="an issued statement is immutable; issue a correction instead"):
        super().__init__(message)


class StatementQuerySet(models.QuerySet):
    def _refuse_issued(self):
        if self.filter(state=Statement.State.ISSUED).exists():
            raise ImmutableStatement()

    def update(self, **kwargs):
        self._refuse_issued()
        return super().update(**kwargs)

    def delete(self):
        self._refuse_issued()
        return super().delete()

    def bulk_update(self, objs, fields, batch_size=None):
        self.filter(pk__in=[o.pk for o in objs])._refuse_issued()
        return super().bulk_update(objs, fields, batch_size=batch_size)


class Statement(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "draft"
        ISSUED = "issued", "issued"

    tenant = models.ForeignKey("billing.Tenant", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="statements", help_text="Empty: the operator's statement.")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    number = models.CharField(max_length=80, unique=True, null=True, blank=True)
    currency = models.CharField(max_length=3)
    basis = models.CharField(max_length=10)
    idle = models.CharField(max_length=10, help_text="share or keep: how idle capacity was billed.")
    total = models.DecimalField(**MONEY, default=0)
    checksum = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the inputs: quantities, rates.")
    price_lists = models.CharField(max_length=500, blank=True, help_text="The price list versions used.")
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="corrections")
    computed_at = models.DateTimeField(default=timezone.now)
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")

    objects = StatementQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "tenant__slug", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(period_end__gt=models.F("period_start")),
                                   name="statement_period_ends_after_it_begins"),
            models.CheckConstraint(
                condition=models.Q(state="draft")
                | (models.Q(number__isnull=False) & models.Q(issued_at__isnull=False)),
                name="issued_statement_has_number_and_time"),
        ]

    def __str__(self):
        scope = self.tenant.slug if self.tenant_id else "operator"
        return self.number or f"draft {scope} {self.period_start:%Y-%m-%d}–{self.period_end:%Y-%m-%d}"

    def save(self, *args, **kwargs):
        if self.pk is not None and Statement.objects.filter(pk=self.pk, state=self.State.ISSUED).exists():
            raise ImmutableStatement()
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk is not None and Statement.objects.filter(pk=self.pk, state=self.State.ISSUED).exists():
            raise ImmutableStatement()
        return super().delete(*args, **kwargs)

    @property
    def is_issued(self):
        return self.state == self.State.ISSUED

    @property
    def scope(self):
        return self.tenant.slug if self.tenant_id else "operator"


class LineQuerySet(models.QuerySet):
    def _refuse_issued(self):
        if self.filter(statement__state=Statement.State.ISSUED).exists():
            raise ImmutableStatement("the lines of an issued statement are immutable")

    def update(self, **kwargs):
        self._refuse_issued()
        return super().update(**kwargs)

    def delete(self):
        self._refuse_issued()
        return super().delete()

    def bulk_create(self, objs, *args, **kwargs):
        statements = {o.statement_id for o in objs}
        if Statement.objects.filter(pk__in=statements, state=Statement.State.ISSUED).exists():
            raise ImmutableStatement("an issued statement takes no new lines")
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, batch_size=None):
        self.filter(pk__in=[o.pk for o in objs])._refuse_issued()
        return super().bulk_update(objs, fields, batch_size=batch_size)


class StatementLine(models.Model):
    """One namespace × resource (× GPU model, × node-label rule) × price period of a statement."""

    class Resource(models.TextChoices):
        CPU = "cpu", "CPU"
        MEMORY = "memory", "memory"
        GPU = "gpu", "GPU"
        STORAGE = "storage", "storage"

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    tenant = models.CharField(max_length=50, blank=True, help_text="The namespace's owner (operator statements).")
    namespace = models.CharField(max_length=63)
    resource = models.CharField(max_length=10, choices=Resource.choices)
    gpu_model = models.CharField(max_length=200, blank=True)
    node_label = models.CharField(max_length=300, blank=True, help_text="label=value of the node rule that priced it.")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    unit = models.CharField(max_length=20)
    quantity = models.DecimalField(**QUANTITY)
    request_average = models.DecimalField(**QUANTITY, null=True, blank=True)
    usage_average = models.DecimalField(**QUANTITY, null=True, blank=True)
    efficiency = models.DecimalField(**QUANTITY, null=True, blank=True)
    rate = models.DecimalField(max_digits=14, decimal_places=6)
    cost = models.DecimalField(**MONEY)
    price_list_version = models.ForeignKey("billing.PriceListVersion", on_delete=models.PROTECT, related_name="lines")

    objects = LineQuerySet.as_manager()

    class Meta:
        ordering = ["statement_id", "position"]

    def __str__(self):
        return f"{self.namespace} {self.resource} {self.quantity} {self.unit} × {self.rate} = {self.cost}"

    def save(self, *args, **kwargs):
        if Statement.objects.filter(pk=self.statement_id, state=Statement.State.ISSUED).exists():
            raise ImmutableStatement("the lines of an issued statement are immutable")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if Statement.objects.filter(pk=self.statement_id, state=Statement.State.ISSUED).exists():
            raise ImmutableStatement("the lines of an issued statement are immutable")
        return super().delete(*args, **kwargs)
