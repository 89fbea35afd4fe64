#!/bin/sh
# The S3-compatible bucket side of backups, run with rclone in its own container
# of the backup pod (the PostgreSQL image has no S3 client):
#   bucket.sh upload   after the dump (which runs as the init container): copy
#                      the archive in BACKUP_DIR to the bucket, then keep the
#                      newest BACKUP_RETENTION archives there
#   bucket.sh fetch    as the init container of a restore: copy RESTORE_ARCHIVE
#                      (empty: the newest) from the bucket into BACKUP_DIR
# The remote "bucket" is configured by RCLONE_CONFIG_BUCKET_* variables, the
# keys read from the files of their Secret in BUCKET_KEYS_DIR; BUCKET_PATH is
# the bucket and prefix.
set -eu
RCLONE_CONFIG_BUCKET_ACCESS_KEY_ID=$(cat "$BUCKET_KEYS_DIR/AWS_ACCESS_KEY_ID")
RCLONE_CONFIG_BUCKET_SECRET_ACCESS_KEY=$(cat "$BUCKET_KEYS_DIR/AWS_SECRET_ACCESS_KEY")
export RCLONE_CONFIG_BUCKET_ACCESS_KEY_ID RCLONE_CONFIG_BUCKET_SECRET_ACCESS_KEY

fail() {
  printf '{"level": "ERROR", "message": "%s"}\n' "$1"
  exit 2
}

remote="bucket:$BUCKET_PATH"
# rclone's error on one line, without double quotes or backslashes (its errors span lines).
rclone_error() {
  grep -v 'NOTICE: Config file' /tmp/rclone.err | tr -d '\\' | tr '\n\t"' "  '" | sed 's/  */ /g' | tail -c 400
}
# archives: this database's archives in the bucket, into /tmp/archives, oldest
# first (their names sort by time). Not in a pipeline, so that a failure ends the script.
archives() {
  rclone lsf --files-only --include "$PGDATABASE-*.dump" "$remote" 2>/tmp/rclone.err >/tmp/archives.ls ||
    fail "cannot list $BUCKET_PATH at $RCLONE_CONFIG_BUCKET_ENDPOINT: $(rclone_error)"
  sort /tmp/archives.ls >/tmp/archives
}

case "${1:-}" in
  upload)
    archive=$(ls -1 "$BACKUP_DIR"/"$PGDATABASE"-*.dump 2>/dev/null | sort | tail -n 1)
    [ -n "$archive" ] || fail "the dump left no archive in $BACKUP_DIR"
    name=$(basename "$archive")
    # One PUT (or multipart upload) that the bucket shows only once complete; rclone checks the checksum.
    rclone copyto "$archive" "$remote/$name" 2>/tmp/rclone.err ||
      fail "upload of $name to $BUCKET_PATH at $RCLONE_CONFIG_BUCKET_ENDPOINT failed: $(rclone_error)"
    archives
    sort -r /tmp/archives | tail -n "+$((BACKUP_RETENTION + 1))" >/tmp/expired
    while read -r old; do
      rclone deletefile "$remote/$old" 2>/tmp/rclone.err ||
        fail "cannot delete the old archive $old from $BUCKET_PATH: $(rclone_error)"
    done </tmp/expired
    archives
    kept=$(wc -l </tmp/archives)
    printf '{"level": "INFO", "message": "backup uploaded", "archive": "%s", "bytes": %s, "kept": %s, "bucket": "%s"}\n' \
      "$name" "$(wc -c <"$archive")" "$kept" "$BUCKET_PATH"
    ;;
  fetch)
    archives
    if [ -z "${RESTORE_ARCHIVE:-}" ]; then
      name=$(tail -n 1 /tmp/archives)
      [ -n "$name" ] || fail "no archive in $BUCKET_PATH: run a backup first"
    else
      name=$(basename "$RESTORE_ARCHIVE")
      grep -qxF "$name" /tmp/archives ||
        fail "archive $name not found in $BUCKET_PATH; available: $(tr '\n' ' ' </tmp/archives)"
    fi
    rclone copyto "$remote/$name" "$BACKUP_DIR/$name" 2>/tmp/rclone.err ||
      fail "download of $name from $BUCKET_PATH failed: $(rclone_error)"
    printf '{"level": "INFO", "message": "archive fetched", "archive": "%s", "bucket": "%s"}\n' "$name" "$BUCKET_PATH"
    ;;
  *) fail "usage: bucket.sh upload|fetch" ;;
esac
