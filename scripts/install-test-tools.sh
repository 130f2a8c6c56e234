#!/usr/bin/env bash
# Installs the Debian packages whose programs the tests run against our generated files:
# htpasswd, openssl, nginx, the distribution registry, redis, skopeo, shellcheck, PostgreSQL,
# containerd.
# Needs root (or sudo) and a Debian or Ubuntu machine; installs nothing that is present already.
set -euo pipefail

packages=(apache2-utils openssl nginx-light docker-registry redis-server skopeo shellcheck postgresql containerd)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "test tools present: ${packages[*]}"
  exit 0
fi

sudo=''
[ "$(id -u)" -eq 0 ] || sudo='sudo'
export DEBIAN_FRONTEND=noninteractive
# services must not start at install: the tests start their own on loopback ports
policy=/usr/sbin/policy-rc.d
created_policy=''
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  created_policy=yes
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
[ -z "$created_policy" ] || $sudo rm -f "$policy"
echo "installed: ${missing[*]}"
