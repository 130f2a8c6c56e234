#!/usr/bin/env python3
"""Keep what `operator init` printed in a Secret, and hand the unseal key on.

The second step of the VaultServer init Job, between vault-init.sh and
vault-unseal.sh, which share the pod's memory-backed emptyDir $WORK_DIR.

- $WORK_DIR/init.json exists (the server was initialized just now): create
  the Secret $INIT_SECRET with the keys `unseal-key` and `root-token`, write
  the key to $WORK_DIR/unseal-key and delete init.json. A Secret of that name
  that exists already is never overwritten: unless it holds these very keys
  (an earlier attempt of this step created it and lost the answer), the
  script stops, and keeps init.json for a person to rescue.
- no init.json (initialized before): read the Secret, if there is one, and
  write its key to $WORK_DIR/unseal-key so the last step can unseal.

Env: INIT_SECRET, NAMESPACE, WORK_DIR, SECRET_LABELS (JSON), and for tests
K8S_API_URL, K8S_TOKEN_FILE, K8S_CA_FILE. Exit 0 done, 1 failed.
Python 3.7+, standard library only; no value is ever printed.
"""

import base64
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple

SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'


def api_url() -> str:
    given = os.environ.get('K8S_API_URL')
    if given:
        return given.rstrip('/')
    host = os.environ['KUBERNETES_SERVICE_HOST']
    port = os.environ.get('KUBERNETES_SERVICE_PORT', '443')
    if ':' in host:
        host = '[' + host + ']'
    return 'https://' + host + ':' + port


def request(method: str, path: str, body: Optional[Dict[str, Any]] = None
            ) -> Tuple[int, Dict[str, Any]]:
    token_file = os.environ.get('K8S_TOKEN_FILE', SA_DIR + '/token')
    with open(token_file, encoding='utf-8') as handle:
        token = handle.read().strip()
    headers = {'Authorization': 'Bearer ' + token, 'Accept': 'application/json'}
    data = None
    if body is not None:
        data = json.dumps(body).encode('utf-8')
        headers['Content-Type'] = 'application/json'
    url = api_url() + path
    context = None
    if url.startswith('https:'):
        context = ssl.create_default_context(
            cafile=os.environ.get('K8S_CA_FILE', SA_DIR + '/ca.crt'))
    # the last answer, so a run that gives up still says what the API said
    status = 0
    for attempt in range(5):
        if attempt:
            time.sleep(float(os.environ.get('K8S_RETRY_BASE_SECONDS', '1')) * 2 ** (attempt - 1))
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=context, timeout=30) as response:
                return response.status, json.loads(response.read() or b'{}')
        except urllib.error.HTTPError as error:
            if error.code < 500 and error.code != 429:
                return error.code, {}
            status = error.code
        except (urllib.error.URLError, OSError):
            status = 0
    return status, {}


def answer(status: int) -> str:
    return 'HTTP ' + str(status) if status else 'no answer from the API'


def write_key(path: str, key: str) -> None:
    # readable by the pod's group only: the unseal container shares it
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(descriptor, 'w', encoding='utf-8') as handle:
        handle.write(key)


def main() -> int:
    name = os.environ['INIT_SECRET']
    namespace = os.environ['NAMESPACE']
    work = os.environ.get('WORK_DIR', '/work')
    labels = json.loads(os.environ.get('SECRET_LABELS', '{}'))
    init_file = os.path.join(work, 'init.json')
    key_file = os.path.join(work, 'unseal-key')
    secrets = '/api/v1/namespaces/' + namespace + '/secrets'

    if not os.path.exists(init_file):
        status, secret = request('GET', secrets + '/' + name)
        if status == 404:
            print('already initialized, and no Secret ' + name + ': unseal by hand')
            return 0
        if status != 200 or 'unseal-key' not in (secret.get('data') or {}):
            print('could not read Secret ' + name + ' (' + answer(status) + ')',
                  file=sys.stderr)
            return 1
        write_key(key_file, base64.b64decode(secret['data']['unseal-key']).decode())
        print('read the unseal key from Secret ' + name)
        return 0

    with open(init_file, encoding='utf-8') as handle:
        init = json.load(handle)
    key = init['unseal_keys_b64'][0]
    encode = lambda value: base64.b64encode(value.encode()).decode()
    data = {'unseal-key': encode(key), 'root-token': encode(init['root_token'])}
    status, _ = request('POST', secrets, {
        'apiVersion': 'v1',
        'kind': 'Secret',
        'metadata': {'name': name, 'namespace': namespace, 'labels': labels},
        'type': 'Opaque',
        'data': data,
    })
    if status == 409:
        # a retried POST, or a rerun of this step, meets the Secret its first try created
        found_status, found = request('GET', secrets + '/' + name)
        if found_status == 200 and all(
                (found.get('data') or {}).get(k) == v for k, v in data.items()):
            status = 201
    if status == 409:
        print('Secret ' + name + ' exists from an earlier server; ' + init_file +
              ' holds the new keys, move them by hand', file=sys.stderr)
        return 1
    if status != 201:
        print('could not create Secret ' + name + ' (' + answer(status) + ')',
              file=sys.stderr)
        return 1
    write_key(key_file, key)
    os.remove(init_file)
    print('stored the unseal key and root token in Secret ' + name)
    return 0


if __name__ == '__main__':
    sys.exit(main())
