#!/bin/sh
# Dump the database into a custom-format archive in BACKUP_DIR, check that
# pg_restore can read it, then keep the newest BACKUP_RETENTION archives.
# The connection comes from libpq's PG* variables; the password from a file.
set -eu
PGPASSWORD=$(cat "$PGPASSWORD_FILE")
export PGPASSWORD
fail() {
  printf '{"level": "ERROR", "message": "%s"}\n' "$1"
  exit 2
}
# A new pod's address can reach the network policy engine a moment after the
# pod starts (connections are refused until then): wait for the database.
tries=0
until pg_isready --quiet --timeout=3 >/dev/null; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || fail "the database $PGHOST:$PGPORT did not answer within 60 s"
  sleep 2
done
stamp=$(date -u +%Y%m%dT%H%M%SZ)
archive="$BACKUP_DIR/$PGDATABASE-$stamp.dump"
# A dump that stops half-way leaves a .partial file, never a .dump that looks whole.
rm -f "$BACKUP_DIR"/*.partial
pg_dump --format=custom --compress=6 --no-password --file "$archive.partial"
pg_restore --list "$archive.partial" >/dev/null
mv "$archive.partial" "$archive"
# Archive names sort by time: keep the newest BACKUP_RETENTION.
ls -1 "$BACKUP_DIR"/"$PGDATABASE"-*.dump | sort -r | tail -n "+$((BACKUP_RETENTION + 1))" | while read -r old; do
  rm -f -- "$old"
done
kept=$(ls -1 "$BACKUP_DIR"/"$PGDATABASE"-*.dump | wc -l)
printf '{"level": "INFO", "message": "backup written", "archive": "%s", "bytes": %s, "kept": %s}\n' \
  "$(basename "$archive")" "$(wc -c <"$archive")" "$kept"
