"""Metric queries over InfluxDB: the catalogue, time windows, and the query engine.

The API's ``POST /api/<metric>`` is a thin view over ``engine``; the web dashboards and the
billing statements can call the same functions (e.g. ``engine.usage_by_namespace``).
"""
