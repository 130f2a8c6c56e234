#!/bin/sh
# Starts Harbor core with CONFIG_OVERWRITE_JSON taken from the file the init container
# merged (non-secret settings from a ConfigMap, secrets from Secrets), then hands over to the
# image's own entrypoint. Core treats a present but empty variable as a fatal parse error, so
# a missing or empty file stops here with a message instead.
set -eu

file="${1:?usage: core-overwrite.sh <merged settings file>}"
if [ ! -s "$file" ]; then
  echo "core-overwrite: $file is missing or empty; the config-overwrite init container writes it" >&2
  exit 1
fi

CONFIG_OVERWRITE_JSON="$(cat "$file")"
export CONFIG_OVERWRITE_JSON
exec /harbor/entrypoint.sh
