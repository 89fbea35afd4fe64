#!/bin/sh
# Restore RESTORE_ARCHIVE (a file name in BACKUP_DIR; empty: the newest) into
# the database, creating the database first when it was dropped. One
# transaction: a restore that fails leaves the database as it was.
set -eu
. "$(dirname "$0")/lib.sh"
if [ -z "${RESTORE_ARCHIVE:-}" ]; then
  archive=$(ls -1 "$BACKUP_DIR"/"$PGDATABASE"-*.dump 2>/dev/null | sort | tail -n 1)
  [ -n "$archive" ] || fail "no archive in $BACKUP_DIR: run a backup first"
else
  archive="$BACKUP_DIR/$(basename "$RESTORE_ARCHIVE")"
  if [ ! -f "$archive" ]; then
    fail "archive $(basename "$RESTORE_ARCHIVE") not found; available: $(ls -1 "$BACKUP_DIR" | grep '\.dump$' | tr '\n' ' ')"
  fi
fi
wait_for_database
pg_restore --list "$archive" >/dev/null || fail "$(basename "$archive") is not a readable pg_dump archive"
exists=$(psql --no-password --dbname=postgres --tuples-only --no-align \
  --command="SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'")
if [ "$exists" != 1 ]; then
  createdb --no-password --maintenance-db=postgres "$PGDATABASE"
fi
pg_restore --no-password --dbname="$PGDATABASE" --clean --if-exists --no-owner --single-transaction \
  --exit-on-error "$archive"
printf '{"level": "INFO", "message": "database restored", "archive": "%s", "created": %s}\n' \
  "$(basename "$archive")" "$([ "$exists" = 1 ] && echo false || echo true)"
