"""A one-line progress bar on stderr: share of the work, points/s and the time left.

The work is counted in hours of history per measurement (known before anything is read, where a
count of points would cost a scan of the whole legacy database); the rate in points written.
Quiet when stderr is not a terminal (cron, CI, a pipe) or with ``--quiet``.
"""

import sys
import time


def _clock(seconds):
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total_hours, stream=None, enabled=None, width=24, every=0.2):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = max(total_hours, 1)
        self.done = 0
        self.points = 0
        self.width = width
        self.every = every
        self.started = time.monotonic()
        self._shown = 0.0
        self.label = ""

    def advance(self, hours, points, label):
        self.done += hours
        self.points += points
        self.label = label
        now = time.monotonic()
        if self.enabled and (now - self._shown >= self.every or self.done >= self.total):
            self._shown = now
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()

    def line(self, now=None):
        elapsed = (now or time.monotonic()) - self.started
        share = min(self.done / self.total, 1.0)
        filled = int(share * self.width)
        rate = self.points / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (1 - share) / share if share > 0 else 0.0
        bar = "#" * filled + "-" * (self.width - filled)
        return (f"{share * 100:5.1f}% [{bar}] {self.label:<24.24} {rate:>10,.0f} points/s  "
                f"ETA {_clock(eta) if share else '?:??:??'}")

    def close(self):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
