#!/bin/sh
# Dumps Harbor's PostgreSQL database into the backup volume and keeps the newest $RETAIN dumps.
#
# The connection comes from libpq's own variables (PGHOST, PGPORT, PGDATABASE, PGUSER,
# PGSSLMODE, PGPASSWORD), so nothing secret is ever on a command line or in the output.
#
#   BACKUP_DIR             where dumps are written (default /backup)
#   RETAIN                 how many dumps to keep, newest first (default 14)
#   READY_TIMEOUT_SECONDS  how long to wait for the server to accept connections (default 300)
#
# A dump is named <database>-<UTC time, YYYYMMDDTHHMMSSZ>.dump. It is written under a hidden
# temporary name, read back to its end with pg_restore, and only then renamed, so that an
# interrupted or cut-off run never leaves a file that looks like a dump. Retention only removes
# files of exactly that name pattern: dumps copied there under other names are left alone.
set -eu

BACKUP_DIR="${BACKUP_DIR:-/backup}"
RETAIN="${RETAIN:-14}"
READY_TIMEOUT_SECONDS="${READY_TIMEOUT_SECONDS:-300}"
# file names sort by time only in byte order
LC_ALL=C
export LC_ALL

log() {
  printf '%s backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"
}

fail() {
  printf '%s backup: error: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
  exit 1
}

is_count() {
  case "$1" in
    '' | *[!0-9]*) return 1 ;;
    *) [ "$1" -ge 1 ] ;;
  esac
}

is_count "$RETAIN" || fail "RETAIN must be a whole number of at least 1, got '$RETAIN'"
is_count "$READY_TIMEOUT_SECONDS" ||
  fail "READY_TIMEOUT_SECONDS must be a whole number of at least 1, got '$READY_TIMEOUT_SECONDS'"
[ -n "${PGDATABASE:-}" ] || fail 'PGDATABASE must name the database to dump'
case "$PGDATABASE" in
  */* | .*) fail "PGDATABASE '$PGDATABASE' cannot be part of a file name" ;;
esac
[ -d "$BACKUP_DIR" ] || fail "$BACKUP_DIR is not a directory; mount the backup volume there"
[ -w "$BACKUP_DIR" ] || fail "$BACKUP_DIR is not writable by uid $(id -u); check the volume's owner"

server="${PGHOST:-localhost}:${PGPORT:-5432}"
waited=0
until pg_isready --quiet --timeout=5; do
  [ "$waited" -lt "$READY_TIMEOUT_SECONDS" ] ||
    fail "$server does not accept connections after ${READY_TIMEOUT_SECONDS}s"
  [ "$waited" -gt 0 ] || log "waiting for $server to accept connections"
  sleep 2
  waited=$((waited + 2))
done

# what a run killed by the Job's deadline left behind; the CronJob never runs two at once
for partial in "$BACKUP_DIR"/.*.dump.partial; do
  [ -e "$partial" ] || continue
  log "removing the unfinished $(basename "$partial")"
  rm -f -- "$partial"
done

# two runs within one second (a manual run right after the scheduled one) get distinct names
while :; do
  name="$PGDATABASE-$(date -u +%Y%m%dT%H%M%SZ).dump"
  [ -e "$BACKUP_DIR/$name" ] || break
  sleep 1
done
partial="$BACKUP_DIR/.$name.partial"
trap 'rm -f -- "$partial"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

log "dumping database $PGDATABASE from $server as user ${PGUSER:-(libpq default)} into $name"
pg_dump --format=custom --no-password --lock-wait-timeout=300s --file="$partial"

listing=$(pg_restore --list "$partial") || fail "pg_restore cannot read back $name"
entries=$(printf '%s\n' "$listing" | grep -c -v -e '^;' -e '^$' || true)
[ "$entries" -gt 0 ] || fail "$name holds no objects according to pg_restore --list"
# the table of contents is at the start of the file: only reading every entry finds a cut end
pg_restore --file=/dev/null "$partial" || fail "pg_restore cannot read back $name to its end"
mv -- "$partial" "$BACKUP_DIR/$name"
trap - EXIT
log "wrote $name: $(wc -c <"$BACKUP_DIR/$name" | tr -d ' ') bytes, $entries archive entries"

# the glob lists the dumps oldest first; anything not named like a dump is never touched
set -- "$BACKUP_DIR/$PGDATABASE"-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.dump
excess=$(($# - RETAIN))
while [ "$excess" -gt 0 ]; do
  log "removing $(basename "$1"), older than the newest $RETAIN"
  rm -f -- "$1"
  shift
  excess=$((excess - 1))
done
log "done; $# dumps of $PGDATABASE in $BACKUP_DIR"
