"""``manage.py simcluster``: run the simulated Kubernetes cluster (``simcluster/``).

A thin wrapper: the options and their validation are the simulator's own (shared with
``python -m simcluster``); see docs/simulator.md.
"""

from django.core.management.base import BaseCommand, CommandError

from simcluster import ConfigError, add_arguments, options_from_namespace
from simcluster.cli import DESCRIPTION, run


class Command(BaseCommand):
    help = DESCRIPTION
    # the simulator needs neither the database nor the project's checks; skipping them lets it
    # start before migrations have run (make demo starts it first)
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        try:
            opts = options_from_namespace(options)
        except ConfigError as e:
            raise CommandError(str(e)) from None
        status = run(opts)
        if status:
            raise CommandError(f"simcluster stopped with status {status}", returncode=status)
