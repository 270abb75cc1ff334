"""A live index of the cluster's pods: one LIST, then a WATCH that keeps it current.

At 10,000 pods, listing every pod costs each usage cycle a 33 MB response, its decoding and
the index built from it: about an eighth of the cycle (docs/benchmarks.md). DESIGN §10's next
step is to list once and then follow the changes, as Kubernetes' own informers do.

``PodWatch.start()`` lists in the caller's thread (so an unreachable API fails the cycle as a
list would), then a daemon thread follows ``watch=1`` from the list's resourceVersion and
applies each ADDED, MODIFIED and DELETED to the index. Each watch asks the server to end it
after ``watch_seconds`` and is then resumed from the last resourceVersion (bookmarks keep that
current); a connection silent for longer than that is taken as lost. A 410 Expired, a lost
connection or an API outage makes it list again, and so does ``resync_seconds`` without a list,
as a safety net. ``index()`` hands a cycle a copy of the index, or None while it is not in sync:
the cycle then lists, as it would without a watch.
"""

import logging
import threading
import time

from collectors.kubeerrors import KubeAccessDenied, KubeError
from collectors.podspec import index_pods, pod_info
from collectors.quantity import QuantityError

log = logging.getLogger(__name__)


class PodWatch:
    def __init__(self, kube, watch_seconds=60, resync_seconds=1800, backoff=5.0):
        self.kube = kube
        self.watch_seconds = watch_seconds
        self.resync_seconds = resync_seconds
        self.backoff = backoff
        self._lock = threading.Lock()
        self._index = {}
        self._synced = False
        self._version = ""
        self._listed_at = 0.0
        self._relist = False
        self._stopped = threading.Event()
        self._thread = None
        self.denied = ""  # why the API refused the watch; cycles then list, as without a watch
        self.events = 0  # applied since start
        self.lists = 0  # full lists since start: the first, then one per expiry, outage or resync

    # --- what a cycle calls ---
    def start(self):
        """List now (raises ``KubeError``), then follow the changes in the background."""
        self._list()
        self._thread = threading.Thread(target=self._run, name="kubemon-pod-watch", daemon=True)
        self._thread.start()
        return self

    def index(self):
        """``{(namespace, name): PodInfo}`` as of the last event, or None when not in sync."""
        with self._lock:
            return dict(self._index) if self._synced else None

    def stop(self, timeout=5.0):
        """Stop following; the thread ends with its current watch (it is a daemon either way)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    # --- the background thread ---
    def _list(self):
        pods, version = self.kube.list_pods_with_version()
        index = index_pods(pods)
        with self._lock:
            self._index = index
            self._version = version
            self._synced = True
            self._listed_at = time.monotonic()
            self._relist = False
            self.lists += 1

    def _run(self):
        while not self._stopped.is_set():
            try:
                if self._needs_list():
                    self._list()
                self._follow()
            except KubeAccessDenied as exc:
                # Listing every few seconds to retry would cost more than the cycles' own lists.
                log.error("pod watch disabled, the cycles list pods instead: %s", exc)
                with self._lock:
                    self._synced = False
                    self.denied = str(exc)
                return
            except KubeError as exc:
                with self._lock:
                    self._synced = False
                log.warning("pod watch interrupted, listing again in %.0f s: %s", self.backoff, exc)
                self._stopped.wait(self.backoff)
                with self._lock:
                    self._relist = True

    def _needs_list(self):
        with self._lock:
            return (self._relist or not self._synced
                    or time.monotonic() - self._listed_at >= self.resync_seconds)

    def _follow(self):
        """Apply events until the server ends the watch, the index needs a list, or ``stop()``."""
        for kind, payload in self.kube.watch_pods(self._version, self.watch_seconds, self._stopped):
            if kind == "EXPIRED":
                log.info("pod watch expired (%s); listing again", payload)
                with self._lock:
                    self._relist = True
                return
            with self._lock:
                if kind == "BOOKMARK":
                    self._version = payload
                    continue
                pod = payload
                key = (pod.metadata.namespace, pod.metadata.name)
                if kind == "DELETED":
                    self._index.pop(key, None)
                else:
                    try:
                        self._index[key] = pod_info(pod)
                    except (TypeError, ValueError, QuantityError) as exc:
                        log.warning("skipping pod %s/%s: %s", key[0], key[1] or "?", exc)
                if pod.metadata.resourceVersion:
                    self._version = pod.metadata.resourceVersion
                self.events += 1
            if self._stopped.is_set() or self._needs_list():
                return
