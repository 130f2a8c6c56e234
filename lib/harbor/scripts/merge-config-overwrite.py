"""Writes the CONFIG_OVERWRITE_JSON that Harbor core reads at start.

Runs as an init container of core. The non-secret settings come from a JSON file of a
ConfigMap; each secret setting comes from an environment variable that the kubelet fills from
a Secret. The merged document goes to a file on a memory-backed emptyDir, readable by core's
user only, so no secret value is ever stored in a ConfigMap or on a node's disk.

Environment:
  OVERWRITE_BASE_FILE     the non-secret settings, a JSON object with Harbor's native types
  OVERWRITE_SECRET_ENVS   a JSON object: configuration key -> name of the env var holding it
  OVERWRITE_OUTPUT_FILE   where the merged JSON object is written

Exit status: 0 on success, 1 on a missing or malformed input (nothing is written then).
Python 3 standard library only: it runs in Harbor's prepare image.
"""

import json
import os
import sys


def fail(message):
    print(f"merge-config-overwrite: {message}", file=sys.stderr)
    sys.exit(1)


def required_env(name):
    value = os.environ.get(name)
    if not value:
        fail(f"environment variable {name} is not set")
    return value


def load_base(path):
    try:
        with open(path, encoding="utf-8") as handle:
            base = json.load(handle)
    except OSError as err:
        fail(f"cannot read {path}: {err.strerror}")
    except ValueError as err:
        fail(f"{path} is not JSON: {err}")
    if not isinstance(base, dict):
        fail(f"{path} holds a JSON {type(base).__name__}, not an object")
    return base


def load_secret_envs(text):
    try:
        mapping = json.loads(text)
    except ValueError as err:
        fail(f"OVERWRITE_SECRET_ENVS is not JSON: {err}")
    if not isinstance(mapping, dict) or not all(
        isinstance(v, str) for v in mapping.values()
    ):
        fail("OVERWRITE_SECRET_ENVS is not an object of env var names")
    return mapping


def merge(base, secret_envs, environ):
    merged = dict(base)
    missing = []
    for key, env in sorted(secret_envs.items()):
        if key in base:
            fail(f"{key} is both a plain and a secret setting")
        if env not in environ:
            missing.append(env)
            continue
        # a secret setting is a string in Harbor's metadata (passwords, client secrets)
        merged[key] = environ[env]
    if missing:
        fail("secret settings missing from the environment: " + ", ".join(missing))
    return merged


def write_private(path, text):
    """Writes text to path atomically, readable by the owner only."""
    temporary = f"{path}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def main():
    base = load_base(required_env("OVERWRITE_BASE_FILE"))
    secret_envs = load_secret_envs(os.environ.get("OVERWRITE_SECRET_ENVS", "{}"))
    output = required_env("OVERWRITE_OUTPUT_FILE")

    merged = merge(base, secret_envs, os.environ)
    write_private(output, json.dumps(merged, sort_keys=True, separators=(",", ":")))
    # names only: the values are secrets
    print(
        f"merge-config-overwrite: wrote {len(merged)} settings to {output}"
        f" ({len(secret_envs)} from Secrets)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
