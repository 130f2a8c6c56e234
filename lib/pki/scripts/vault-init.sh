#!/bin/sh
# Initializes a fresh Vault or OpenBao server once, for the VaultServer init Job.
#
# Waits until the server answers, asks whether it is initialized and, only if it is not, runs
# `operator init` with a single key share. The JSON it prints (unseal key and root token) goes
# to $INIT_OUTPUT on the pod's memory-backed emptyDir, for the next container to store in a
# Secret; it is never printed. An initialized server is left alone, so a second run is a no-op.
#
# Env: VAULT_CLI (vault or bao), INIT_OUTPUT, WAIT_ATTEMPTS, WAIT_INTERVAL, and the CLI's own
# VAULT_ADDR / VAULT_CACERT (BAO_ADDR / BAO_CACERT).
# Exit: 0 initialized now or before, 1 the server never answered or init failed.
set -u

cli="${VAULT_CLI:-vault}"
output="${INIT_OUTPUT:-/work/init.json}"
attempts="${WAIT_ATTEMPTS:-120}"
interval="${WAIT_INTERVAL:-5}"

# only this pod's containers, which share the group, may read what init prints
umask 027

# `status` exits 0 when unsealed, 2 when sealed (or uninitialized), 1 when unreachable
tries=0
while :; do
  "$cli" status >/dev/null 2>&1
  code=$?
  if [ "$code" -eq 0 ] || [ "$code" -eq 2 ]; then
    break
  fi
  tries=$((tries + 1))
  if [ "$tries" -ge "$attempts" ]; then
    echo "vault-init: the server did not answer after $tries attempts" >&2
    exit 1
  fi
  sleep "$interval"
done

# `operator init -status` exits 0 when initialized, 2 when not, 1 on error
"$cli" operator init -status >/dev/null 2>&1
code=$?
case "$code" in
  0)
    echo "vault-init: already initialized, nothing to do"
    exit 0
    ;;
  2) ;;
  *)
    echo "vault-init: could not read the init status (exit $code)" >&2
    exit 1
    ;;
esac

partial="$output.partial"
if ! "$cli" operator init -key-shares=1 -key-threshold=1 -format=json >"$partial"; then
  rm -f "$partial"
  echo "vault-init: operator init failed" >&2
  exit 1
fi
mv "$partial" "$output"
echo "vault-init: initialized with one key share"
