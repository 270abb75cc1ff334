#!/usr/bin/env bash
# Stop what ensure-services.sh and the demo started (never a system-wide service).
cd "$(dirname "$0")/../.."
if [ -f .run/redis/redis.pid ]; then kill "$(cat .run/redis/redis.pid)" 2>/dev/null || true; fi
if [ -d .run/influxdb ]; then .venv/bin/python deploy/local/influxdb_server.py stop --state .run/influxdb; fi
rm -rf .run/redis
