#!/usr/bin/env python3
"""Publish the root CA certificate that vault-pki-setup.sh wrote to a ConfigMap.

The ConfigMap is created when missing and changed only when its key differs from the
file, so a second run sends nothing but one GET. The certificate is public; nothing
secret passes through here.

Env: ROOT_PEM_FILE, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE, CONFIGMAP_KEY, CONFIGMAP_LABELS
(JSON object), and for tests K8S_API_URL, K8S_TOKEN_FILE, K8S_CA_FILE,
K8S_RETRY_BASE_SECONDS.

Python 3.7+, standard library only.
"""

import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.request

SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'
ATTEMPTS = 5


def api_base() -> str:
    given = os.environ.get('K8S_API_URL')
    if given:
        return given.rstrip('/')
    host = os.environ['KUBERNETES_SERVICE_HOST']
    port = os.environ.get('KUBERNETES_SERVICE_PORT', '443')
    if ':' in host:
        host = '[%s]' % host
    return 'https://%s:%s' % (host, port)


def context(base: str):
    if not base.startswith('https:'):
        return None
    return ssl.create_default_context(
        cafile=os.environ.get('K8S_CA_FILE', SA_DIR + '/ca.crt'))


def request(method: str, url: str, token: str, ctx, body=None,
            content_type='application/json'):
    """Returns (status, parsed JSON or None); retries connection errors and 5xx.

    For an error status the JSON is the API's Status, whose message says why."""
    data = None if body is None else json.dumps(body).encode('utf-8')
    for attempt in range(ATTEMPTS):
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header('Authorization', 'Bearer ' + token)
        req.add_header('Accept', 'application/json')
        if data is not None:
            req.add_header('Content-Type', content_type)
        try:
            with urllib.request.urlopen(req, timeout=10, context=ctx) as res:
                return res.status, json.loads(res.read() or b'null')
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == ATTEMPTS - 1:
                try:
                    return err.code, json.loads(err.read())
                except ValueError:
                    return err.code, None
        except (urllib.error.URLError, OSError) as err:
            if attempt == ATTEMPTS - 1:
                raise SystemExit('publish-root-ca: %s %s failed: %s'
                                 % (method, url, err))
        time.sleep(float(os.environ.get('K8S_RETRY_BASE_SECONDS', '0.5')) * 2 ** attempt)
    raise SystemExit('unreachable')


def failed(doing: str, status: int, answer) -> int:
    why = answer.get('message') if isinstance(answer, dict) else None
    print('publish-root-ca: %s failed with HTTP %d%s'
          % (doing, status, ': ' + why if why else ''), file=sys.stderr)
    return 1


def main() -> int:
    with open(os.environ['ROOT_PEM_FILE'], encoding='utf-8') as f:
        pem = f.read()
    if '-----BEGIN CERTIFICATE-----' not in pem:
        print('publish-root-ca: %s holds no certificate' % os.environ['ROOT_PEM_FILE'],
              file=sys.stderr)
        return 1
    # a ConfigMap is readable by many; a key that came along by mistake must not land there
    if re.search(r'-----BEGIN [A-Z ]*PRIVATE\s+KEY-----', pem):
        print('publish-root-ca: %s holds a private key; only a certificate may be published'
              % os.environ['ROOT_PEM_FILE'], file=sys.stderr)
        return 1
    name = os.environ['CONFIGMAP_NAME']
    namespace = os.environ['CONFIGMAP_NAMESPACE']
    key = os.environ.get('CONFIGMAP_KEY', 'ca.crt')
    labels = json.loads(os.environ.get('CONFIGMAP_LABELS', '{}'))
    with open(os.environ.get('K8S_TOKEN_FILE', SA_DIR + '/token'), encoding='utf-8') as f:
        token = f.read().strip()

    base = api_base()
    ctx = context(base)
    collection = '%s/api/v1/namespaces/%s/configmaps' % (base, namespace)
    where = 'ConfigMap %s/%s' % (namespace, name)

    # twice at most: a create that loses the race to another writer reads the winner's
    for _ in range(2):
        status, found = request('GET', '%s/%s' % (collection, name), token, ctx)
        if status == 200:
            if ((found or {}).get('data') or {}).get(key) == pem:
                print('%s already holds the root CA, kept' % where)
                return 0
            status, answer = request('PATCH', '%s/%s' % (collection, name), token, ctx,
                                     {'data': {key: pem}}, 'application/merge-patch+json')
            if status != 200:
                return failed('updating %s' % where, status, answer)
            print('updated %s with the root CA' % where)
            return 0
        if status != 404:
            return failed('reading %s' % where, status, found)

        body = {
            'apiVersion': 'v1',
            'kind': 'ConfigMap',
            'metadata': {'name': name, 'namespace': namespace, 'labels': labels},
            'data': {key: pem},
        }
        status, answer = request('POST', collection, token, ctx, body)
        if status in (200, 201):
            print('created %s with the root CA' % where)
            return 0
        if status != 409:
            break
    return failed('creating %s' % where, status, answer)


if __name__ == '__main__':
    sys.exit(main())
