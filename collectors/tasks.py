"""Celery tasks: thin wrappers over ``collectors.cycles`` (testable without Celery).

Tasks take no arguments and are idempotent: re-running a cycle over the same source samples
rewrites the same points (DESIGN §3).
"""

from celery import group, shared_task
from django.conf import settings

from collectors import cycles
from collectors.gpu import Exporter
from collectors.shards import Shard


@shared_task(name="collectors.tasks.collect_usage", ignore_result=True)
def collect_usage():
    return cycles.run_usage_cycle(dispatch=_dispatch_shards).as_dict()


def _expires(cycle):
    """A shard not started within four of its cycle's intervals is dropped (the next cycle's shard
    covers its nodes' time, as after any failed cycle)."""
    return max(settings.COLLECT_SCHEDULE.get(cycle) or 15.0, 1.0) * 4


def _dispatch_shards(planned):
    """One task per shard, as a group."""
    group(collect_usage_shard.si(s.cycle, s.index, s.count, list(s.nodes)) for s in planned).apply_async(
        expires=_expires("usage"))


# Acks late and rejected when its worker dies (the settings' defaults, said again because a lost
# shard must come back): the broker redelivers it, and it rebuilds and rewrites only its own part.
@shared_task(name="collectors.tasks.collect_usage_shard", ignore_result=True, acks_late=True,
             reject_on_worker_lost=True)
def collect_usage_shard(cycle, index, count, nodes):
    return cycles.run_usage_shard(Shard(cycle, index, count, tuple(nodes))).as_dict()


@shared_task(name="collectors.tasks.collect_inventory", ignore_result=True)
def collect_inventory():
    return cycles.run_inventory_cycle().as_dict()


@shared_task(name="collectors.tasks.collect_gpu", ignore_result=True)
def collect_gpu():
    return cycles.run_gpu_cycle(dispatch=_dispatch_gpu_shards).as_dict()


def _dispatch_gpu_shards(work, stamp):
    """One task per GPU shard, as a group, each with its exporters and the cycle's slot."""
    group(collect_gpu_shard.si(s.cycle, s.index, s.count, list(s.nodes), [[e.url, e.kind, e.node] for e in part],
                               stamp) for s, part in work).apply_async(expires=_expires("gpu"))


# As collect_usage_shard: a GPU shard whose worker dies comes back and rewrites its own points on the same slot.
@shared_task(name="collectors.tasks.collect_gpu_shard", ignore_result=True, acks_late=True,
             reject_on_worker_lost=True)
def collect_gpu_shard(cycle, index, count, nodes, exporters, stamp):
    return cycles.run_gpu_shard(Shard(cycle, index, count, tuple(nodes), "gpu"),
                                [Exporter(*exporter) for exporter in exporters], stamp).as_dict()


@shared_task(name="collectors.tasks.rollup_hourly", ignore_result=True)
def rollup_hourly():
    return cycles.run_rollup_cycle().as_dict()


@shared_task(name="collectors.tasks.flush_temperatures", ignore_result=True)
def flush_temperatures():
    return cycles.run_temperature_flush().as_dict()


@shared_task(name="collectors.tasks.replay_spool", ignore_result=True)
def replay_spool():
    return cycles.run_spool_replay().as_dict()
