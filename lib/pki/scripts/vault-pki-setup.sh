#!/bin/sh
# Sets up a two-level PKI in Vault (or OpenBao) for cert-manager's Vault issuer, then writes
# the root CA certificate to ROOT_PEM_FILE for the publisher container.
#
# Every step can run again: mounts and auth methods are enabled only when absent, a CA is
# generated only when its mount holds none, and everything else is an upsert. A second run
# therefore never makes a new CA.
#
# Input (env): VAULT_ADDR, VAULT_TOKEN, optional VAULT_CACERT, VAULT_CLI (vault or bao),
# PKI_ROOT_MOUNT, PKI_ROOT_CN, PKI_ROOT_TTL, PKI_INT_MOUNT, PKI_INT_CN, PKI_INT_TTL,
# PKI_ORGANIZATION, PKI_KEY_TYPE, PKI_KEY_BITS, PKI_ROLE, PKI_ROLE_ARGS (key=value lines),
# PKI_POLICY, PKI_POLICY_HCL, K8S_AUTH_MOUNT, K8S_AUTH_ROLE, K8S_AUTH_ROLE_ARGS (key=value
# lines), K8S_AUTH_CONFIGURE (true/false), K8S_AUTH_HOST, ROOT_PEM_FILE,
# VAULT_WAIT_ATTEMPTS, VAULT_WAIT_SECONDS.
set -eu

CLI=${VAULT_CLI:-vault}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

log() { printf '%s\n' "$*"; }
fail() {
  printf 'vault-pki-setup: %s\n' "$*" >&2
  exit 1
}
v() { "$CLI" "$@"; }

# Runs a command whose arguments are the key=value lines of $1 appended to the rest.
with_lines() {
  lines=$1
  shift
  old_ifs=$IFS
  IFS='
'
  set -f
  # shellcheck disable=SC2086 # split on newlines on purpose
  set -- "$@" $lines
  set +f
  IFS=$old_ifs
  "$@"
}

# The quoted names of a `list -format=json` answer, one a line.
list_names() {
  sed -n 's/^[[:space:]]*"\([^"]*\)".*$/\1/p'
}

# True when a mount (secrets engine or auth method) is enabled at that path.
mounted() {
  kind=$1
  path=$2
  listing=$(v "$kind" list -format=json) || fail "cannot list $kind mounts"
  printf '%s\n' "$listing" | grep -q "\"$path/\""
}

# The issuers of a PKI mount, one id a line; nothing when it has none.
issuers_of() {
  mount=$1
  status=0
  answer=$(v list -format=json "$mount/issuers" 2>"$WORK/list.err") || status=$?
  case $status in
    0) printf '%s\n' "$answer" | list_names ;;
    2) ;;
    *) fail "cannot list the issuers of $mount: $(cat "$WORK/list.err")" ;;
  esac
}

# The id of the first issuer of a mount that holds a private key; nothing when none does.
keyed_issuer_of() {
  ids=$(issuers_of "$1") || exit 1
  for id in $ids; do
    key=$(v read -field=key_id "$1/issuer/$id") || fail "cannot read issuer $1/issuer/$id"
    if [ -n "$key" ]; then
      printf '%s\n' "$id"
      return 0
    fi
  done
}

wait_for_vault() {
  attempts=${VAULT_WAIT_ATTEMPTS:-60}
  pause=${VAULT_WAIT_SECONDS:-5}
  i=1
  while :; do
    status=0
    v status -format=json >/dev/null 2>&1 || status=$?
    case $status in
      0) log "Vault at $VAULT_ADDR is unsealed" && return 0 ;;
      2) state='sealed' ;;
      *) state='not answering' ;;
    esac
    if [ "$i" -ge "$attempts" ]; then
      fail "Vault at $VAULT_ADDR is still $state after $attempts attempts; unseal it" \
        "or check VAULT_ADDR, VAULT_CACERT and the network, then let the Job retry"
    fi
    log "Vault at $VAULT_ADDR is $state (attempt $i of $attempts), waiting ${pause}s"
    i=$((i + 1))
    sleep "$pause"
  done
}

enable_pki() {
  if mounted secrets "$1"; then
    log "secrets engine $1/ exists, kept"
  else
    v secrets enable -path="$1" pki >/dev/null
    log "enabled secrets engine $1/"
  fi
  v secrets tune -max-lease-ttl="$2" "$1/" >/dev/null
}

config_urls() {
  v write "$1/config/urls" \
    issuing_certificates="$VAULT_ADDR/v1/$1/ca" \
    crl_distribution_points="$VAULT_ADDR/v1/$1/crl" >/dev/null
}

# Optional subject field; `organization=` with an empty value would clear nothing useful.
org_arg() {
  if [ -n "${PKI_ORGANIZATION:-}" ]; then
    printf 'organization=%s\n' "$PKI_ORGANIZATION"
  fi
}

setup_root() {
  enable_pki "$PKI_ROOT_MOUNT" "$PKI_ROOT_TTL"
  # a failed listing must stop the run: taking it for "no issuer" would make a second root
  roots=$(issuers_of "$PKI_ROOT_MOUNT") || exit 1
  if [ -n "$roots" ]; then
    log "root CA exists in $PKI_ROOT_MOUNT/, kept"
  else
    with_lines "$(org_arg)" v write -field=certificate "$PKI_ROOT_MOUNT/root/generate/internal" \
      common_name="$PKI_ROOT_CN" issuer_name=root ttl="$PKI_ROOT_TTL" \
      key_type="$PKI_KEY_TYPE" key_bits="$PKI_KEY_BITS" >/dev/null
    log "created root CA \"$PKI_ROOT_CN\" in $PKI_ROOT_MOUNT/"
  fi
  config_urls "$PKI_ROOT_MOUNT"
}

setup_intermediate() {
  mount=$PKI_INT_MOUNT
  enable_pki "$mount" "$PKI_INT_TTL"
  keyed=$(keyed_issuer_of "$mount") || exit 1
  if [ -n "$keyed" ]; then
    log "intermediate CA exists in $mount/, kept"
  else
    with_lines "$(org_arg)" v write -field=csr "$mount/intermediate/generate/internal" \
      common_name="$PKI_INT_CN" key_type="$PKI_KEY_TYPE" key_bits="$PKI_KEY_BITS" \
      >"$WORK/int.csr"
    with_lines "$(org_arg)" v write -field=certificate "$PKI_ROOT_MOUNT/root/sign-intermediate" \
      csr=@"$WORK/int.csr" common_name="$PKI_INT_CN" format=pem_bundle ttl="$PKI_INT_TTL" \
      >"$WORK/int.pem"
    v read -field=certificate "$PKI_ROOT_MOUNT/cert/ca" >"$WORK/root.pem"
    # intermediate first: the first issuer imported into an empty mount becomes its default;
    # the root after it so that every issued ca.crt leads to the root. -field output has no
    # trailing newline, hence printf rather than cat.
    printf '%s\n%s\n' "$(cat "$WORK/int.pem")" "$(cat "$WORK/root.pem")" >"$WORK/chain.pem"
    v write "$mount/intermediate/set-signed" certificate=@"$WORK/chain.pem" >/dev/null
    keyed=$(keyed_issuer_of "$mount") || exit 1
    [ -n "$keyed" ] || fail "$mount/ has no issuer with a key after set-signed"
    log "created intermediate CA \"$PKI_INT_CN\" in $mount/, signed by $PKI_ROOT_MOUNT/"
  fi

  current=$(v read -field=default "$mount/config/issuers" 2>/dev/null) || current=''
  if [ "$current" != "$keyed" ]; then
    v write "$mount/config/issuers" default="$keyed" >/dev/null
    log "made issuer $keyed the default of $mount/"
  fi
  behavior=$(v read -field=leaf_not_after_behavior "$mount/issuer/default") || behavior=''
  if [ "$behavior" != truncate ]; then
    v patch "$mount/issuer/default" leaf_not_after_behavior=truncate >/dev/null
    log "set leaf_not_after_behavior=truncate on the default issuer of $mount/"
  fi
  config_urls "$mount"
}

setup_role_and_policy() {
  with_lines "$PKI_ROLE_ARGS" v write "$PKI_INT_MOUNT/roles/$PKI_ROLE" >/dev/null
  log "wrote role $PKI_INT_MOUNT/roles/$PKI_ROLE"
  printf '%s\n' "$PKI_POLICY_HCL" >"$WORK/policy.hcl"
  v policy write "$PKI_POLICY" "$WORK/policy.hcl" >/dev/null
  log "wrote policy $PKI_POLICY"
}

setup_kubernetes_auth() {
  if [ "${K8S_AUTH_CONFIGURE:-false}" = true ]; then
    if mounted auth "$K8S_AUTH_MOUNT"; then
      log "auth method $K8S_AUTH_MOUNT/ exists, kept"
    else
      v auth enable -path="$K8S_AUTH_MOUNT" kubernetes >/dev/null
      log "enabled auth method $K8S_AUTH_MOUNT/"
    fi
    v write "auth/$K8S_AUTH_MOUNT/config" kubernetes_host="$K8S_AUTH_HOST" >/dev/null
    log "wrote auth/$K8S_AUTH_MOUNT/config"
  fi
  with_lines "$K8S_AUTH_ROLE_ARGS" v write "auth/$K8S_AUTH_MOUNT/role/$K8S_AUTH_ROLE" >/dev/null
  log "wrote auth/$K8S_AUTH_MOUNT/role/$K8S_AUTH_ROLE"
}

export_root() {
  v read -field=certificate "$PKI_ROOT_MOUNT/cert/ca" >"$WORK/root-out.pem"
  grep -q -- '-----BEGIN CERTIFICATE-----' "$WORK/root-out.pem" ||
    fail "$PKI_ROOT_MOUNT/cert/ca holds no certificate"
  printf '%s\n' "$(cat "$WORK/root-out.pem")" >"$ROOT_PEM_FILE"
  log "wrote the root CA certificate to $ROOT_PEM_FILE"
}

wait_for_vault
setup_root
setup_intermediate
setup_role_and_policy
setup_kubernetes_auth
export_root
