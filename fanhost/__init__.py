"""The fan host: a small fail-safe GPIO server on the Raspberry Pi that drives one fan through an
L293D (docs/fan.md). It runs without Django and imports nothing of kubemon; `python -m fanhost`.

Safe state = fan on at full speed: from start-up until the portal's first heartbeat, when the
heartbeat stops for ``--heartbeat-timeout`` seconds, and on SIGTERM.
"""

__version__ = "0.1.0"
