#!/usr/bin/env bash
# Make sure Node.js and npm exist (the front end's build, docs/web.md), installing Debian's
# packages with apt when `npm` is missing. Same as_root/apt pattern as ensure-services.sh.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "need root to run: $*" >&2; return 1; fi; }

if ! command -v npm >/dev/null 2>&1; then
  echo "installing Node.js and npm (Debian packages nodejs, npm)..."
  as_root apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q nodejs npm >/dev/null
fi
