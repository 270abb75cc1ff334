"""Per-series sampling state: how much time and counter increase a new sample stands for.

Every usage point carries ``interval_seconds`` (the time since the previous sample of the same
series, by the source's own timestamps, up to the gap limit; a gap and the time beyond the limit
are reported as ``gap_seconds`` and ``unobserved_seconds``) and, for containers,
``cpu_core_seconds`` (the increase of the kubelet's cumulative counter, reset-aware). The state
lives in Redis so that any worker can continue where another left off.

Re-reading a sample with the timestamp already seen yields the very same interval and
increment, so a duplicate or retried run rewrites identical points (DESIGN §3).

A sample older than the last one seen means that the source's clock stepped back (a kubelet
restarted with a skewed clock, or a second cluster's collector sharing this Redis). The series
then starts again from that sample, as if seen for the first time, and the step is logged once:
its samples are written, not dropped until the clock catches up.

A cycle killed between writing its points and saving its state would leave a state older than
its points, and the next run would charge that interval again (Celery redelivers the killed
task: acks late). So a cycle marks its state as in doubt (``begin``) before it writes, and saving
the state clears the mark in the same Redis transaction. A state found in doubt is not used:
``collectors.staterebuild`` rebuilds it from InfluxDB's last points, which are exactly what the
killed run managed to write, series by series (docs/architecture.md, "A killed cycle").

Each cycle keeps its state as one JSON document under its own key (``kubemon:sampling:usage``,
``kubemon:sampling:gpu``), read once and written once per cycle under the cycle's lock. At
10,000 pods that is 20,000 series; as one field per series of a Redis hash, encoding and
decoding them one by one took about 0.3 s of every cycle (docs/benchmarks.md).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from kubemon import keys

log = logging.getLogger(__name__)

STATE_KEY = keys.SAMPLING_STATE
IN_DOUBT_KEY = keys.SAMPLING_IN_DOUBT
# Forget series not seen for a day (pods churn; the state must not grow forever).
FORGET_AFTER_SECONDS = 86_400
FRESH, CLOSED = 1, 2
# The document's entry that keeps the last cycles' sample times, from which the usual spacing of
# samples on the sources' clock is learnt (a simulated clock may run 60 times faster than ours).
CYCLES_KEY = "~cycles"
CYCLES_KEPT = 9


@dataclass(slots=True)
class Sample:
    interval: float
    increment: float  # counter increase in counter units (0 when the series has no counter)
    fresh: bool = False  # a container instance that started since the series' previous sample
    gap: float = 0.0  # of ``interval``, the seconds beyond one usual spacing when the spacing was over twice that
    unobserved: float = 0.0  # seconds since the previous sample beyond the gap limit: not charged


class SamplingState:
    """``entries`` maps a series key to ``[time, counter, start, interval, increment]``; a
    container's entry has two more: ``flags`` (``FRESH`` when that sample was an instance's
    first, ``CLOSED`` when it was written for an instance that had ended, see ``close``), the
    sample's working set (``gauge``) and CPU rate, which the closing sample charges for the
    instance's end.

    ``start`` None with a counter means the start is unknown (the entry was rebuilt from
    InfluxDB, which does not keep it): the container is taken as unchanged while its counter
    does not go back and its start does not lie after that sample.
    """

    def __init__(self, entries=None, cap_seconds=30.0, nominal_seconds=15.0, found=True, in_doubt=False):
        self.entries = entries or {}
        # False when Redis had no document or one in doubt (``collectors.staterebuild`` rebuilds it)
        self.found = found and not in_doubt
        self.in_doubt = in_doubt  # a run wrote points and died before it saved this state
        self.cycles = self.entries.pop(CYCLES_KEY, None) or []
        # The usual spacing of samples on the sources' clock: the median of the last cycles'.
        spacings = sorted(b - a for a, b in zip(self.cycles, self.cycles[1:], strict=False) if b > a)
        self.usual = max(spacings[len(spacings) // 2] if spacings else nominal_seconds, 1e-9)
        # The gap limit (``cap_seconds``, COLLECT_GAP_LIMIT_SECONDS) is in the collector's seconds;
        # on a source clock that runs faster, the same number of cycles spans more source time.
        self.cap = cap_seconds * max(1.0, self.usual / nominal_seconds) if nominal_seconds else cap_seconds
        self.nominal = nominal_seconds
        self.stepped_back = 0  # series whose source clock went back in this cycle

    def _previous(self, key, time):
        """The entry of ``key``, or None when there is none or ``time`` is older than it (the
        source's clock stepped back: the series starts again, and this is logged)."""
        previous = self.entries.get(key)
        if previous is not None and time < previous[0]:
            self.stepped_back += 1
            log.warning("the source clock of %s stepped back from %s to %s: its sampling starts again", key,
                        _iso(previous[0]), _iso(time))
            del self.entries[key]
            return None
        return previous

    @classmethod
    def load(cls, redis, cap_seconds, nominal_seconds, name="usage"):
        raw, in_doubt = redis.mget(STATE_KEY + name, IN_DOUBT_KEY + name)
        entries = orjson.loads(raw) if raw else {}
        return cls(entries, cap_seconds, nominal_seconds, found=raw is not None, in_doubt=in_doubt is not None)

    @staticmethod
    def begin(redis, name="usage"):
        """Mark the state in doubt: call it before the cycle writes its first point."""
        redis.set(IN_DOUBT_KEY + name, b"1")

    def save(self, redis, now, name="usage", also=None, sampled=True):
        """Save the state and clear the in-doubt mark, both or neither (one transaction);
        ``also(pipe)`` may queue more commands into that transaction. ``sampled`` False: the
        cycle saw no sample (every source out of reach), and ``now`` is an estimate of the
        sources' clock that must not teach the usual spacing of samples."""
        horizon = now - FORGET_AFTER_SECONDS
        self.entries = {k: v for k, v in self.entries.items() if v[0] >= horizon}
        if sampled and (not self.cycles or now > self.cycles[-1]):
            self.cycles = [*self.cycles[-(CYCLES_KEPT - 1):], now]
        pipe = redis.pipeline(transaction=True)
        pipe.set(STATE_KEY + name, orjson.dumps({**self.entries, CYCLES_KEY: self.cycles}))
        pipe.delete(IN_DOUBT_KEY + name)
        if also is not None:
            also(pipe)
        pipe.execute()

    def due(self, key, time, every):
        """True when series ``key`` should be written at ``time``: at most once per ``every`` seconds.

        For slow-moving gauges (volume usage) that need no interval; re-reading the sample
        already written says True again, so a re-run rewrites the same point.
        """
        previous = self._previous(key, time)
        if previous is not None and previous[0] != time and time - previous[0] < every:
            return False
        if previous is None or previous[0] != time:
            self.entries[key] = [time, None, None, 0.0, 0.0]
        return True

    def advance(self, key, time, start=None, counter=None, rate=None, finished=None, gauge=None,
                finished_from=None):
        """The ``Sample`` for a new observation of series ``key``.

        ``time`` and ``start`` are epoch seconds; ``counter`` is the cumulative counter (in the
        unit of the increment), ``rate`` the instantaneous rate used only when no counter
        history exists; ``finished`` is when the container's previous instance ended, if known;
        ``gauge`` (a container's working set) is kept for ``close``; ``finished_from`` is the
        start of the instance that ended at ``finished``.
        """
        previous = self._previous(key, time)
        fresh = False
        gap = unobserved = 0.0
        if previous is not None:
            prev_time, prev_counter, prev_start, prev_interval, prev_increment = previous[:5]
            if time == prev_time:
                return Sample(prev_interval, prev_increment, len(previous) > 5 and previous[5] == FRESH,
                              *(previous[8:10] if len(previous) > 8 else ()))
            if start is not None and start != prev_start and prev_time <= start <= time:
                # A new instance (the container restarted since the last sample) is charged from its
                # own start, and everything it used is in its own counter. The back-off before it
                # started ran nothing; the old instance's last seconds after the previous sample
                # (until ``finished``) are charged here too, at this sample's values. Its CPU of
                # that time is not in this counter: the pod's counter has it (collectors.usage).
                tail = finished - prev_time if self._ended_here(previous, finished, finished_from) \
                    and prev_time < finished <= start else 0
                interval = min(time - start + tail, self.cap)
                unobserved = time - start + tail - interval
                increment = counter if counter is not None else 0.0
                fresh = True
            else:
                interval, gap, unobserved = self._spacing(time - prev_time)
                if counter is None:
                    increment = 0.0
                elif (start == prev_start or prev_start is None) and prev_counter is not None \
                        and counter >= prev_counter:
                    # An unknown previous start (a state rebuilt from InfluxDB): the same instance,
                    # since its counter did not go back and it did not start after that sample.
                    increment = counter - prev_counter
                else:
                    increment = (rate or 0.0) * interval
        else:
            since_start = time - start if start is not None else None
            # Before the first saved cycle, what ran before kubemon watched is not charged.
            born_within = self.cap if self.cycles else 2 * self.usual
            # Born after the last cycle, however long ago (its node's kubelet or the API was out
            # of reach since): kubemon was watching, so its whole life is this sample's.
            unseen_birth = bool(self.cycles) and since_start is not None and start >= self.cycles[-1]
            if since_start is not None and 0 <= since_start and (since_start <= born_within or unseen_birth):
                # A container born since the last cycle: all it used is in its own counter; its
                # time is charged up to the gap limit and the rest reported unobserved.
                interval = min(float(since_start), self.cap)
                unobserved = since_start - interval
                increment = counter if counter is not None else 0.0
                fresh = True
            else:
                # First sight of a long-running series: it stands for one nominal period.
                interval = self.nominal
                increment = (rate or 0.0) * interval if counter is not None else 0.0
        if gauge is not None or fresh or gap or unobserved:
            # The flag makes a re-read of this sample say "fresh" again (a rerun rewrites the same points).
            # The rate kept for ``close`` is the last interval's mean where a counter gives it: a
            # steadier estimate of the instance's last seconds than one instantaneous reading.
            mean = increment / interval if counter is not None and interval > 0 else rate
            entry = [time, counter, start, interval, increment, FRESH if fresh else 0, gauge, mean]
            self.entries[key] = entry + [gap, unobserved] if gap or unobserved else entry
        else:
            self.entries[key] = [time, counter, start, interval, increment]
        return Sample(interval, increment, fresh, gap, unobserved)

    @staticmethod
    def _ended_here(previous, finished, finished_from):
        """Whether ``finished`` is the end of the instance ``previous`` sampled: not one closed
        already, nor a later instance that started and ended unseen between two samples (its
        seconds are unobservable; its CPU is in the pod's counter)."""
        if finished is None or (len(previous) > 5 and previous[5] == CLOSED):
            return False
        return finished_from is None or previous[2] is None or finished_from == previous[2]

    def _spacing(self, spacing):
        """``(interval, gap, unobserved)`` for ``spacing`` seconds since the series' previous sample.

        Up to the gap limit, the sample stands for all of it (charged from this sample's values);
        a spacing over twice the usual one is a gap, and the part beyond one usual spacing is
        reported as such; beyond the limit, the time is not charged but reported as unobserved.
        """
        interval = min(spacing, self.cap)
        gap = interval - self.usual if spacing > 2 * self.usual else 0.0
        return interval, gap, spacing - interval

    def close(self, key, time, finished=None, increment=None, finished_from=None):
        """``(Sample, gauge)`` for a container instance that ended since its last sample, seen at
        ``time`` without it; None when it has no open entry (never seen, or already closed, or
        seen at ``time``). The sample stands for the time from the last sample to ``finished``
        (to ``time`` if unknown), at the last sample's working set (``gauge``), and charges
        ``increment``: the CPU only the pod's counter saw, or when the pod is gone from the
        summary too, the last sample's rate over that time (an estimate). The entry's counter
        moves on by it, in case the container reappears as the same instance."""
        previous = self.entries.get(key)
        if previous is None or previous[0] >= time or (len(previous) > 5 and previous[5] == CLOSED):
            return None
        prev_time, prev_counter, start = previous[0], previous[1], previous[2]
        if finished_from is not None and start is not None and finished_from > start:
            # A later instance started and ended unseen: this one's end is unknown, and only what
            # was sampled is charged (the later one's CPU is in the pod's counter).
            end = prev_time
        elif finished is not None and (start is None or finished >= start):
            end = min(max(finished, prev_time), time)  # this instance's end (it may precede the last sample)
        else:
            end = time  # unknown, or an older instance's end: the status has not caught up yet
        interval = min(end - prev_time, self.cap)
        gauge = previous[6] if len(previous) > 6 else None
        if increment is None:
            increment = (previous[7] or 0.0) * interval if len(previous) > 7 else 0.0
        counter = prev_counter + increment if prev_counter is not None else None
        self.entries[key] = [time, counter, start, interval, increment, CLOSED, gauge, None]
        return Sample(interval, increment), gauge


def _iso(epoch):
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
