#!/bin/sh
# node-trust (cdk8s-harbor): copies the registry's CA onto the node, where the container
# runtimes look for it, so that the kubelet can pull from the registry over TLS.
#
# Environment (set by the NodeTrust construct):
#   REGISTRY               host[:port] as images name it; the port is left out for 443
#   CA_FILE                the CA bundle, from a ConfigMap volume (PEM)
#   NODE_ROOT              where the node's filesystem is mounted in this container (/host)
#   RUNTIME_ROOT           prefix of the paths written into runtime configuration; empty on
#                          a node, the same as NODE_ROOT where a test stands in for a node
#   CONTAINERD_CERTS_DIR   containerd's hosts directory on the node; empty: skip containerd
#   CONTAINERD_CONFIG      containerd's config.toml on the node, only read; empty: no check
#   DOCKER_CERTS_DIR       Docker's certs.d on the node; empty: skip Docker
#   RANCHER_CERTS_DIR      a directory for k3s or RKE2's registries.yaml; empty: skip
#   INTERVAL               seconds between passes
#   ONCE                   1: one pass, then exit (as --once does)
set -eu
umask 022

registry=${REGISTRY:?REGISTRY is not set}
ca_file=${CA_FILE:?CA_FILE is not set}
node_root=${NODE_ROOT:-/host}
runtime_root=${RUNTIME_ROOT:-}
containerd_dir=${CONTAINERD_CERTS_DIR:-}
containerd_config=${CONTAINERD_CONFIG:-}
docker_dir=${DOCKER_CERTS_DIR:-}
rancher_dir=${RANCHER_CERTS_DIR:-}
interval=${INTERVAL:-300}
once=${ONCE:-}

case "${1:-}" in
  --once) once=1 ;;
  "") ;;
  *) echo "usage: $0 [--once]" >&2; exit 2 ;;
esac

log() {
  echo "node-trust: $*"
}

# Fails unless the CA file holds at least one whole PEM certificate.
check_ca() {
  if [ ! -f "$ca_file" ]; then
    log "ERROR: CA file $ca_file is missing; check the ConfigMap and its key" >&2
    return 1
  fi
  if ! grep -q -e '^-----BEGIN CERTIFICATE-----' "$ca_file" \
    || ! grep -q -e '^-----END CERTIFICATE-----' "$ca_file"; then
    log "ERROR: $ca_file is not a PEM certificate (no BEGIN/END CERTIFICATE lines)" >&2
    return 1
  fi
}

# Puts the content of file $1 at $2, unless it is there already: through a temporary file in
# the same directory and a rename, so that a runtime never reads half a file.
place() {
  src=$1
  dest=$2
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  tmp="$dest.tmp.$$"
  cat "$src" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$dest"
  log "wrote ${dest#"$node_root"}"
}

# Writes containerd's hosts.toml for the registry: TLS verified against our CA, nothing else.
hosts_toml() {
  ca=$1
  printf '# written by cdk8s-harbor node-trust; rewritten when it differs\n'
  printf 'server = "https://%s"\n\n' "$registry"
  printf '[host."https://%s"]\n' "$registry"
  printf '  capabilities = ["pull", "resolve", "push"]\n'
  printf '  ca = "%s"\n' "$ca"
}

# containerd reads certs.d only when config_path points at it; before 2.2 it is unset by
# default. Inline registry.mirrors or registry.configs tables conflict with config_path.
check_containerd_config() {
  config="$node_root$containerd_config"
  if [ ! -f "$config" ]; then
    log "WARNING: $containerd_config not found; containerd before 2.2 then ignores" \
      "$containerd_dir unless config_path is set; see the README"
    return 0
  fi
  path=$(sed -n 's/^[[:space:]]*config_path[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' \
    "$config" | head -n 1)
  if [ -z "$path" ]; then
    log "WARNING: $containerd_config does not set config_path, so containerd ignores" \
      "$containerd_dir; set config_path = \"$containerd_dir\" in its registry section" \
      "and restart containerd"
  else
    case ":$path:" in
      *":$containerd_dir:"*) ;;
      *) log "WARNING: $containerd_config sets config_path = \"$path\", which does not" \
        "include $containerd_dir, where the CA is written" ;;
    esac
  fi
  if grep -q -e 'registry\.mirrors' -e 'registry\.configs' "$config"; then
    log "WARNING: $containerd_config has inline registry.mirrors or registry.configs tables," \
      "which containerd does not combine with config_path; move them to $containerd_dir"
  fi
}

pass() {
  check_ca || return 1

  if [ -n "$containerd_dir" ]; then
    dir="$node_root$containerd_dir/$registry"
    place "$ca_file" "$dir/ca.crt"
    mkdir -p "$dir"
    staged="$dir/.hosts.toml.new.$$"
    hosts_toml "$runtime_root$containerd_dir/$registry/ca.crt" >"$staged"
    place "$staged" "$dir/hosts.toml"
    rm -f "$staged"
  fi
  if [ -n "$docker_dir" ]; then
    place "$ca_file" "$node_root$docker_dir/$registry/ca.crt"
  fi
  if [ -n "$rancher_dir" ]; then
    place "$ca_file" "$node_root$rancher_dir/$registry/ca.crt"
  fi
}

if [ -n "$once" ]; then
  [ -z "$containerd_dir" ] || [ -z "$containerd_config" ] || check_containerd_config
  pass
  exit
fi

sleeper=
trap '[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; exit 0' TERM INT
log "keeping the CA of $registry in place every ${interval}s"
[ -z "$containerd_dir" ] || [ -z "$containerd_config" ] || check_containerd_config
while :; do
  pass || exit 1
  # in the background, so that TERM ends the wait at once
  sleep "$interval" &
  sleeper=$!
  wait "$sleeper" || true
  sleeper=
done
