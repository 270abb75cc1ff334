"""What an aggregation returns: partial sums that add across pieces, and the finished numbers."""

from dataclasses import dataclass


@dataclass
class Aggregate:
    """One group's numbers over a window, already in the metric's unit."""

    sum: float
    integral: float | None
    max: float | None
    samples: int
    mean: float | None = None
    note: str | None = None  # why ``integral`` is None where it would mean something


@dataclass
class Partial:
    """Column sums of one group from any number of pieces (raw spans, rollup hours, cached days).

    ``s`` sum, ``i`` integral, ``mx`` maximum, ``n`` samples; ``sb``/``ib`` are the second field of
    a difference; ``u`` counts samples whose resource-time is unknown (series that mix kubemon's
    samples with another writer's). Every piece returns a subset of these columns, so pieces add in
    any order.
    """

    s: float = 0.0
    i: float = 0.0
    mx: float | None = None
    n: int = 0
    sb: float = 0.0
    ib: float = 0.0
    u: int = 0

    def values(self):
        return [self.s, self.i, self.mx, self.n, self.sb, self.ib, self.u]

    def add_values(self, values):
        s, i, mx, n, sb, ib, *u = values  # day cache entries written before ``u`` have six values
        self.add({"s": s, "i": i, "mx": mx, "n": n, "sb": sb, "ib": ib, "u": u[0] if u else 0})

    def add(self, row):
        self.s += row.get("s") or 0.0
        self.i += row.get("i") or 0.0
        self.sb += row.get("sb") or 0.0
        self.ib += row.get("ib") or 0.0
        self.n += int(row.get("n") or 0)
        self.u += int(row.get("u") or 0)
        if row.get("mx") is not None:
            self.mx = row["mx"] if self.mx is None else max(self.mx, row["mx"])

    @property
    def empty(self):
        return not (self.n or self.s)
