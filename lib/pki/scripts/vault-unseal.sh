#!/bin/sh
# Unseals a Vault or OpenBao server whenever it is sealed and its unseal key is at hand.
#
# Runs as a sidecar of the server (a loop that never ends) or, with UNSEAL_ONCE=true, as the
# last step of the init Job (returns once the server is unsealed, or when there is no key).
# The key is read from $UNSEAL_KEY_FILE, a file of the init Secret mounted optionally, so a
# pod that starts before the Secret exists waits for it instead of failing.
#
# Env: VAULT_CLI (vault or bao), UNSEAL_KEY_FILE, UNSEAL_INTERVAL, UNSEAL_ONCE,
# UNSEAL_ATTEMPTS (once mode), and the CLI's own VAULT_ADDR / VAULT_CACERT.
# Exit (once mode): 0 unsealed or no key to unseal with, 1 still sealed after every attempt.
set -u

cli="${VAULT_CLI:-vault}"
key_file="${UNSEAL_KEY_FILE:-/vault/unseal/unseal-key}"
interval="${UNSEAL_INTERVAL:-10}"
once="${UNSEAL_ONCE:-false}"
attempts="${UNSEAL_ATTEMPTS:-60}"
last=""

# prints a state once, not at every turn of the loop
say() {
  if [ "$1" != "$last" ]; then
    echo "vault-unseal: $1"
    last="$1"
  fi
}

# 0 unsealed, 1 not (yet), 3 sealed with no key to unseal with
unseal_if_sealed() {
  "$cli" status >/dev/null 2>&1
  code=$?
  case "$code" in
    0)
      say "unsealed"
      return 0
      ;;
    2) ;;
    *)
      say "the server does not answer (status exit $code)"
      return 1
      ;;
  esac
  if [ ! -s "$key_file" ]; then
    say "sealed, and no unseal key at $key_file"
    return 3
  fi
  # the key is an argument: the CLI reads it from a terminal only otherwise
  if "$cli" operator unseal "$(cat "$key_file")" >/dev/null 2>&1; then
    say "unsealed"
    return 0
  fi
  say "unseal was refused"
  return 1
}

if [ "$once" = "true" ]; then
  tries=0
  while :; do
    unseal_if_sealed
    code=$?
    if [ "$code" -eq 0 ]; then
      exit 0
    fi
    if [ "$code" -eq 3 ]; then
      echo "vault-unseal: unseal this server by hand" >&2
      exit 0
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge "$attempts" ]; then
      echo "vault-unseal: still sealed after $tries attempts" >&2
      exit 1
    fi
    sleep "$interval"
  done
fi

while :; do
  unseal_if_sealed
  sleep "$interval"
done
