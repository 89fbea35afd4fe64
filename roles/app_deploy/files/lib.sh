# Sourced by backup.sh and restore.sh: the password from its file into libpq's
# PGPASSWORD (the other PG* variables come from the pod), fail() that prints a
# JSON error line, and wait_for_database.
PGPASSWORD=$(cat "$PGPASSWORD_FILE")
export PGPASSWORD

fail() {
  printf '{"level": "ERROR", "message": "%s"}\n' "$1"
  exit 2
}

# A new pod's address can reach the network policy engine a moment after the
# pod starts (connections are refused until then): wait up to 60 s.
wait_for_database() {
  tries=0
  until pg_isready --quiet --timeout=3 >/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 30 ] || fail "the database $PGHOST:$PGPORT did not answer within 60 s"
    sleep 2
  done
}
