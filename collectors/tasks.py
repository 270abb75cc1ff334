"""Celery tasks: thin wrappers over ``collectors.cycles`` (testable without Celery).

Tasks take no arguments and are idempotent: re-running a cycle over the same source samples
rewrites the same points (DESIGN §3).
"""

from celery import shared_task

from collectors import cycles


@shared_task(name="collectors.tasks.collect_usage", ignore_result=True)
def collect_usage():
    return cycles.run_usage_cycle().as_dict()


@shared_task(name="collectors.tasks.collect_inventory", ignore_result=True)
def collect_inventory():
    return cycles.run_inventory_cycle().as_dict()


@shared_task(name="collectors.tasks.collect_gpu", ignore_result=True)
def collect_gpu():
    return cycles.run_gpu_cycle().as_dict()


@shared_task(name="collectors.tasks.rollup_hourly", ignore_result=True)
def rollup_hourly():
    return cycles.run_rollup_cycle().as_dict()


@shared_task(name="collectors.tasks.flush_temperatures", ignore_result=True)
def flush_temperatures():
    return cycles.run_temperature_flush().as_dict()


@shared_task(name="collectors.tasks.replay_spool", ignore_result=True)
def replay_spool():
    return cycles.run_spool_replay().as_dict()
