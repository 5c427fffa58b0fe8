#!/usr/bin/env bash
# One-shot set-up of a scaled Strongroom deployment: the shared home every node copies
# (config, policy, vault and signing keys), the databases' schemas, and a witness of our
# own that holds the journal's checkpoints. Idempotent: a second run changes nothing.
#
#   SHARED_HOME   the home the nodes copy (a volume only the set-up and the nodes mount)
#   WITNESS_HOME  the witness's own home (its key never leaves it)
#   DATABASE_URL  JOURNAL_URL  REDIS_URL  the shared services
#   DATABASE_PASSWORD_FILE  a file holding the PostgreSQL password, for URLs that name
#                 none (a Compose secret, /run/secrets/...): config.toml names the file,
#                 never the password, and every node reads it from the same path
#   WITNESS_URL   where the nodes reach the witness
#   WITNESS_NAME  the witness's key name (default witness.local/w1)
#   PUBLIC_URL    the address clients reach the load balancer at (the tokens' issuer)
#   MODE          production (default) or demo
#   REDIS_PREFIX  the deployment's namespace in Redis (default sr:)
#   PYTHON        the Python that has strongroom installed (default python3)
set -euo pipefail
: "${SHARED_HOME:?}" "${WITNESS_HOME:?}" "${DATABASE_URL:?}" "${JOURNAL_URL:?}"
: "${REDIS_URL:?}" "${WITNESS_URL:?}" "${PUBLIC_URL:?}"
WITNESS_NAME="${WITNESS_NAME:-witness.local/w1}"
MODE="${MODE:-production}"
STRONGROOM="${STRONGROOM:-strongroom}"

export STRONGROOM_HOME="$SHARED_HOME"
secret=()
if [ -n "${DATABASE_PASSWORD_FILE:-}" ]; then
  secret=(--database-password-file "$DATABASE_PASSWORD_FILE"
    --journal-password-file "$DATABASE_PASSWORD_FILE")
fi
$STRONGROOM init --database "$DATABASE_URL" --journal "$JOURNAL_URL" --redis "$REDIS_URL" \
  --mode "$MODE" "${secret[@]}"
if [ ! -e "$WITNESS_HOME/witness.toml" ]; then
  $STRONGROOM witness init --home "$WITNESS_HOME" --name "$WITNESS_NAME" \
    --log-key "$(cat "$SHARED_HOME/keys/checkpoint.vkey")" >/dev/null
fi
WITNESS_KEY="$(cat "$WITNESS_HOME/witness.vkey")"

# The config's own writer changes just these lines (and validates the result).
"${PYTHON:-python3}" - "$SHARED_HOME" "$WITNESS_URL $WITNESS_KEY" "$PUBLIC_URL" \
  "${REDIS_PREFIX:-sr:}" <<'PY'
import sys
from strongroom.config import Home
home, witness, public, prefix = sys.argv[1:5]
Home(home).update_config(witnesses=[witness], issuer=public, redis_prefix=prefix)
PY
echo "shared home ready at $SHARED_HOME; witness key $WITNESS_KEY"
