"""Django sees the simulator only as the home of ``manage.py simcluster``.

Nothing in ``simcluster/__init__.py`` or the modules it imports touches Django: ``python -m
simcluster`` runs in a virtualenv that has only orjson. Django loads this module and the
management command when the project lists the app; no production module imports the package.
"""

from django.apps import AppConfig


class SimclusterConfig(AppConfig):
    name = "simcluster"
    verbose_name = "Simulated cluster (development and tests)"
