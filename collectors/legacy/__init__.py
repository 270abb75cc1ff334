"""The legacy import (``manage.py importlegacy``): Heapster's and the nvml GPU agent's history,
read from their InfluxDB and written in kubemon's schema (docs/migration.md).

- ``catalogue``: which Heapster measurements are imported, at which level, into which fields;
- ``reader``: the legacy server, read in hour chunks with bound-parameter InfluxQL;
- ``samples``: rows to samples with their ``interval_seconds`` from the samples' spacing;
- ``writer``: samples to raw points, or directly to hourly rollup points for hours past the raw
  retention;
- ``checkpoint``: progress per measurement in a JSON file, so an interrupted import resumes;
- ``finish``: the rollup of the raw hours and the namespace and pod tiers afterwards;
- ``namespaces``: the namespaces met and their tenant assignment (through billing's command);
- ``importer``: the whole run; ``progress``: the progress bar.
"""
