"""Numbers as the chart pages' scripts write them (frontend/src/lib/charts.js), so a row reads the
same before and after the live client redraws it."""

from django import template

register = template.Library()

BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def _trim(value):
    magnitude = abs(value)
    digits = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2 if magnitude >= 1 else 3
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:,.0f}"


@register.filter
def bytes_iec(value):
    """``134217728`` → ``128 MiB`` (binary units, as formatBytes in charts.js)."""
    if value is None:
        return "—"
    scaled, index = abs(float(value)), 0
    while scaled >= 1024 and index < len(BYTE_UNITS) - 1:
        scaled /= 1024
        index += 1
    return f"{'-' if value < 0 else ''}{_trim(scaled)} {BYTE_UNITS[index]}"
