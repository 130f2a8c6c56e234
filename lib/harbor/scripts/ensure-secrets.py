#!/usr/bin/env python3
"""Create Harbor's Secrets inside the cluster, only those that are missing.

Runs once as a Kubernetes Job so that no secret value ever appears in the
generated manifests. A Secret that already exists is never read, changed or
rotated: the API answers 409 and the script moves on. The ServiceAccount
therefore needs nothing but `create` on Secrets.

Input is the JSON in env SECRETS_SPEC, for example:

    {"namespace": "harbor", "labels": {"app": "harbor"},
     "secrets": [{"name": "harbor-registry-credentials", "entries": [
         {"key": "REGISTRY_PASSWD", "kind": "random", "length": 32},
         {"key": "REGISTRY_HTPASSWD", "kind": "htpasswd",
          "user": "harbor_registry_user",
          "passwordFrom": "REGISTRY_PASSWD"}]}]}

Optional env, mainly for tests: K8S_API_URL, K8S_TOKEN_FILE, K8S_CA_FILE,
HTPASSWD_BIN, K8S_RETRY_BASE_SECONDS.

Exit codes: 0 every Secret exists, 1 at least one could not be created,
2 the spec is invalid (nothing is sent to the API then).

Python 3.7+, standard library only. No secret value is ever printed, logged
or written to a file.
"""

import base64
import http.client
import json
import os
import re
import secrets
import ssl
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Dict, List, NamedTuple, Optional, Set, Tuple

SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'
DEFAULT_TOKEN_FILE = SA_DIR + '/token'
DEFAULT_CA_FILE = SA_DIR + '/ca.crt'
DEFAULT_HTPASSWD_BIN = '/usr/bin/htpasswd'

ALPHABET = string.ascii_letters + string.digits
MIN_LENGTH = 8
MAX_LENGTH = 128
# bcrypt only looks at the first 72 bytes and htpasswd truncates silently,
# so a longer password would "work" here and then fail against a strict
# verifier (newer Go bcrypt rejects > 72 bytes).
BCRYPT_MAX_PASSWORD = 72
BCRYPT_COST = '10'

MAX_ATTEMPTS = 5
DEFAULT_RETRY_BASE_SECONDS = 0.5
REQUEST_TIMEOUT_SECONDS = 10

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SPEC = 2

DNS_LABEL = r'[a-z0-9]([-a-z0-9]*[a-z0-9])?'
NAMESPACE_RE = re.compile('^' + DNS_LABEL + '$')
SECRET_NAME_RE = re.compile('^' + DNS_LABEL + r'(\.' + DNS_LABEL + ')*$')
DATA_KEY_RE = re.compile(r'^[-._a-zA-Z0-9]+$')
HTPASSWD_USER_RE = re.compile(r'^[^:\s]+$')
# user:$2y$<cost>$<22 salt chars><31 hash chars>
BCRYPT_LINE_RE = re.compile(r'^[^:\s]+:\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$')


class SpecError(Exception):
    """The SECRETS_SPEC is unusable; the message names the problem."""


class GenerationError(Exception):
    """A value could not be generated; the message holds no secret."""


class Entry(NamedTuple):
    key: str
    kind: str
    length: int = 0
    user: str = ''
    password_from: str = ''


class SecretSpec(NamedTuple):
    name: str
    entries: List[Entry]


class Spec(NamedTuple):
    namespace: str
    labels: Dict[str, str]
    secrets: List[SecretSpec]


class Response(NamedTuple):
    status: int
    message: str


# --- spec validation -------------------------------------------------------

def _require_keys(obj: Any, where: str, required: Tuple[str, ...],
                  optional: Tuple[str, ...] = ()) -> Dict[str, Any]:
    if not isinstance(obj, dict):
        raise SpecError('%s must be a JSON object' % where)
    missing = [k for k in required if k not in obj]
    if missing:
        raise SpecError('%s is missing %s' % (where, ', '.join(missing)))
    unknown = sorted(set(obj) - set(required) - set(optional))
    if unknown:
        raise SpecError('%s has unknown field(s) %s'
                        % (where, ', '.join(unknown)))
    return obj


def _require_str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError('%s must be a non-empty string' % where)
    return value


def _parse_entry(raw: Any, where: str) -> Entry:
    if not isinstance(raw, dict):
        raise SpecError('%s must be a JSON object' % where)
    kind = raw.get('kind')
    if kind == 'random':
        _require_keys(raw, where, ('key', 'kind', 'length'))
        length = raw['length']
        # bool is an int subclass in Python; `true` is not a length
        if not isinstance(length, int) or isinstance(length, bool):
            raise SpecError('%s length must be an integer' % where)
        if length < MIN_LENGTH or length > MAX_LENGTH:
            raise SpecError('%s length %d is outside %d..%d'
                            % (where, length, MIN_LENGTH, MAX_LENGTH))
        return Entry(key=_parse_key(raw['key'], where), kind=kind,
                     length=length)
    if kind == 'htpasswd':
        _require_keys(raw, where, ('key', 'kind', 'user', 'passwordFrom'))
        user = _require_str(raw['user'], where + ' user')
        if not HTPASSWD_USER_RE.match(user):
            raise SpecError('%s user must not contain ":" or whitespace'
                            % where)
        return Entry(key=_parse_key(raw['key'], where), kind=kind, user=user,
                     password_from=_require_str(raw['passwordFrom'],
                                                where + ' passwordFrom'))
    raise SpecError('%s has unknown kind %s (expected "random" or "htpasswd")'
                    % (where, json.dumps(kind)))


def _parse_key(value: Any, where: str) -> str:
    key = _require_str(value, where + ' key')
    if len(key) > 253 or not DATA_KEY_RE.match(key):
        raise SpecError('%s key %s is not a valid Secret data key'
                        % (where, json.dumps(key)))
    return key


def _check_references(entries: List[Entry], where: str) -> None:
    by_key = {e.key: e for e in entries}
    for entry in entries:
        if entry.kind != 'htpasswd':
            continue
        target = by_key.get(entry.password_from)
        if target is None:
            raise SpecError('%s entry %s: passwordFrom %s is not a key of '
                            'the same Secret'
                            % (where, entry.key,
                               json.dumps(entry.password_from)))
        if target.kind != 'random':
            raise SpecError('%s entry %s: passwordFrom %s must be a '
                            '"random" entry'
                            % (where, entry.key, entry.password_from))
        if target.length > BCRYPT_MAX_PASSWORD:
            raise SpecError('%s entry %s: passwordFrom %s has length %d, '
                            'bcrypt uses at most %d'
                            % (where, entry.key, entry.password_from,
                               target.length, BCRYPT_MAX_PASSWORD))


def _parse_secret(raw: Any, where: str) -> SecretSpec:
    _require_keys(raw, where, ('name', 'entries'))
    name = _require_str(raw['name'], where + ' name')
    if len(name) > 253 or not SECRET_NAME_RE.match(name):
        raise SpecError('%s name %s is not a valid Secret name'
                        % (where, json.dumps(name)))
    where = 'secret %s' % name
    raw_entries = raw['entries']
    if not isinstance(raw_entries, list) or not raw_entries:
        raise SpecError('%s entries must be a non-empty list' % where)
    entries = [_parse_entry(e, '%s entries[%d]' % (where, i))
               for i, e in enumerate(raw_entries)]
    seen: Set[str] = set()
    for entry in entries:
        if entry.key in seen:
            raise SpecError('%s has duplicate key %s' % (where, entry.key))
        seen.add(entry.key)
    _check_references(entries, where)
    return SecretSpec(name=name, entries=entries)


def parse_spec(text: Optional[str]) -> Spec:
    if text is None or not text.strip():
        raise SpecError('env SECRETS_SPEC is not set')
    try:
        raw = json.loads(text)
    except ValueError as err:
        raise SpecError('SECRETS_SPEC is not valid JSON: %s' % err)
    _require_keys(raw, 'SECRETS_SPEC', ('namespace', 'secrets'), ('labels',))
    namespace = _require_str(raw['namespace'], 'namespace')
    if len(namespace) > 63 or not NAMESPACE_RE.match(namespace):
        raise SpecError('namespace %s is not a valid namespace name'
                        % json.dumps(namespace))
    labels = raw.get('labels', {})
    if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str)
            for k, v in labels.items()):
        raise SpecError('labels must be a map of string to string')
    raw_secrets = raw['secrets']
    if not isinstance(raw_secrets, list) or not raw_secrets:
        raise SpecError('secrets must be a non-empty list')
    parsed = [_parse_secret(s, 'secrets[%d]' % i)
              for i, s in enumerate(raw_secrets)]
    names = [s.name for s in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError('duplicate secret name(s) %s' % ', '.join(duplicates))
    return Spec(namespace=namespace, labels=labels, secrets=parsed)


# --- value generation ------------------------------------------------------

def random_value(length: int) -> str:
    return ''.join(secrets.choice(ALPHABET) for _ in range(length))


def htpasswd_line(htpasswd_bin: str, user: str, password: str) -> str:
    # An argument list, never a shell: the password cannot be interpreted.
    argv = [htpasswd_bin, '-nbB', '-C', BCRYPT_COST, user, password]
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        # str(err) of a timeout would include argv, hence the password
        raise GenerationError('cannot run %s (%s)'
                              % (htpasswd_bin, type(err).__name__)) from None
    if done.returncode != 0:
        raise GenerationError('%s exited with status %d'
                              % (htpasswd_bin, done.returncode))
    # htpasswd -n ends with an empty line; the registry wants one bare line
    line = done.stdout.decode('utf-8', 'replace').strip()
    if not BCRYPT_LINE_RE.match(line) or not line.startswith(user + ':'):
        raise GenerationError('%s did not print one bcrypt line'
                              % htpasswd_bin)
    return line


def generate_data(secret: SecretSpec, htpasswd_bin: str) -> Dict[str, str]:
    values: Dict[str, str] = {}
    # random first, so passwordFrom may point at an entry listed later
    for entry in secret.entries:
        if entry.kind == 'random':
            values[entry.key] = random_value(entry.length)
    for entry in secret.entries:
        if entry.kind == 'htpasswd':
            values[entry.key] = htpasswd_line(
                htpasswd_bin, entry.user, values[entry.password_from])
    return values


def secret_body(spec: Spec, name: str, values: Dict[str, str]) -> bytes:
    data = {k: base64.b64encode(v.encode('utf-8')).decode('ascii')
            for k, v in values.items()}
    body = {
        'apiVersion': 'v1',
        'kind': 'Secret',
        'metadata': {'name': name, 'namespace': spec.namespace,
                     'labels': spec.labels},
        'type': 'Opaque',
        'data': data,
    }
    return json.dumps(body).encode('utf-8')


def redact(text: str, values: Dict[str, str]) -> str:
    # The API should never echo data back, but a message is printed verbatim,
    # so strip every form in which a value travelled just in case.
    for value in values.values():
        encoded = base64.b64encode(value.encode('utf-8')).decode('ascii')
        for form in (value, encoded):
            text = text.replace(form, '<redacted>')
    return text


# --- Kubernetes API --------------------------------------------------------

class ApiClient:
    def __init__(self, base_url: str, token: str, ca_file: str,
                 retry_base: float) -> None:
        self.base_url = base_url.rstrip('/')
        self.token = token
        self.retry_base = retry_base
        handlers: List[Any] = [urllib.request.ProxyHandler({})]
        if self.base_url.startswith('https:'):
            context = ssl.create_default_context(cafile=ca_file)
            handlers.append(urllib.request.HTTPSHandler(context=context))
        # In-cluster traffic must not go to an HTTP(S)_PROXY from the env.
        self.opener = urllib.request.build_opener(*handlers)

    def _post_once(self, path: str, body: bytes) -> Response:
        request = urllib.request.Request(
            self.base_url + path, data=body, method='POST',
            headers={'Authorization': 'Bearer ' + self.token,
                     'Content-Type': 'application/json',
                     'Accept': 'application/json'})
        try:
            with self.opener.open(request,
                                  timeout=REQUEST_TIMEOUT_SECONDS) as resp:
                return Response(resp.status, '')
        except urllib.error.HTTPError as err:
            return Response(err.code, _status_message(err.read()))

    def post(self, path: str, body: bytes) -> Response:
        """POST, retrying connection errors and 5xx with a bounded backoff.

        Retrying a create is safe: if an earlier attempt did land, the retry
        gets 409 and the Secret holds values from this same run.
        """
        last = Response(0, '')
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                last = self._post_once(path, body)
                if last.status < 500:
                    return last
                problem = 'HTTP %d' % last.status
            except (OSError, http.client.HTTPException) as err:
                last = Response(0, _connection_message(err))
                if not _is_transient(err):
                    return last
                problem = last.message
            if attempt < MAX_ATTEMPTS:
                delay = self.retry_base * (2 ** (attempt - 1))
                log('attempt %d/%d failed (%s), retrying in %.2fs'
                    % (attempt, MAX_ATTEMPTS, problem, delay))
                time.sleep(delay)
        return last


def _status_message(raw: bytes) -> str:
    text = raw.decode('utf-8', 'replace')
    try:
        status = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    message = status.get('message') if isinstance(status, dict) else None
    if isinstance(message, str):
        return message
    return text.strip()[:500]


def _is_transient(err: Exception) -> bool:
    # A CA that does not match will not start matching in a few seconds.
    reason = getattr(err, 'reason', err)
    return not isinstance(reason, ssl.SSLCertVerificationError)


def _connection_message(err: Exception) -> str:
    reason = getattr(err, 'reason', None) or err
    return 'connection error: %s' % reason


def api_url_from_env() -> str:
    explicit = os.environ.get('K8S_API_URL')
    if explicit:
        return explicit
    host = os.environ.get('KUBERNETES_SERVICE_HOST')
    port = os.environ.get('KUBERNETES_SERVICE_PORT', '443')
    if not host:
        raise SpecError('neither K8S_API_URL nor KUBERNETES_SERVICE_HOST '
                        'is set')
    if ':' in host:  # IPv6 literal
        host = '[%s]' % host
    return 'https://%s:%s' % (host, port)


# --- main ------------------------------------------------------------------

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_secret(client: ApiClient, spec: Spec, secret: SecretSpec,
                  htpasswd_bin: str) -> bool:
    try:
        values = generate_data(secret, htpasswd_bin)
    except GenerationError as err:
        log('failed to generate secret %s: %s' % (secret.name, err))
        return False
    path = '/api/v1/namespaces/%s/secrets' % spec.namespace
    response = client.post(path, secret_body(spec, secret.name, values))
    if response.status == 201:
        print('created secret %s' % secret.name, flush=True)
        return True
    if response.status == 409:
        print('kept existing secret %s' % secret.name, flush=True)
        return True
    status = 'HTTP %d' % response.status if response.status else 'no response'
    log('failed to create secret %s: %s: %s'
        % (secret.name, status, redact(response.message, values)))
    return False


def read_token(path: str) -> Optional[str]:
    # Read once: the Job lives for seconds, far less than a projected
    # token's lifetime, and a missing token is better reported up front
    # than retried as if it were a network error.
    try:
        with open(path, encoding='utf-8') as handle:
            token = handle.read().strip()
    except OSError as err:
        log('cannot read service-account token %s: %s' % (path, err.strerror))
        return None
    if not token:
        log('service-account token %s is empty' % path)
        return None
    return token


def main() -> int:
    try:
        spec = parse_spec(os.environ.get('SECRETS_SPEC'))
        base_url = api_url_from_env()
        retry_base = float(os.environ.get('K8S_RETRY_BASE_SECONDS',
                                          DEFAULT_RETRY_BASE_SECONDS))
    except (SpecError, ValueError) as err:
        log('invalid input: %s' % err)
        return EXIT_BAD_SPEC
    token = read_token(os.environ.get('K8S_TOKEN_FILE', DEFAULT_TOKEN_FILE))
    if token is None:
        return EXIT_FAILED
    ca_file = os.environ.get('K8S_CA_FILE', DEFAULT_CA_FILE)
    try:
        client = ApiClient(base_url, token, ca_file, retry_base)
    except (OSError, ssl.SSLError) as err:
        log('cannot load the cluster CA %s: %s' % (ca_file, err))
        return EXIT_FAILED
    htpasswd_bin = os.environ.get('HTPASSWD_BIN', DEFAULT_HTPASSWD_BIN)
    failed = [s.name for s in spec.secrets
              if not ensure_secret(client, spec, s, htpasswd_bin)]
    if failed:
        log('%d secret(s) could not be ensured: %s'
            % (len(failed), ', '.join(failed)))
        return EXIT_FAILED
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
