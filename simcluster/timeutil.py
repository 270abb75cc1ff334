"""Time and quantity formatting in the shapes the Kubernetes API and the kubelet use.

All simulated event times are whole seconds (the clock starts on a whole second and the step is a
whole number of seconds), so object timestamps carry no fraction, exactly like the API server's.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FMT_CACHE: dict[int, str] = {}


def fmt_time(seconds: float) -> str:
    """RFC 3339 with second precision and a Z, as in ``creationTimestamp``."""
    s = int(seconds // 1)
    cached = _FMT_CACHE.get(s)
    if cached is None:
        if len(_FMT_CACHE) > 100_000:  # long runs: keep the cache bounded
            _FMT_CACHE.clear()
        cached = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
        _FMT_CACHE[s] = cached
    return cached


def fmt_time_us(us: int) -> str:
    """RFC 3339 from epoch microseconds, with a fraction only when there is one."""
    s, frac = divmod(us, 1_000_000)
    base = fmt_time(s)
    if not frac:
        return base
    return f"{base[:-1]}.{frac:06d}".rstrip("0") + "Z"


def parse_time_us(text: str) -> int:
    """Parse RFC 3339 (``Z`` or an offset, optional fraction) into epoch microseconds.

    Raises ValueError for anything else, including a time without a zone: a window in an
    unknown zone would silently shift the truth by hours.
    """
    text = text.strip()
    if not text or "T" not in text.upper():
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    dt = datetime.fromisoformat(text.replace("z", "Z"))
    if dt.tzinfo is None:
        raise ValueError(f"RFC 3339 time needs a zone (Z or +hh:mm): {text!r}")
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def cpu_quantity(nanocores: int) -> str:
    """metrics-server's CPU quantity: nanocores with an ``n`` suffix, and a bare ``0`` for idle."""
    return f"{nanocores}n" if nanocores else "0"


def memory_quantity(nbytes: int) -> str:
    """metrics-server's memory quantity: ``Ki`` when whole kibibytes, else plain bytes."""
    if not nbytes:
        return "0"
    if nbytes % 1024 == 0:
        return f"{nbytes // 1024}Ki"
    return str(nbytes)


def millicpu(m: int) -> str:
    """A request/limit in the form users write: ``250m`` or ``2``."""
    return f"{m // 1000}" if m % 1000 == 0 else f"{m}m"


def mem_spec(nbytes: int) -> str:
    """A memory request/limit as users write it: ``512Mi``, ``2Gi``."""
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if nbytes % size == 0:
            return f"{nbytes // size}{unit}"
    return str(nbytes)
