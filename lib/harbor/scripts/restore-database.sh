#!/bin/sh
# Restores one dump written by backup-database.sh into Harbor's database.
#
#   restore-database.sh DUMPFILE
#
# DUMPFILE is a path, a file name in $BACKUP_DIR, or `latest` for the newest dump there. The
# connection comes from libpq's variables, as for the backup. The restore runs in one
# transaction: it either replaces every object the dump holds, or fails and changes nothing.
# Objects the dump does not hold (tables a later Harbor version added) are left as they are.
#
#   BACKUP_DIR             where the dumps are (default /backup)
#   READY_TIMEOUT_SECONDS  how long to wait for the server to accept connections (default 300)
#   QUIET_TIMEOUT_SECONDS  how long to wait for other sessions on the database to end
#                          (default 300); Harbor's core and jobservice must be stopped first
set -eu

BACKUP_DIR="${BACKUP_DIR:-/backup}"
READY_TIMEOUT_SECONDS="${READY_TIMEOUT_SECONDS:-300}"
QUIET_TIMEOUT_SECONDS="${QUIET_TIMEOUT_SECONDS:-300}"
LC_ALL=C
export LC_ALL

log() {
  printf '%s restore: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"
}

fail() {
  printf '%s restore: error: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
  exit 1
}

is_count() {
  case "$1" in
    '' | *[!0-9]*) return 1 ;;
    *) [ "$1" -ge 1 ] ;;
  esac
}

# tells the operator what there is to choose from
list_dumps() {
  printf '%s\n' "dumps in $BACKUP_DIR:" >&2
  found=''
  for entry in "$BACKUP_DIR"/*.dump; do
    [ -e "$entry" ] || continue
    printf '  %s\n' "$(basename "$entry")" >&2
    found=yes
  done
  [ -n "$found" ] || printf '  (none)\n' >&2
}

[ "$#" -eq 1 ] || fail 'usage: restore-database.sh DUMPFILE (a path, a file name, or latest)'
is_count "$READY_TIMEOUT_SECONDS" ||
  fail "READY_TIMEOUT_SECONDS must be a whole number of at least 1, got '$READY_TIMEOUT_SECONDS'"
is_count "$QUIET_TIMEOUT_SECONDS" ||
  fail "QUIET_TIMEOUT_SECONDS must be a whole number of at least 1, got '$QUIET_TIMEOUT_SECONDS'"
[ -n "${PGDATABASE:-}" ] || fail 'PGDATABASE must name the database to restore into'

case "$1" in
  latest)
    newest=''
    for entry in "$BACKUP_DIR/$PGDATABASE"-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.dump; do
      if [ -e "$entry" ]; then newest="$entry"; fi
    done
    [ -n "$newest" ] || {
      list_dumps
      fail "no dump of $PGDATABASE in $BACKUP_DIR"
    }
    dump="$newest"
    ;;
  */*) dump="$1" ;;
  *) dump="$BACKUP_DIR/$1" ;;
esac
[ -f "$dump" ] || {
  list_dumps
  fail "$dump does not exist or is not a file"
}
[ -r "$dump" ] || fail "$dump is not readable by uid $(id -u)"
pg_restore --list "$dump" >/dev/null ||
  fail "$dump is not an archive pg_restore can read (pg_dump --format=custom)"

server="${PGHOST:-localhost}:${PGPORT:-5432}"
waited=0
until pg_isready --quiet --timeout=5; do
  [ "$waited" -lt "$READY_TIMEOUT_SECONDS" ] ||
    fail "$server does not accept connections after ${READY_TIMEOUT_SECONDS}s"
  [ "$waited" -gt 0 ] || log "waiting for $server to accept connections"
  sleep 2
  waited=$((waited + 2))
done

# a running Harbor would write between the dump's moment and ours, or hold locks the restore
# waits for; its sessions end when core and jobservice are scaled to zero
sessions() {
  psql --no-psqlrc --no-password --quiet --tuples-only --no-align --set=ON_ERROR_STOP=1 \
    --command="SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
      AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
}
waited=0
while :; do
  others=$(sessions) || fail "cannot query $PGDATABASE on $server"
  [ "$others" -gt 0 ] || break
  [ "$waited" -lt "$QUIET_TIMEOUT_SECONDS" ] ||
    fail "$others other sessions still use $PGDATABASE after ${QUIET_TIMEOUT_SECONDS}s;" \
      'scale Harbor core and jobservice to 0 replicas first'
  [ "$waited" -gt 0 ] || log "waiting for $others other sessions on $PGDATABASE to end"
  sleep 2
  waited=$((waited + 2))
done

log "restoring $(basename "$dump") into database $PGDATABASE on $server"
pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction \
  --no-password --dbname="$PGDATABASE" "$dump" ||
  fail "pg_restore failed; its transaction was rolled back and $PGDATABASE is unchanged"
log "restored $(basename "$dump") into $PGDATABASE"
