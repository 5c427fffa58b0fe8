#!/bin/bash
# As the official redis image: as the redis user, and a server started without a config
# file answers other containers (Redis's protected mode would refuse them).
set -euo pipefail
if [ "${1:-}" = redis-server ]; then
  if [[ "${2:-}" != *.conf && " $* " != *" --protected-mode "* ]]; then
    set -- "$@" --protected-mode no
  fi
  if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
