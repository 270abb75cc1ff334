"""Kubernetes resource quantities (``123456n``, ``1234Ki``, ``1500m``, ``1.5Gi``, ``2e3``).

The grammar is Kubernetes' ``resource.Quantity``: a signed decimal number, optionally with an
exponent, followed by a binary (Ki..Ei) or decimal (n, u, m, k, M, G, T, P, E) suffix.
"""

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")
_cache = {}


class QuantityError(ValueError):
    pass


def parse_quantity(text):
    """The quantity's value as a ``Decimal`` (exact; callers convert to the unit they store)."""
    if isinstance(text, int | float):
        return Decimal(str(text))
    try:
        return _cache[text]
    except (KeyError, TypeError):
        pass
    if not isinstance(text, str):
        raise QuantityError(f"quantity {text!r} is not a string")
    match = _QUANTITY.match(text.strip())
    if not match:
        raise QuantityError(f"{text!r} is not a Kubernetes quantity")
    number, exponent, suffix = match.groups()
    try:
        value = Decimal(number)
        if exponent:
            value = value * (Decimal(10) ** int(exponent[1:]))
        elif suffix in _BINARY:
            value = value * _BINARY[suffix]
        else:
            value = value * _DECIMAL[suffix or ""]
    except InvalidOperation:
        raise QuantityError(f"{text!r} is not a Kubernetes quantity") from None
    if len(_cache) < 10_000:
        _cache[text] = value
    return value


def cpu_millicores(text):
    """CPU quantity in millicores (float): ``"250m"`` → 250.0, ``"2"`` → 2000.0, ``"123n"``."""
    return float(parse_quantity(text) * 1000)


def cpu_nanocores(text):
    return float(parse_quantity(text) * 1_000_000_000)


def to_bytes(text):
    return float(parse_quantity(text))


def to_count(text):
    return int(parse_quantity(text))
