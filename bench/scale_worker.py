"""The Celery application for bench/bench_scale.py's workers: kubemon's own, plus CPU accounting.

    PYTHONPATH=bench celery -A scale_worker worker ...   (bench_scale.py starts it)

The workers run kubemon's real tasks unchanged; this module only wraps the functions that make
up a usage shard's phases with ``time.thread_time()``, so that each phase's CPU is counted in the
thread that spends it (the kubelet reads run in 16 fetch threads, the writes in two writer
threads, decoding, parsing and serialising in the task's thread). After each task the worker
adds its totals to one Redis hash (``BENCH_SCALE_KEY`` + its pid), which the benchmark reads.
The phases:

- fetch: reading each kubelet's summary (``KubeClient.node_summary_raw``, in the fetch threads);
- decode: the summaries' JSON decoding (the task thread's time in ``collect_pod_usage`` that is
  neither parse nor serialise);
- parse: ``summary_points`` (points from a summary, sampling state, counters);
- serialise: ``_drain`` (line protocol, the open hour's running sums, handing batches over);
- write: ``TimeseriesStore.write_lines`` (the HTTP writes to InfluxDB, in the writer threads);
- state: loading and saving the shard's sampling state (Redis).

Everything else a worker spends (Celery, the pod watch, the shard's report) is the process's CPU
less these, which the benchmark reads from ``/proc``.
"""

import functools
import os
import threading
import time

from celery.signals import task_postrun, task_prerun

from kubemon.celery import app

__all__ = ["app"]

BENCH_SCALE_KEY = "kubemon:bench:scale:"  # + worker pid: hash of phase -> CPU seconds, tasks, shard tasks

_cpu = {}
_lock = threading.Lock()
_installed = False


def _add(phase, seconds):
    with _lock:
        _cpu[phase] = _cpu.get(phase, 0.0) + seconds


def _counted(phase, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            _add(phase, time.thread_time() - started)
    return wrapper


def install():
    """Wrap the phases' functions (once, in the process that runs the tasks)."""
    global _installed
    if _installed:
        return
    _installed = True
    from collectors import cycles, staterebuild, usage
    from collectors.kube import KubeClient
    from collectors.sampling import SamplingState
    from kubemon.timeseries.store import TimeseriesStore

    KubeClient.node_summary_raw = _counted("fetch", KubeClient.node_summary_raw)
    usage.summary_points = _counted("parse", usage.summary_points)
    usage._drain = _counted("serialise", usage._drain)
    TimeseriesStore.write_lines = _counted("write", TimeseriesStore.write_lines)
    # The task thread's whole time in the collection; decode = this - parse - serialise.
    cycles.collect_pod_usage = _counted("collect_thread", cycles.collect_pod_usage)
    cycles.load_sampling = _counted("state", staterebuild.load_sampling)
    SamplingState.save = _counted("state", SamplingState.save)


@task_prerun.connect
def _before(task=None, **kwargs):
    install()


@task_postrun.connect
def _after(task=None, **kwargs):
    from kubemon.redis import get_redis

    with _lock:
        figures = dict(_cpu)
    figures["decode"] = figures.get("collect_thread", 0.0) - figures.get("parse", 0.0) - figures.get("serialise", 0.0)
    redis = get_redis()
    key = BENCH_SCALE_KEY + str(os.getpid())
    pipe = redis.pipeline()
    pipe.hset(key, mapping={name: repr(value) for name, value in figures.items()})
    pipe.hincrby(key, "tasks", 1)
    if task is not None and task.name == "collectors.tasks.collect_usage_shard":
        pipe.hincrby(key, "shard_tasks", 1)
    pipe.execute()
