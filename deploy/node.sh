#!/usr/bin/env bash
# One node of a scaled deployment: a home of its own holding copies of the shared home's
# config, policy and keys (its logs, served.json and alerts stay its own), then the server.
#   SHARED_HOME  NODE_HOME  PORT (default 8000)  WORKERS (default 2)  HOST (default 0.0.0.0)
set -euo pipefail
: "${SHARED_HOME:?}" "${NODE_HOME:?}"
mkdir -p "$NODE_HOME"
chmod 700 "$NODE_HOME"
for item in config.toml policy.yaml keys; do
  rm -rf "${NODE_HOME:?}/$item"
  cp -a "$SHARED_HOME/$item" "$NODE_HOME/$item"
done
export STRONGROOM_HOME="$NODE_HOME"
exec "${STRONGROOM:-strongroom}" serve --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
  --workers "${WORKERS:-2}"
