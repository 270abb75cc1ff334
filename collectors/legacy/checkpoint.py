"""The import's checkpoint: a JSON file, one entry per legacy measurement (and per derived field).

A file rather than Redis: it belongs to one operator's migration, survives a Redis flush, can be
read (``cat``) and deleted (``--restart``), and needs no key in ``kubemon/keys.py``. It is
replaced atomically (written beside, fsynced, renamed), so an interrupted import leaves either
the old or the new checkpoint, never half of one.

Each job's ``done_until`` is the hour up to which every point of it is written; the import
writes whole hours and moves ``done_until`` only after an hour's points are all written, so an
hour that an interruption or an error leaves half-written is always at or after ``done_until``,
and the next run writes it again (the same points: idempotent). Its ``spacing`` (the usual
spacing found in the first chunk) is kept so that a resumed run computes the same intervals.
"""

import json
import os
import tempfile
from pathlib import Path

VERSION = 1


def default_path(url, database):
    """``.importlegacy/<host>_<port>_<database>.json`` in the current directory."""
    host = url.split("://", 1)[-1].split("/", 1)[0].replace(":", "_")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{host}_{database}")
    return Path(".importlegacy") / f"{safe}.json"


class Checkpoint:
    def __init__(self, path, identity, enabled=True):
        self.path = Path(path)
        self.identity = identity  # url, database, since, until: what the progress is of
        self.enabled = enabled  # a dry run keeps it in memory only
        self.data = {"version": VERSION, "identity": identity, "jobs": {}, "namespaces": {},
                     "raw_hours": None, "hourly_hours": None, "rolled_until": None, "finished": False}

    @classmethod
    def open(cls, path, identity, restart=False, enabled=True):
        """The checkpoint at ``path``, or a fresh one; refuses one made for another window or server."""
        checkpoint = cls(path, identity, enabled)
        if restart or not enabled or not checkpoint.path.exists():
            return checkpoint
        try:
            data = json.loads(checkpoint.path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"the checkpoint {checkpoint.path} cannot be read ({exc}): delete it or pass --restart")
        if data.get("version") != VERSION or data.get("identity") != identity:
            theirs = data.get("identity") or {}
            raise ValueError(
                f"the checkpoint {checkpoint.path} belongs to another import "
                f"({', '.join(f'{k}={v}' for k, v in sorted(theirs.items()))}): run that one again to resume it, "
                "or pass --restart to start this one from the beginning, or --checkpoint another file")
        checkpoint.data = data
        return checkpoint

    @property
    def resumed(self):
        return any(job.get("done_until") for job in self.data["jobs"].values())

    def job(self, name):
        return self.data["jobs"].setdefault(name, {"done_until": None, "spacing": None, "rows": 0, "points": 0,
                                                   "hourly_points": 0, "malformed": 0, "skipped_hours": 0,
                                                   "finished": False, "note": None})

    def widen(self, name, first, end):
        """Record that hours [first, end) (epoch s) received points of policy ``name``."""
        span = self.data[name]
        self.data[name] = [min(span[0], first), max(span[1], end)] if span else [first, end]

    def add_namespaces(self, namespaces, label_values):
        known = self.data["namespaces"]
        for namespace in namespaces:
            known.setdefault(namespace, {})
        for namespace, values in label_values.items():
            entry = known.setdefault(namespace, {})
            for value, count in values.items():
                entry[value] = entry.get(value, 0) + count

    def save(self):
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(self.data, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
