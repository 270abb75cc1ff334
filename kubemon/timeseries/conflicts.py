"""Field type conflicts: what InfluxDB says, and rewriting lines to the type a shard already has.

InfluxDB 1.x fixes a field's type per shard by the first point written; a later point with the
other numeric type is dropped with ``partial write: field type conflict: input field "F" on
measurement "M" is type float, already exists as type integer dropped=N``. kubemon writes the
fields it shares with Telegraf with Telegraf's types (``schema.INTEGER_FIELDS``), but a shard
may hold a field from another writer, or from an older kubemon, with the other type: then the
dropped lines are rewritten to the shard's type and written again. Only numbers are rewritten
(an integer read as a float, a float rounded to an integer); any other conflict is refused.
"""

import re
from dataclasses import dataclass

_CONFLICT = re.compile(
    r'field type conflict: input field "(?P<field>[^"]+)" on measurement "(?P<measurement>[^"]+)" '
    r"is type (?P<given>\w+), already exists as type (?P<existing>\w+)"
)
NUMERIC = ("float", "integer")


@dataclass(frozen=True)
class Conflict:
    field: str
    measurement: str
    given: str
    existing: str

    @property
    def coercible(self):
        return self.given in NUMERIC and self.existing in NUMERIC and self.given != self.existing


def parse_conflict(text):
    """The first conflict InfluxDB's message names, or None."""
    match = _CONFLICT.search(text)
    return Conflict(**match.groupdict()) if match else None


def _escaped(name):
    return re.escape(name.replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\="))


def _value_pattern(field):
    # After the series key (an unescaped space) or another field (a comma); numbers only.
    return re.compile(r"(?<=[ ,])" + _escaped(field) + r"=(-?[0-9][0-9.eE+-]*)(i?)(?=[, ]|$)")


def _is_measurement(line, measurement):
    head = measurement.replace(",", "\\,").replace(" ", "\\ ")
    return line.startswith(head) and line[len(head) : len(head) + 1] in (",", " ")


def affected(lines, conflict):
    """Indices of the lines of the conflict's measurement that carry its field."""
    pattern = _value_pattern(conflict.field)
    return [i for i, line in enumerate(lines) if _is_measurement(line, conflict.measurement) and pattern.search(line)]


def coerce(line, conflict):
    """``line`` with the conflict's field written as the type the shard has."""
    key = conflict.field.replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")

    def rewrite(match):
        number = match.group(1)
        if conflict.existing == "float":
            return f"{key}={number}"
        return f"{key}={round(float(number))}i"

    return _value_pattern(conflict.field).sub(rewrite, line, count=1)
