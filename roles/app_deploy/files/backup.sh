#!/bin/sh
# Dump the database into a custom-format archive in BACKUP_DIR, check that
# pg_restore can read it, then keep the newest BACKUP_RETENTION archives.
set -eu
. "$(dirname "$0")/lib.sh"
wait_for_database
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
