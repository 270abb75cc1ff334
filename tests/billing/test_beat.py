"""The monthly statements' beat entry is data in settings, and its settings are checked at start-up."""

import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent.parent


def test_last_months_statements_are_drafted_on_the_first_after_the_last_day_is_final():
    entry = settings.CELERY_BEAT_SCHEDULE["draft-statements"]
    assert entry["task"] == "billing.tasks.draft_last_month"
    schedule = entry["schedule"]
    assert (schedule.day_of_month, schedule.hour, schedule.minute) == ({1}, {4}, {10})


def test_an_unknown_idle_rule_is_a_configuration_error_not_a_traceback():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "BILLING_IDLE": "split", "DEBUG": "true"},
    )
    assert result.returncode == 2
    assert "configuration error: BILLING_IDLE='split' must be keep or share" in result.stderr
    assert "Traceback" not in result.stderr
