"""Counter-based pseudo-randomness: every draw is a pure function of (key, n).

The usage of a container during step k must be recomputable later (to answer ``/sim/truth`` for
a past window without storing every step), and must not depend on which other pods exist or on
the order in which requests arrived. A stateful generator cannot promise that; hashing
``(container key, step)`` with SplitMix64's finaliser can, at about a microsecond per draw.
"""

from __future__ import annotations

import functools
import zlib

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
_INV53 = 1.0 / (1 << 53)
_INV32 = 1.0 / (1 << 32)


def mix64(x: int) -> int:
    x &= M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def derive(*parts: int | str) -> int:
    """A 64-bit key from a tuple of ints and strings (strings through CRC32, never ``hash()``,
    which is salted per process and would break "same seed, same cluster")."""
    x = 0x243F6A8885A308D3
    for part in parts:
        if isinstance(part, str):
            part = zlib.crc32(part.encode()) | (len(part) << 32)
        x = mix64(x ^ (part & M64) ^ ((part >> 64) & M64)) + GOLDEN
    return mix64(x)


def draw(key: int, n: int) -> int:
    """The n-th 64-bit draw of a stream."""
    return mix64(key + n * GOLDEN)


def unit(key: int, n: int) -> float:
    """The n-th uniform draw in [0, 1)."""
    return (mix64(key + n * GOLDEN) >> 11) * _INV53


def halves(h: int) -> tuple[float, float]:
    """Two uniform numbers in [0, 1) from one 64-bit draw (cheaper than two draws)."""
    return (h >> 32) * _INV32, (h & 0xFFFFFFFF) * _INV32


def hex_id(key: int, length: int) -> str:
    """A deterministic lowercase hex string (container IDs, image digests, machine IDs)."""
    out = []
    n = 0
    while sum(map(len, out)) < length:
        out.append(f"{draw(key, n):016x}")
        n += 1
    return "".join(out)[:length]


def uid(key: int) -> str:
    """A version-4-shaped UUID string derived from a key."""
    h = f"{draw(key, 0):016x}{draw(key, 1):016x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


_ALNUM = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated name suffixes


@functools.lru_cache(maxsize=65_536)
def suffix(key: int, length: int = 5) -> str:
    """A pod-name suffix like ``x7kq2`` (same alphabet as the API server's name generator).

    Cached: every kubelet summary names each pod's token volume with one, and computing it
    afresh was a quarter of the simulator's time per summary.
    """
    h = draw(key, 7)
    out = []
    for _ in range(length):
        h, r = divmod(h, len(_ALNUM))
        out.append(_ALNUM[r])
    return "".join(out)


def template_hash(key: int) -> str:
    """A ``pod-template-hash`` like ``7c5ddbdf54`` (the ReplicaSet name suffix)."""
    return suffix(key ^ 0x5A5A5A5A, 10)
