"""Times as the chart pages' forms show them (UTC, to the second)."""

from datetime import UTC


def input_value(moment):
    """``YYYY-MM-DDTHH:MM:SS`` in UTC, what a ``datetime-local`` input with ``step=1`` shows."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
