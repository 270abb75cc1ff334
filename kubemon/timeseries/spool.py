"""A durable first-in, first-out spool for writes that failed while InfluxDB was unreachable.

Each entry is one batch: its retention policy, precision and zlib-compressed line protocol
(line protocol compresses about tenfold, so an hour-long outage of a 10,000-pod cluster fits in
a few hundred MB). Replay reads the oldest entry, writes it, and only then removes it: a worker
killed mid-replay writes that batch again, which InfluxDB absorbs because a point is identified
by measurement, tags and timestamp (DESIGN §3).

``peek`` returns ``(policy, precision, body, token)`` and ``pop(entry)`` removes exactly that
entry: if two replays overlap (the replay lock's lease lapsed under a stalled one), both write
the same batch and both remove it, and the batch behind it, which neither wrote, stays.
"""

import contextlib
import fcntl
import itertools
import os
import time
import zlib
from pathlib import Path

import orjson

from kubemon.redis import try_lock


def _encode(policy, precision, body):
    header = orjson.dumps({"rp": policy, "precision": precision})
    return header + b"\n" + zlib.compress(body.encode("utf-8"), 1)


def _decode(blob):
    header, _, compressed = blob.partition(b"\n")
    meta = orjson.loads(header)
    return meta["rp"], meta["precision"], zlib.decompress(compressed).decode("utf-8")


class RedisSpool:
    def __init__(self, redis_client, key):
        self.redis = redis_client
        self.key = key

    def exclusive(self):
        """Hold the replay lock, or yield False when another worker is replaying."""
        return try_lock(self.redis, self.key + ":replay-lock", 300)

    def push(self, policy, precision, body):
        self.redis.rpush(self.key, _encode(policy, precision, body))

    def peek(self):
        blob = self.redis.lindex(self.key, 0)
        return None if blob is None else (*_decode(blob), blob)

    def pop(self, entry):
        # By value, not LPOP: the first (oldest) copy of this very batch, none if another replay took it.
        self.redis.lrem(self.key, 1, entry[3])

    def __len__(self):
        return self.redis.llen(self.key)

    def clear(self):
        self.redis.delete(self.key)


class FileSpool:
    """One file per batch in a directory; names sort in arrival order."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        # Two streaming writers may spool at once: itertools.count hands out unique numbers.
        self._counter = itertools.count(1)

    @contextlib.contextmanager
    def exclusive(self):
        with open(self.directory / ".lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _entries(self):
        return sorted(p for p in self.directory.iterdir() if p.suffix == ".batch")

    def push(self, policy, precision, body):
        name = f"{time.time_ns():020d}-{os.getpid():08d}-{next(self._counter):08d}"
        tmp = self.directory / (name + ".tmp")
        tmp.write_bytes(_encode(policy, precision, body))
        # Rename is atomic: a reader never sees half a batch.
        tmp.rename(self.directory / (name + ".batch"))

    def peek(self):
        entries = self._entries()
        return (*_decode(entries[0].read_bytes()), entries[0]) if entries else None

    def pop(self, entry):
        entry[3].unlink(missing_ok=True)  # that batch's file; gone already if another replay took it

    def __len__(self):
        return len(self._entries())

    def clear(self):
        for entry in self._entries():
            entry.unlink(missing_ok=True)
