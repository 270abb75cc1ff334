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


@dataclass
class Partial:
    """Column sums of one group from any number of pieces (raw spans, rollup hours, cached days).

    ``s`` sum, ``i`` integral, ``mx`` maximum, ``n`` samples; ``sb``/``ib`` are the second field of
    a difference. Every piece returns a subset of these columns, so pieces add in any order.
    """

    s: float = 0.0
    i: float = 0.0
    mx: float | None = None
    n: int = 0
    sb: float = 0.0
    ib: float = 0.0

    def values(self):
        return [self.s, self.i, self.mx, self.n, self.sb, self.ib]

    def add_values(self, values):
        s, i, mx, n, sb, ib = values
        self.add({"s": s, "i": i, "mx": mx, "n": n, "sb": sb, "ib": ib})

    def add(self, row):
        self.s += row.get("s") or 0.0
        self.i += row.get("i") or 0.0
        self.sb += row.get("sb") or 0.0
        self.ib += row.get("ib") or 0.0
        self.n += int(row.get("n") or 0)
        if row.get("mx") is not None:
            self.mx = row["mx"] if self.mx is None else max(self.mx, row["mx"])

    @property
    def empty(self):
        return not (self.n or self.s)
