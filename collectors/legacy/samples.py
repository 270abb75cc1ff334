"""Legacy rows → samples of kubemon series, each with the time it stands for.

``interval_seconds`` comes from the samples' own spacing, by the rule kubemon applies to other
writers' samples (``kubemon.timeseries.schema.SPACING_CAP_SECONDS``): a sample stands for the time
since the previous sample of its series, if that is at most the cap. Unlike Telegraf's gauges,
Heapster's values already stand for the resolution before them (a rate over the last scrape
period, a gauge scraped every period), so a series' first sample, and the first after a gap longer
than the cap (a pod gone, then a pod of the same name), stands for the usual spacing of the
measurement (the median spacing, 60 s for Heapster's default resolution) rather than for nothing.
A spacing over twice the usual one is a gap (``gap_seconds``: its part beyond one usual spacing),
as kubemon's own sampling reports it.
"""

import math
from collections import defaultdict
from operator import itemgetter

from collectors.legacy.catalogue import REQUIRED_TAGS, TAG_NAMES
from collectors.legacy.reader import LABELS_TAG, LegacyImportError
from kubemon.timeseries.schema import SPACING_CAP_SECONDS

HOUR_MS = 3_600_000


class MalformedRow(LegacyImportError):
    pass


def parse_labels(text):
    """Heapster's ``labels`` tag (``key:value,key:value``) as a dict."""
    labels = {}
    for part in (text or "").split(","):
        key, sep, value = part.partition(":")
        if sep and key:
            labels[key] = value
    return labels


def _bad(source, tags, row, why):
    shown = ", ".join(f"{k}={v!r}" for k, v in sorted(tags.items()) if v)
    when = row[0] if row else "?"
    return MalformedRow(f"malformed row in {source.name!r} at {when} (epoch ms) [{shown}]: {why}")


def _valid(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


class Gathered:
    """One chunk's rows by kubemon series, sorted, with what was seen on the way."""

    def __init__(self):
        self.series = {}  # key (kubemon tag values in the source's tag order) → [[t ms, value], ...]
        self.rows = 0
        self.malformed = 0
        self.namespaces = set()
        self.label_values = defaultdict(lambda: defaultdict(int))  # namespace → label value → series


def gather(source, chunk, label=None, skip_malformed=False):
    """Check and merge the rows of ``chunk`` (``LegacyReader.chunk``); ``label``: the pod label
    whose values are counted per namespace (tenant assignment)."""
    out = Gathered()
    required = REQUIRED_TAGS[source.target]
    by_key = defaultdict(list)
    for tags, values in chunk:
        out.rows += len(values)
        missing = [t for t in required if not tags.get(t)]
        if missing:
            if skip_malformed:
                out.malformed += len(values)
                continue
            raise _bad(source, tags, values[0] if values else None, f"no {', '.join(missing)} tag")
        good = values if _all_valid(values) else [row for row in values if len(row) == 2 and _valid(row[1])]
        if len(good) < len(values):
            if not skip_malformed:
                row = next(r for r in values if not (len(r) == 2 and _valid(r[1])))
                raise _bad(source, tags, row, f"value {row[1:]!r} is not a non-negative number")
            out.malformed += len(values) - len(good)
        namespace = tags["namespace_name"]
        out.namespaces.add(namespace)
        if label and tags.get(LABELS_TAG):
            value = parse_labels(tags[LABELS_TAG]).get(label)
            if value:
                out.label_values[namespace][value] += 1
        key = tuple(tags.get(t) or "" for t in source.tags)
        by_key[key].append(good)
    for key, parts in by_key.items():
        # InfluxDB answers each series in time order; only the rows of several legacy series that
        # are one kubemon series (a pod_id or labels that changed) need sorting, and only times
        # met twice need the last-wins rule.
        if len(parts) == 1:
            rows = parts[0]
        else:
            rows = [row for part in parts for row in part]
            rows.sort(key=_time)
        if source.coalesce:
            out.series[key] = _coalesce(rows, source.coalesce)
        else:
            out.series[key] = rows if len(set(map(_time, rows))) == len(rows) else _dedupe(rows)
    return out


_time = itemgetter(0)
_value = itemgetter(1)


def _all_valid(values):
    """Whether every row is ``[time, non-negative finite number]`` (the common case, checked at C
    speed; the caller looks row by row only when not)."""
    if not values:
        return True
    if set(map(len, values)) != {2}:
        return False
    numbers = list(map(_value, values))
    types = set(map(type, numbers))
    if not types <= {int, float}:
        return False
    return min(numbers) >= 0 and (float not in types or math.isfinite(sum(numbers)))


def _dedupe(rows):
    """One value per time: a point is measurement + tags + time, the last written wins."""
    out = []
    for row in rows:
        if out and out[-1][0] == row[0]:
            out[-1] = row
        else:
            out.append(row)
    return out


def _coalesce(rows, seconds):
    """Samples of one pass of the GPU agent (one per process, each with its own clock reading, less
    than ``seconds`` apart) as one sample: their sum, at the first one's time. A pass never spans a
    clock hour here, so that the import's hour chunks cannot change the result."""
    out = []
    window = seconds * 1000
    start = None
    for t, value in rows:
        if out and t - start < window and t // HOUR_MS == start // HOUR_MS:
            out[-1][1] += value
        else:
            start = t
            out.append([t, value])
    return out


def tags_of(source, key):
    """The kubemon tags of a series key (empty values omitted, as the line protocol does)."""
    return {TAG_NAMES[t]: v for t, v in zip(source.tags, key, strict=True) if v}


class Spacing:
    """The last sample time of each series, for ``interval_seconds`` (see the module docstring)."""

    def __init__(self, usual, cap=SPACING_CAP_SECONDS):
        self.usual = float(usual)
        self.cap = cap
        self.last = {}

    def intervals(self, key, rows):
        """``[(t ms, value, interval s, gap s), ...]`` for the sorted ``rows`` of one series."""
        out = []
        previous = self.last.get(key)
        usual, cap = self.usual, self.cap
        for t, value in rows:
            if previous is None or t - previous > cap * 1000:
                interval, gap = usual, 0.0
            else:
                interval = (t - previous) / 1000.0
                gap = interval - usual if interval > 2 * usual else 0.0
            out.append((t, value, interval, gap))
            previous = t
        if rows:
            self.last[key] = rows[-1][0]
        return out

    def forget_before(self, moment_ms):
        """Drop series not seen within the cap before ``moment_ms``: memory stays bounded by the
        series alive at once, not by a history's pod-name churn."""
        horizon = moment_ms - self.cap * 1000
        for key in [k for k, t in self.last.items() if t < horizon]:
            del self.last[key]


def usual_spacing(gathered, default):
    """The median spacing (seconds) of a chunk's series, at most the cap; ``default`` without any."""
    spacings = []
    for rows in gathered.series.values():
        spacings += [(b[0] - a[0]) / 1000.0 for a, b in zip(rows, rows[1:], strict=False)
                     if 0 < b[0] - a[0] <= SPACING_CAP_SECONDS * 1000]
    if not spacings:
        return default
    spacings.sort()
    return spacings[len(spacings) // 2]
