"""The beat schedule is data in settings; every entry must name a task that exists."""

import subprocess
import sys
from pathlib import Path

from django.conf import settings

from kubemon.celery import app

ROOT = Path(__file__).resolve().parent.parent


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name


def test_collection_entries_expire_just_under_their_interval():
    for name in ("collect-usage", "collect-inventory", "collect-gpu", "collect-rollup"):
        entry = settings.CELERY_BEAT_SCHEDULE[name]
        assert 0 < entry["options"]["expires"] < entry["schedule"].total_seconds()


def test_namespace_assignment_runs_as_often_as_the_inventory():
    entry = settings.CELERY_BEAT_SCHEDULE["assign-namespaces"]
    assert entry["task"] == "billing.tasks.assign_namespaces"
    assert entry["schedule"] == settings.CELERY_BEAT_SCHEDULE["collect-inventory"]["schedule"]
    assert 0 < entry["options"]["expires"] < entry["schedule"].total_seconds()


def test_a_malformed_setting_is_a_message_not_a_traceback():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "COLLECT_USAGE_SECONDS": "fast", "DEBUG": "true"},
    )
    assert result.returncode == 2
    assert "configuration error: COLLECT_USAGE_SECONDS='fast' is not a number" in result.stderr
    assert "Traceback" not in result.stderr
