"""Line-protocol serialisation, written for speed (DESIGN §3, docs/benchmarks.md).

influxdb-client's ``Point`` does about 50,000 lines/s here, which would make serialisation the
largest cost of a 10,000-pod cycle; this module reaches several times that by caching the
escaped series key (measurement + sorted tags) and field keys, which repeat every cycle.

Escaping follows what InfluxDB 1.x actually reads back (checked against a live 1.6 server in
tests/timeseries/test_roundtrip.py):

* measurement: comma and space are escaped;
* tag keys, tag values, field keys: comma, space and equals sign are escaped. A backslash is
  written as is: 1.x does not unescape ``\\\\`` in tags, so doubling it (as influxdb-client does)
  would read back doubled;
* string field values: double quote and backslash are escaped; newlines are allowed.

Two things cannot be carried by 1.x in a name or tag value at all: a newline, and a trailing
backslash (it escapes the separator after it). Such a value raises ``LineProtocolError`` so the
caller can skip the one point instead of corrupting a whole batch. Empty tag values are
omitted (InfluxDB rejects them; a missing tag matches ``tag = ''`` in InfluxQL). NaN and
infinite floats are omitted (InfluxDB has no representation for them); a point left with no
field yields no line.

Field types: an int is an integer field (``5i``) and a float a float field, except for the
fields that ``schema.FLOAT_FIELDS`` types as floats, where an int is written without the ``i``
and InfluxDB reads a float, and those ``schema.INTEGER_FIELDS`` types as integers (Telegraf's),
where a float is written rounded with an ``i``; a string or a boolean for a typed field raises
``LineProtocolError``.
"""


import math

from kubemon.timeseries.schema import FLOAT_FIELDS, INTEGER_FIELDS

_MEASUREMENT_ESCAPES = str.maketrans({",": "\\,", " ": "\\ "})
_KEY_ESCAPES = str.maketrans({",": "\\,", " ": "\\ ", "=": "\\="})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})

# Escaped names repeat every cycle (tag values such as pod and node names, field keys);
# caching them saves most of the cost. The caches are cleared when they grow past a bound so
# that pod-name churn cannot grow memory without limit.
_CACHE_LIMIT = 200_000
_key_cache = {}
_series_cache = {}


class LineProtocolError(ValueError):
    """A value that InfluxDB's line protocol cannot carry."""


def _check_name(value, what):
    if "\n" in value:
        raise LineProtocolError(f"{what} {value!r} contains a newline, which line protocol cannot carry")
    if value.endswith("\\"):
        raise LineProtocolError(f"{what} {value!r} ends with a backslash, which line protocol cannot carry")


def escape_measurement(name):
    _check_name(name, "measurement")
    if not name:
        raise LineProtocolError("measurement name is empty")
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_key(value):
    """Escape a tag key, tag value or field key."""
    try:
        return _key_cache[value]
    except KeyError:
        pass
    _check_name(value, "tag or field name")
    escaped = value.translate(_KEY_ESCAPES)
    if len(_key_cache) >= _CACHE_LIMIT:
        _key_cache.clear()
    _key_cache[value] = escaped
    return escaped


def escape_string_field(value):
    return '"' + value.translate(_STRING_ESCAPES) + '"'


def series_key(measurement, tags):
    """``measurement,tag=value,...`` with tags sorted by key (InfluxDB's preferred order)."""
    cache_key = (measurement, *tags.items())
    try:
        return _series_cache[cache_key]
    except KeyError:
        pass
    parts = [escape_measurement(measurement)]
    for key in sorted(tags):
        value = tags[key]
        if value is None or value == "":
            continue
        parts.append(escape_key(key) + "=" + escape_key(str(value)))
    key_text = ",".join(parts)
    if len(_series_cache) >= _CACHE_LIMIT:
        _series_cache.clear()
    _series_cache[cache_key] = key_text
    return key_text


_field_prefixes = {}


def _field_prefix(key):
    prefix = escape_key(key) + "="
    _field_prefixes[key] = prefix
    return prefix


def format_fields_one_by_one(fields, measurement=None):
    """The general case: any value type, NaN and infinities left out."""
    parts = []
    append = parts.append
    prefixes = _field_prefixes
    floats = FLOAT_FIELDS.get(measurement, ())
    ints = INTEGER_FIELDS.get(measurement, ())
    for key, value in fields.items():
        prefix = prefixes.get(key) or _field_prefix(key)
        kind = type(value)
        if kind is float:
            if value - value == 0.0:
                # Formatted as the templates do ("%.0f"): half to even, -0 for a negative zero (read as 0).
                append(f"{prefix}{value:.0f}i" if key in ints else prefix + repr(value))
        elif kind is int:
            append(f"{prefix}{value}" if key in floats else f"{prefix}{value}i")
        elif value is None:
            continue
        elif (key in floats or key in ints) and (kind is bool or kind is str):
            # Written as they are, these would flip the field's type and InfluxDB would refuse the batch.
            raise LineProtocolError(f"field {key!r} must be a number, not {value!r}")
        elif kind is bool:
            append(prefix + ("true" if value else "false"))
        elif kind is str:
            append(prefix + escape_string_field(value))
        elif isinstance(value, bool):
            append(prefix + ("true" if value else "false"))
        elif isinstance(value, int):
            append(f"{prefix}{int(value)}" if key in floats else f"{prefix}{int(value)}i")
        elif isinstance(value, float):
            if math.isfinite(value):
                append(f"{prefix}{value:.0f}i" if key in ints else prefix + repr(float(value)))
        else:
            raise LineProtocolError(f"field {key!r} has unsupported type {kind.__name__}")
    return ",".join(parts)


# The hot path of a cycle (about 25 fields on each of 10,000 container lines): points of one
# measurement come with the same field names and value types cycle after cycle, so each such
# shape gets a %-template, and one ``template % values`` formats the whole field set in C.
_templates = {}


def _template(measurement, names, kinds):
    floats = FLOAT_FIELDS.get(measurement, ())
    ints = INTEGER_FIELDS.get(measurement, ())
    parts = []
    for name, kind in zip(names, kinds, strict=True):
        prefix = (_field_prefixes.get(name) or _field_prefix(name)).replace("%", "%%")
        if kind is float:
            # %.0f rounds half to even, as round() does in the one-by-one path.
            parts.append(prefix + ("%.0fi" if name in ints else "%r"))
        elif kind is int:
            parts.append(prefix + ("%d" if name in floats else "%di"))
        else:
            return None  # strings, booleans, None: one by one
    return ",".join(parts)


def format_fields(fields, measurement=None):
    values = tuple(fields.values())
    shape = (measurement, tuple(fields), tuple(map(type, values)))
    try:
        template = _templates[shape]
    except KeyError:
        if len(_templates) >= _CACHE_LIMIT:
            _templates.clear()
        template = _templates[shape] = _template(*shape)
    if template is not None:
        try:
            total = sum(values)
        except OverflowError:
            total = math.inf
        # A NaN or an infinity anywhere makes the sum NaN or infinite: those values are left
        # out one by one. (So is the rare finite set whose sum overflows.)
        if total - total == 0.0:
            return template % values
    return format_fields_one_by_one(fields, measurement)


def to_line(measurement, tags, fields, timestamp=None):
    """One line, or ``None`` when no field is left to write."""
    field_text = format_fields(fields, measurement)
    if not field_text:
        return None
    head = series_key(measurement, tags)
    if timestamp is None:
        return f"{head} {field_text}"
    return f"{head} {field_text} {int(timestamp)}"


def to_lines(points):
    """Serialise ``Point`` tuples; a point that cannot be carried raises ``LineProtocolError``."""
    lines = []
    append = lines.append
    for measurement, tags, fields, timestamp in points:
        line = to_line(measurement, tags, fields, timestamp)
        if line is not None:
            append(line)
    return lines
