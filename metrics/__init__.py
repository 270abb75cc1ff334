"""The read side: metric queries over InfluxDB, as plain functions (no HTTP).

- ``catalogue``: Heapster's metric names mapped to the schema; ``kinds``: one strategy per kind.
- ``window``: parsing the legacy time formats into ``[begin, end)`` windows.
- ``planner``: which parts of a window come from the rollup, the day cache and raw data (no I/O).
- ``engine``: aggregates per namespace and per pod (``aggregate``, ``usage_by_namespace``...).
- ``raw``: raw rows, newest first; ``daycache`` and ``warm``: finished days kept in Redis.

``api/`` serves them over HTTP; ``web/`` and ``billing/`` call the same functions.
"""
