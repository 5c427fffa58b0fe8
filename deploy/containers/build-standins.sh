#!/usr/bin/env bash
# Local stand-ins for the three public images deploy/compose.yaml names, for a machine
# that reaches Debian's package mirror but no image registry: a Debian bookworm root file
# system made with debootstrap and imported as strongroom-standin/debian:bookworm, then
# python:3.11-slim, postgres:16 and redis:7 built on it (standins/*/Dockerfile). They are
# not the official images (PostgreSQL is 15, Redis 7.0, from Debian); an image of one of
# these names already present is rebuilt only with --force. The host's own certificate
# authorities (/usr/local/share/ca-certificates) are copied in, and pip is told to use the
# system's bundle, so a TLS-inspecting proxy that the host trusts works in the builds.
#   MIRROR   the Debian mirror (default: http://deb.debian.org/debian)
#   WORKDIR  where the root file system is made (default: /var/tmp/strongroom-standins)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
DOCKER="${DOCKER:-docker}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
WORKDIR="${WORKDIR:-/var/tmp/strongroom-standins}"
force=0
[ "${1:-}" = --force ] && force=1

present() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

base=strongroom-standin/debian:bookworm
if [ "$force" = 1 ] || ! present "$base"; then
  rootfs="$WORKDIR/rootfs"
  rm -rf "$rootfs"
  mkdir -p "$WORKDIR"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$WORKDIR/debootstrap.log"
  echo "deb $MIRROR bookworm main" >"$rootfs/etc/apt/sources.list"
  # The certificate authorities this machine adds to Debian's (a proxy that inspects
  # TLS signs with one): the stand-ins trust them as the host does.
  mkdir -p "$rootfs/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" \
    2>/dev/null || true
  tar -C "$rootfs" -c . | "$DOCKER" import - "$base" >/dev/null
  rm -rf "$rootfs"
fi
for pair in python:python:3.11-slim postgres:postgres:16 redis:redis:7; do
  dir="${pair%%:*}" tag="${pair#*:}"
  if [ "$force" = 1 ] || ! present "$tag"; then
    "$DOCKER" build -q -t "$tag" "$here/standins/$dir" >/dev/null
  fi
  echo "$tag: $("$DOCKER" image inspect -f '{{.Id}}' "$tag")"
done
