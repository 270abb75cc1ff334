"""Request validation and the documented response shapes of the metric API."""

import re

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import is_valid_namespace
from metrics.engine import MODES

DEFAULT_LIMIT = 100
MAX_EXCLUDED = 1000


# A string of ASCII digits, with spaces around it at most. ``str.isdigit`` and ``int()`` accept far
# more ("²", "٣", "1_000", "+5", "\u00a012"), which is how "²" once became a 500.
LIMIT_PATTERN = re.compile(r" *([0-9]{1,40}) *", re.ASCII)


@extend_schema_field({"oneOf": [{"type": "integer", "minimum": 1},
                                {"type": "string", "pattern": "^ *[0-9]{1,40} *$"}],
                      "default": DEFAULT_LIMIT})
class LimitField(serializers.Field):
    """The legacy clients send ``"limit": "100"`` (a string); integers are accepted too.

    Accepted: a JSON integer ≥ 1 (a JSON number with an integral value counts, as the JSON parser
    reads integers beyond 64 bits as floats), or a string of 1 to 40 ASCII digits 0-9 with optional
    spaces around it, whose value is ≥ 1. Nothing else: no sign, no other Unicode digits, no
    underscores, no decimal point, no exponent.
    """

    default_error_messages = {"invalid": "must be a positive integer or a string of ASCII digits 0-9, such as \"100\""}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, str):
            match = LIMIT_PATTERN.fullmatch(data)
            if match is None:
                self.fail("invalid")
            data = int(match.group(1))
        if isinstance(data, float) and data.is_integer():
            # The JSON parser reads integers beyond 64 bits as floats.
            data = int(data)
        if not isinstance(data, int):
            self.fail("invalid")
        if data <= 0:
            self.fail("invalid")
        # Huge limits are capped rather than refused: asking for "everything" is a fair request.
        return min(data, settings.API_MAX_LIMIT)

    def to_representation(self, value):
        return value


class NamespaceField(serializers.CharField):
    default_error_messages = {"namespace": "is not a valid Kubernetes namespace name"}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 63)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not is_valid_namespace(value):
            self.fail("namespace")
        return value


class MetricQuerySerializer(serializers.Serializer):
    """The JSON body of ``POST /api/<metric>``; every field is optional and unknown keys are ignored."""

    namespace = NamespaceField(required=False, default="default",
                               help_text="The namespace of raw and pod-by-namespace queries (default `default`).")
    limit = LimitField(required=False, default=DEFAULT_LIMIT,
                       help_text="Raw rows to return, newest first: an integer, or a string of ASCII digits "
                                 "(default 100, capped at API_MAX_LIMIT). Ignored by the agg modes, which return "
                                 "every group.")
    agg = serializers.ChoiceField(choices=MODES, required=False, allow_null=True, allow_blank=True,
                                  help_text="Aggregation mode; absent, null or empty for raw rows.")
    timeBeginInterval = serializers.CharField(  # noqa: N815  (the legacy field name)
        required=False, allow_null=True, max_length=64,
        help_text="Window begin, included: YYYY-MM-DD, YYYY-MM-DD HH:MM:SS (UTC) or RFC 3339. "
                  "Default: 60 minutes before the end.")
    timeEndInterval = serializers.CharField(  # noqa: N815
        required=False, allow_null=True, max_length=64,
        help_text="Window end, excluded; same formats. Default: now.")
    excludeNamespaces = serializers.ListField(  # noqa: N815
        child=NamespaceField(), required=False, allow_empty=True, max_length=MAX_EXCLUDED,
        help_text="Namespaces left out of the all-* modes (default [\"kube-system\"], the legacy behaviour).")

    def validate_agg(self, value):
        return value or None


class EnvelopeSerializer(serializers.Serializer):
    code = serializers.IntegerField()
    message = serializers.CharField()


class AggregateRowSerializer(serializers.Serializer):
    time = serializers.CharField(help_text="The window's begin (RFC 3339).")
    sum = serializers.FloatField(help_text="Sum of the samples (the legacy `sum(value)`), in `unit`.")
    namespace_name = serializers.CharField()
    pod_name = serializers.CharField(required=False, help_text="pod-by-namespace and all-pod modes.")
    integral = serializers.FloatField(allow_null=True, help_text="Resource-time over the window, unit x seconds.")
    mean = serializers.FloatField(allow_null=True, help_text="integral / window length: the group's average.")
    max = serializers.FloatField(allow_null=True, help_text="Largest single sample of one series of the group.")
    samples = serializers.IntegerField()
    unit = serializers.CharField()


class RawRowSerializer(serializers.Serializer):
    time = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    namespace_name = serializers.CharField(required=False, allow_null=True)
    pod_name = serializers.CharField(required=False, allow_null=True)
    container_name = serializers.CharField(required=False, allow_null=True)
    nodename = serializers.CharField(required=False, allow_null=True)
    type = serializers.CharField(required=False)
    unit = serializers.CharField()


class MetricDescriptionSerializer(serializers.Serializer):
    name = serializers.CharField()
    unit = serializers.CharField()
    integral_unit = serializers.CharField(allow_null=True)
    description = serializers.CharField()
    kind = serializers.CharField()
    level = serializers.CharField(help_text="`namespace` metrics are scoped per tenant; `node` ones need a "
                                            "global credential.")
    measurement = serializers.CharField()
    field = serializers.CharField()
    rollup = serializers.BooleanField(help_text="Long windows read the hourly rollup.")
    heapster = serializers.BooleanField(help_text="A Heapster metric name (false: one of kubemon's own).")


def first_error(errors, prefix=""):
    """``"field: message"`` for the first error of a DRF error structure."""
    if isinstance(errors, dict):
        for name, value in errors.items():
            label = name if name != "non_field_errors" else "body"
            return first_error(value, f"{prefix}[{name}]" if isinstance(name, int) else (
                f"{prefix}.{label}" if prefix else label))
    if isinstance(errors, list) and errors:
        if all(isinstance(item, str) for item in errors):
            return f"{prefix}: {errors[0]}"
        for index, item in enumerate(errors):
            if item:
                return first_error(item, f"{prefix}[{index}]")
    return f"{prefix}: {errors}"
