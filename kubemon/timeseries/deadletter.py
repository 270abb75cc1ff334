"""Points InfluxDB refused for good, kept with the reason instead of being dropped silently.

A field type conflict kubemon cannot resolve (a shard holds the field as a string or boolean), a
line InfluxDB cannot parse: retrying would be refused forever, and spooling would block the
spool. So the refused lines go to a Redis list with InfluxDB's own message, which names the
field and the measurement; ``/healthz`` counts them and ``manage.py deadletters`` lists,
replays or clears them. The list keeps the newest ``limit`` entries.
"""

import logging
import time

import orjson

from kubemon import keys

log = logging.getLogger(__name__)


class DeadLetters:
    def __init__(self, redis, key=keys.DEAD_LETTERS, limit=1000):
        self.redis = redis
        self.key = key
        self.limit = limit

    def keep(self, lines, error, policy, precision):
        entry = {"time": time.time(), "error": error, "policy": policy, "precision": precision, "lines": list(lines)}
        try:
            pipe = self.redis.pipeline()
            pipe.lpush(self.key, orjson.dumps(entry))
            pipe.ltrim(self.key, 0, self.limit - 1)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001  (the error is logged either way)
            log.error("could not keep %d refused lines in the dead-letter list: %s", len(entry["lines"]), exc)

    def entries(self):
        """Newest first: ``[{"time", "error", "policy", "precision", "lines"}, ...]``."""
        return [orjson.loads(raw) for raw in self.redis.lrange(self.key, 0, -1)]

    def __len__(self):
        return self.redis.llen(self.key)

    def clear(self):
        return self.redis.delete(self.key)
