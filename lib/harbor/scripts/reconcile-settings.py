#!/usr/bin/env python3
"""Bring Harbor's REST API to the settings document, and report what changed.

Runs as a one-shot Job after every sync. It reads SETTINGS_FILE (the document synthesis
rendered), waits until Harbor is healthy, stops at once when Harbor refuses the login, then for
each kind reads what Harbor holds, compares and writes only what differs, in the order
references need: scanners, registries, projects, robots, replication policies, the scan-all
schedule, the system CVE allowlist, configurations. The digests of secrets written go to the
state ConfigMap in one write at the end of the run, a failed run included.
A run over a Harbor that already matches sends no write at all, to Harbor or Kubernetes.

Ownership: robots, registries, replication policies and scanners it manages carry the marker
"[<owner>]" at the end of their description. A declared object found without it is adopted;
with prune on, marked objects no longer declared are deleted. Nothing unmarked, and no project,
is ever deleted.

Secrets Harbor never returns (registry and scanner credentials, secret configuration items)
are compared through an HMAC-SHA256 digest, keyed with the Harbor password, kept in the
ConfigMap STATE_CONFIGMAP. Robot credentials go to kubernetes.io/dockerconfigjson Secrets.
No secret value is ever printed.

Env: SETTINGS_FILE, HARBOR_URL, HARBOR_CA_FILE (optional), HARBOR_USERNAME, HARBOR_PASSWORD,
NAMESPACE, STATE_CONFIGMAP, every variable the document names for a credential, and
READY_TIMEOUT_SECONDS (600), RETRY_BASE_SECONDS (1); for tests K8S_API_URL, K8S_TOKEN_FILE,
K8S_CA_FILE.
Exit: 0 converged, 1 some write or read failed (the next run retries), 2 bad document or
environment (nothing sent), 3 Harbor not ready in time, 4 Harbor refused the login (wrong
password, or a user without the admin role: nothing sent, no retry helps until the Secret is
fixed).

Python 3.7+, standard library only.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'
API = '/api/v2.0'
ATTEMPTS = 5
PAGE_SIZE = 100
REQUIRED_COMPONENTS = ('core', 'database', 'redis', 'registry')
BOOLEAN_METADATA = ('public', 'auto_scan', 'auto_sbom_generation', 'enable_content_trust',
                    'enable_content_trust_cosign', 'prevent_vul', 'reuse_sys_cve_allowlist')
# what Harbor takes a project metadata key to be when the project lacks it
METADATA_DEFAULTS = dict({key: 'false' for key in BOOLEAN_METADATA},
                         reuse_sys_cve_allowlist='true')
DOCKERCONFIG = 'kubernetes.io/dockerconfigjson'
MANAGED_BY = {'app.kubernetes.io/managed-by': 'harbor-reconcile-settings'}
SEVERITIES = ('none', 'low', 'medium', 'high', 'critical')
# configuration items Harbor holds as a string map (StringToStringMapType)
MAP_CONFIGURATIONS = ('oidc_extra_redirect_parms',)
CONFIG_KEY = re.compile(r'[-._a-zA-Z0-9]+')
# what Kubernetes takes as a namespace (DNS-1123 label) and as a Secret name (subdomain)
DNS_LABEL = re.compile(r'[a-z0-9]([-a-z0-9]*[a-z0-9])?')
DNS_SUBDOMAIN = re.compile(r'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')
# JSON numbers every reader keeps exactly, and Harbor's int32 fields
MAX_SAFE = 2 ** 53 - 1
MAX_INT32 = 2 ** 31 - 1


def retry_base() -> float:
    return float(os.environ.get('RETRY_BASE_SECONDS', '1'))


class Failed(Exception):
    """A step that cannot go on; its message is one report line."""


# -------------------------------------------------------------------------------------------
# The document

class Checker:
    """Collects every problem of the document, each naming the field as written."""

    def __init__(self):
        self.problems = []

    def fail(self, where, message, value):
        self.problems.append('%s: %s (got %s)' % (where, message, json.dumps(value)))

    def obj(self, value, where, keys):
        if not isinstance(value, dict):
            self.fail(where, 'must be an object', value)
            return False
        missing = [k for k in keys if k not in value]
        if missing:
            self.fail(where, 'missing ' + ', '.join(missing), sorted(value))
            return False
        return True

    def string(self, value, where, nonempty=False, nullable=False):
        if value is None and nullable:
            return
        if not isinstance(value, str) or (nonempty and not value):
            self.fail(where, 'must be a%s string' % (' non-empty' if nonempty else ''), value)

    def boolean(self, value, where):
        if not isinstance(value, bool):
            self.fail(where, 'must be true or false', value)

    def integer(self, value, where, nullable=False):
        if value is None and nullable:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where, 'must be an integer', value)

    def bounded(self, value, where, low, high, what, special=None):
        """An integer from low to high, or `special` (such as -1 for unlimited)."""
        self.integer(value, where)
        if (isinstance(value, int) and not isinstance(value, bool) and value != special
                and not low <= value <= high):
            self.fail(where, 'must be ' + what, value)

    def dns_name(self, value, where, pattern, limit, what):
        # these names go into Kubernetes API paths: nothing but what the API server takes
        self.string(value, where, nonempty=True)
        if isinstance(value, str) and value and (len(value) > limit
                                                 or not pattern.fullmatch(value)):
            self.fail(where, 'must be %s of at most %d characters' % (what, limit), value)

    def one_of(self, value, where, allowed):
        if value not in allowed:
            self.fail(where, 'must be one of ' + ', '.join(map(str, allowed)), value)

    def listing(self, value, where):
        if not isinstance(value, list):
            self.fail(where, 'must be a list', value)
            return []
        return value

    def unique(self, items, where, scope=lambda item: None):
        """Names declared twice in one scope: Harbor's names are unique per scope."""
        seen = set()
        for i, item in enumerate(items):
            name = item.get('name') if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue  # reported by the name's own check
            key = (scope(item), name)
            if key in seen:
                self.fail('%s[%d].name' % (where, i), 'is declared twice', name)
            seen.add(key)

    def env(self, name, where):
        self.string(name, where, nonempty=True)
        if not isinstance(name, str) or not name:
            return
        if name not in os.environ:
            self.fail(where, 'names an environment variable that is not set', name)
        elif not os.environ[name]:
            self.fail(where, 'names an environment variable that is empty (it comes from a '
                      'Secret key): put the value into that Secret key', name)

    def allowlist(self, value, where):
        if value is None:
            return
        if self.obj(value, where, ('items', 'expiresAt')):
            for i, cve in enumerate(self.listing(value['items'], where + '.items')):
                self.string(cve, '%s.items[%d]' % (where, i), nonempty=True)
            if value['expiresAt'] is not None:
                self.bounded(value['expiresAt'], where + '.expiresAt', 0, MAX_SAFE,
                             'Unix seconds from 0 to %d, or null for never' % MAX_SAFE)

    def selector(self, value, where, decorations):
        """A retention tag or repository selector; True when it is an object."""
        if not self.obj(value, where, ('kind', 'decoration', 'pattern')):
            return False
        self.one_of(value['kind'], where + '.kind', ['doublestar'])
        self.one_of(value['decoration'], where + '.decoration', decorations)
        self.string(value['pattern'], where + '.pattern', nonempty=True)
        return True

    def extras(self, value, where):
        # Harbor reads it as a JSON object, such as {"untagged": true}
        try:
            parsed = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            self.fail(where, 'must be a string holding a JSON object', value)


def check_document(doc) -> list:
    c = Checker()
    top = ('apiVersion', 'owner', 'prune', 'robotNamePrefix', 'projects', 'robots', 'registries',
           'replicationPolicies', 'scanners', 'scanAllSchedule', 'systemCveAllowlist',
           'configurations', 'secretConfigurations')
    if not c.obj(doc, 'document', top):
        return c.problems
    c.one_of(doc['apiVersion'], 'apiVersion', ['cdk8s-harbor/v1'])
    c.string(doc['owner'], 'owner', nonempty=True)
    if isinstance(doc['owner'], str) and re.search(r'[\[\]\n]', doc['owner']):
        c.fail('owner', 'must not contain brackets or line breaks', doc['owner'])
    c.boolean(doc['prune'], 'prune')
    c.string(doc['robotNamePrefix'], 'robotNamePrefix', nonempty=True)

    scanners = c.listing(doc['scanners'], 'scanners')
    for i, s in enumerate(scanners):
        w = 'scanners[%d]' % i
        if not c.obj(s, w, ('name', 'url', 'description', 'auth', 'accessCredentialEnv',
                            'skipCertVerify', 'useInternalAddr', 'default')):
            continue
        c.string(s['name'], w + '.name', nonempty=True)
        c.string(s['url'], w + '.url', nonempty=True)
        c.string(s['description'], w + '.description')
        c.one_of(s['auth'], w + '.auth', ['', 'Basic', 'Bearer', 'X-ScannerAdapter-API-Key'])
        if s['auth'] == '':
            if s['accessCredentialEnv'] is not None:
                c.fail(w + '.accessCredentialEnv', 'must be null when auth is empty',
                       s['accessCredentialEnv'])
        else:
            c.env(s['accessCredentialEnv'], w + '.accessCredentialEnv')
        for key in ('skipCertVerify', 'useInternalAddr', 'default'):
            c.boolean(s[key], '%s.%s' % (w, key))
    c.unique(scanners, 'scanners')
    if sum(1 for s in scanners if isinstance(s, dict) and s.get('default') is True) > 1:
        c.fail('scanners', 'at most one scanner can be the default',
               [s.get('name') for s in scanners if isinstance(s, dict) and s.get('default')])

    registries = c.listing(doc['registries'], 'registries')
    for i, r in enumerate(registries):
        w = 'registries[%d]' % i
        if not c.obj(r, w, ('name', 'type', 'url', 'insecure', 'description', 'credential')):
            continue
        c.string(r['name'], w + '.name', nonempty=True)
        c.string(r['type'], w + '.type', nonempty=True)
        c.string(r['url'], w + '.url', nonempty=True)
        c.boolean(r['insecure'], w + '.insecure')
        c.string(r['description'], w + '.description')
        cred = r['credential']
        if cred is not None and c.obj(cred, w + '.credential',
                                      ('type', 'accessKeyEnv', 'accessSecretEnv')):
            c.one_of(cred['type'], w + '.credential.type', ['basic', 'oauth', 'secret'])
            c.env(cred['accessKeyEnv'], w + '.credential.accessKeyEnv')
            c.env(cred['accessSecretEnv'], w + '.credential.accessSecretEnv')
    c.unique(registries, 'registries')
    registry_names = {r.get('name') for r in registries
                      if isinstance(r, dict) and isinstance(r.get('name'), str)}

    projects = c.listing(doc['projects'], 'projects')
    for i, p in enumerate(projects):
        w = 'projects[%d]' % i
        if not c.obj(p, w, ('name', 'metadata', 'storageLimit', 'cveAllowlist', 'scanner',
                            'retention')):
            continue
        c.string(p['name'], w + '.name', nonempty=True)
        # every key, always: a key left out would leave Harbor's value as it happens to be
        if c.obj(p['metadata'], w + '.metadata', BOOLEAN_METADATA + ('severity',)):
            for key, value in p['metadata'].items():
                mw = '%s.metadata.%s' % (w, key)
                if key == 'severity':
                    c.one_of(value, mw, SEVERITIES)
                elif key not in BOOLEAN_METADATA:
                    c.fail(mw, 'is not a project metadata key the settings document has', value)
                elif value not in ('true', 'false'):
                    c.fail(mw, 'must be the string "true" or "false"', value)
        c.bounded(p['storageLimit'], w + '.storageLimit', 1, MAX_SAFE,
                  '-1 (unlimited) or bytes from 1 to %d' % MAX_SAFE, special=-1)
        c.allowlist(p['cveAllowlist'], w + '.cveAllowlist')
        c.string(p['scanner'], w + '.scanner', nonempty=True, nullable=True)
        retention = p['retention']
        if retention is not None and c.obj(retention, w + '.retention',
                                           ('algorithm', 'rules', 'cron')):
            c.one_of(retention['algorithm'], w + '.retention.algorithm', ['or'])
            c.string(retention['cron'], w + '.retention.cron', nonempty=True, nullable=True)
            for j, rule in enumerate(c.listing(retention['rules'], w + '.retention.rules')):
                rw = '%s.retention.rules[%d]' % (w, j)
                if c.obj(rule, rw, ('disabled', 'action', 'template', 'params',
                                    'tag_selectors', 'scope_selectors')):
                    c.boolean(rule['disabled'], rw + '.disabled')
                    c.one_of(rule['action'], rw + '.action', ['retain'])
                    c.string(rule['template'], rw + '.template', nonempty=True)
                    if isinstance(rule['params'], dict):
                        for key, value in rule['params'].items():
                            c.bounded(value, '%s.params.%s' % (rw, key), 1, MAX_SAFE,
                                      'a whole number from 1 to %d' % MAX_SAFE)
                    else:
                        c.fail(rw + '.params', 'must be an object', rule['params'])
                    for k, sel in enumerate(c.listing(rule['tag_selectors'],
                                                      rw + '.tag_selectors')):
                        sw = '%s.tag_selectors[%d]' % (rw, k)
                        if c.selector(sel, sw, ['matches', 'excludes']) and 'extras' in sel:
                            c.extras(sel['extras'], sw + '.extras')
                    scopes = rule['scope_selectors']
                    if c.obj(scopes, rw + '.scope_selectors', ('repository',)):
                        for key in scopes:
                            if key != 'repository':
                                c.fail('%s.scope_selectors.%s' % (rw, key),
                                       'is not a scope; Harbor selects by repository only',
                                       scopes[key])
                        for k, sel in enumerate(c.listing(
                                scopes['repository'], rw + '.scope_selectors.repository')):
                            c.selector(sel, '%s.scope_selectors.repository[%d]' % (rw, k),
                                       ['repoMatches', 'repoExcludes'])
    c.unique(projects, 'projects')

    robots = c.listing(doc['robots'], 'robots')
    for i, r in enumerate(robots):
        w = 'robots[%d]' % i
        if not c.obj(r, w, ('name', 'level', 'description', 'duration', 'disable',
                            'permissions', 'secret')):
            continue
        c.string(r['name'], w + '.name', nonempty=True)
        c.one_of(r['level'], w + '.level', ['system', 'project'])
        c.string(r['description'], w + '.description')
        c.bounded(r['duration'], w + '.duration', 1, MAX_INT32,
                  '-1 (never expires) or days from 1 to %d' % MAX_INT32, special=-1)
        c.boolean(r['disable'], w + '.disable')
        permissions = c.listing(r['permissions'], w + '.permissions')
        if not permissions:
            c.fail(w + '.permissions', 'must not be empty', permissions)
        for j, perm in enumerate(permissions):
            pw = '%s.permissions[%d]' % (w, j)
            if c.obj(perm, pw, ('kind', 'namespace', 'access')):
                c.one_of(perm['kind'], pw + '.kind', ['project', 'system'])
                c.string(perm['namespace'], pw + '.namespace', nonempty=True)
                for k, access in enumerate(c.listing(perm['access'], pw + '.access')):
                    if c.obj(access, '%s.access[%d]' % (pw, k), ('resource', 'action')):
                        c.string(access['resource'], '%s.access[%d].resource' % (pw, k), True)
                        c.string(access['action'], '%s.access[%d].action' % (pw, k), True)
        if r['level'] == 'project' and permissions and isinstance(permissions[0], dict):
            first = permissions[0]
            if (len(permissions) != 1 or first.get('kind') != 'project'
                    or first.get('namespace') in ('*', '/')):
                c.fail(w + '.permissions', 'a project robot has exactly one permission, of '
                       'kind project, on one named project', permissions)
        secret = r['secret']
        if c.obj(secret, w + '.secret', ('name', 'namespaces', 'registry')):
            c.dns_name(secret['name'], w + '.secret.name', DNS_SUBDOMAIN, 253,
                       'a Secret name (lowercase letters, digits, "-" and ".", a letter or '
                       'digit at each end of every dot-separated part)')
            c.string(secret['registry'], w + '.secret.registry', nonempty=True)
            for j, ns in enumerate(c.listing(secret['namespaces'], w + '.secret.namespaces')):
                c.dns_name(ns, '%s.secret.namespaces[%d]' % (w, j), DNS_LABEL, 63,
                           'a namespace name (lowercase letters, digits and "-", a letter or '
                           'digit at each end)')
            if isinstance(secret['namespaces'], list) and not secret['namespaces']:
                c.fail(w + '.secret.namespaces', 'must name at least one namespace', [])
    c.unique(robots, 'robots', robot_scope)

    policies = c.listing(doc['replicationPolicies'], 'replicationPolicies')
    for i, p in enumerate(policies):
        w = 'replicationPolicies[%d]' % i
        if not c.obj(p, w, ('name', 'description', 'srcRegistry', 'destRegistry',
                            'destNamespace', 'destNamespaceReplaceCount', 'filters', 'trigger',
                            'override', 'enabled', 'replicateDeletion', 'speed',
                            'copyByChunk')):
            continue
        c.string(p['name'], w + '.name', nonempty=True)
        c.string(p['description'], w + '.description')
        for key in ('srcRegistry', 'destRegistry'):
            c.string(p[key], '%s.%s' % (w, key), nonempty=True, nullable=True)
            if isinstance(p[key], str) and p[key] and p[key] not in registry_names:
                c.fail('%s.%s' % (w, key), 'must name a registry of registries', p[key])
        if (p['srcRegistry'] is None) == (p['destRegistry'] is None):
            c.fail(w, 'exactly one of srcRegistry and destRegistry names a registry',
                   [p['srcRegistry'], p['destRegistry']])
        c.string(p['destNamespace'], w + '.destNamespace')
        c.bounded(p['destNamespaceReplaceCount'], w + '.destNamespaceReplaceCount', -1, 127,
                  '-1 (keep the source path) or path parts to replace from 0 to 127')
        for j, f in enumerate(c.listing(p['filters'], w + '.filters')):
            if c.obj(f, '%s.filters[%d]' % (w, j), ('type', 'value')):
                c.one_of(f['type'], '%s.filters[%d].type' % (w, j),
                         ['name', 'tag', 'label', 'resource'])
                c.string(f['value'], '%s.filters[%d].value' % (w, j))
                if 'decoration' in f:
                    c.one_of(f['decoration'], '%s.filters[%d].decoration' % (w, j),
                             ['matches', 'excludes'])
        if c.obj(p['trigger'], w + '.trigger', ('type', 'cron')):
            c.one_of(p['trigger']['type'], w + '.trigger.type',
                     ['manual', 'scheduled', 'event_based'])
            c.string(p['trigger']['cron'], w + '.trigger.cron', nullable=True)
            if p['trigger']['type'] == 'scheduled' and not p['trigger']['cron']:
                c.fail(w + '.trigger.cron', 'is required for a scheduled trigger', None)
        for key in ('override', 'enabled', 'replicateDeletion', 'copyByChunk'):
            c.boolean(p[key], '%s.%s' % (w, key))
        c.bounded(p['speed'], w + '.speed', -1, MAX_INT32,
                  'KB/s from -1 to %d (0 or less is unlimited)' % MAX_INT32)
    c.unique(policies, 'replicationPolicies')

    schedule = doc['scanAllSchedule']
    if schedule is not None and c.obj(schedule, 'scanAllSchedule', ('type', 'cron')):
        c.one_of(schedule['type'], 'scanAllSchedule.type',
                 ['Hourly', 'Daily', 'Weekly', 'Custom', 'None'])
        # Harbor needs the cron of every scheduled type: it fills in none itself
        c.string(schedule['cron'], 'scanAllSchedule.cron', nonempty=True,
                 nullable=schedule['type'] == 'None')
    c.allowlist(doc['systemCveAllowlist'], 'systemCveAllowlist')

    if isinstance(doc['configurations'], dict):
        for key, value in doc['configurations'].items():
            if not isinstance(value, (str, int, float, bool)):
                c.fail('configurations.' + key, 'must be a string, number or boolean', value)
            elif not isinstance(value, (str, bool)) and abs(value) > MAX_SAFE:
                c.fail('configurations.' + key, 'must be a number from -%d to %d'
                       % (MAX_SAFE, MAX_SAFE), value)
    else:
        c.fail('configurations', 'must be an object', doc['configurations'])
    if isinstance(doc['secretConfigurations'], dict):
        for key, env in doc['secretConfigurations'].items():
            c.env(env, 'secretConfigurations.' + key)
    else:
        c.fail('secretConfigurations', 'must be an object', doc['secretConfigurations'])
    return c.problems


# -------------------------------------------------------------------------------------------
# HTTP

def tls_context(base: str, cafile):
    if not base.startswith('https:'):
        return None
    return ssl.create_default_context(cafile=cafile or None)


def send(method, url, headers, ctx, body=None, content_type='application/json'):
    """One request: (status, parsed body or None, response headers); status 0 when no answer."""
    data = None if body is None else json.dumps(body).encode('utf-8')
    req = urllib.request.Request(url, data=data, method=method)
    for key, value in headers.items():
        req.add_header(key, value)
    req.add_header('Accept', 'application/json')
    if data is not None:
        req.add_header('Content-Type', content_type)
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as res:
            raw = res.read()
            return res.status, parse(raw), dict(res.headers)
    except urllib.error.HTTPError as err:
        return err.code, parse(err.read()), dict(err.headers or {})
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, 'reason', err)
        return 0, {'message': 'no answer: %s' % reason}, {}


def parse(raw):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def why(answer) -> str:
    """Harbor's or Kubernetes' own words for a refusal."""
    if isinstance(answer, dict):
        errors = answer.get('errors')
        if isinstance(errors, list) and errors:
            return '; '.join(str(e.get('message', e)) if isinstance(e, dict) else str(e)
                             for e in errors)
        if answer.get('message'):
            return str(answer['message'])
    return 'no message'


class Client:
    """A JSON API with retries for reads: connection errors and 5xx. Writes go once."""

    def __init__(self, base, headers, ctx):
        self.base = base.rstrip('/')
        self.headers = headers
        self.ctx = ctx

    def call(self, method, path, body=None, headers=None, content_type='application/json'):
        all_headers = dict(self.headers)
        all_headers.update(headers or {})
        url = self.base + path
        attempts = ATTEMPTS if method == 'GET' else 1
        for attempt in range(attempts):
            status, answer, got = send(method, url, all_headers, self.ctx, body, content_type)
            if (status == 0 or status >= 500) and attempt < attempts - 1:
                time.sleep(retry_base() * 2 ** attempt)
                continue
            return status, answer, got
        raise AssertionError('unreachable')

    def read(self, path, doing, headers=None, missing_ok=False):
        status, answer, _ = self.call('GET', path, headers=headers)
        if status == 200:
            return answer
        if status == 404 and missing_ok:
            return None
        raise Failed('reading %s failed: HTTP %d: %s' % (doing, status, why(answer)))


# -------------------------------------------------------------------------------------------
# Comparison helpers

def same(a, b) -> bool:
    """Equal values of the same JSON type: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) == type(b) and a == b


def robot_scope(r) -> str:
    """Where a robot's name must be unique: Harbor names a project robot after its project
    (robot$a+ci and robot$b+ci are two robots), a system robot after nothing."""
    permissions = r.get('permissions')
    if r.get('level') != 'project' or not isinstance(permissions, list) or not permissions:
        return 'system'
    first = permissions[0]
    return 'project %s' % (first.get('namespace') if isinstance(first, dict) else None)


def same_configuration(key, have, want) -> bool:
    """Whether a configuration item already holds the declared value. A map item, such as
    oidc_extra_redirect_parms, is sent as a JSON string and shown as Harbor marshals it again
    (keys sorted, '&' escaped), so it is compared by the map it holds."""
    if key in MAP_CONFIGURATIONS:
        return same(json_value(have), json_value(want))
    return same(have, want)


def json_value(value):
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def allowlist_items(allowlist) -> list:
    items = (allowlist or {}).get('items') or []
    return sorted(i.get('cve_id', '') for i in items if isinstance(i, dict))


def allowlist_body(declared) -> dict:
    return {'items': [{'cve_id': cve} for cve in declared['items']],
            'expires_at': declared['expiresAt']}


def allowlist_differs(current, declared) -> bool:
    expires = (current or {}).get('expires_at') or None
    return (allowlist_items(current) != sorted(declared['items'])
            or expires != (declared['expiresAt'] or None))


# -------------------------------------------------------------------------------------------
# The reconciler

class Reconciler:
    def __init__(self, doc, harbor: Client, k8s: Client, namespace, state_name, digest_key):
        self.doc = doc
        self.harbor = harbor
        self.k8s = k8s
        self.namespace = namespace
        self.state_name = state_name
        self.digest_key = digest_key
        self.owner = doc['owner']
        self.marker = '[%s]' % doc['owner']
        self.changes = 0
        self.failures = []
        self.state = {}
        self.state_object = None
        # digests noted in this run and not yet written: key -> digest, None to forget
        self.pending = {}
        self.scanner_ids = {}
        self.registry_ids = {}
        self.project_ids = {}
        self.unavailable = set()

    # reporting -----------------------------------------------------------------------------

    def changed(self, line):
        self.changes += 1
        print(line, flush=True)

    def failed(self, line):
        self.failures.append(line)
        print('FAILED ' + line, file=sys.stderr, flush=True)

    def write(self, method, path, body, doing, headers=None):
        """A Harbor write; on refusal reports it and returns None."""
        status, answer, got = self.harbor.call(method, API + path, body, headers)
        if 200 <= status < 300:
            return got
        self.failed('%s: HTTP %d: %s' % (doing, status, why(answer)))
        return None

    def described(self, description) -> str:
        return (description + ' ' if description else '') + self.marker

    def owned(self, obj) -> bool:
        return (obj.get('description') or '').endswith(self.marker)

    def listed(self, path, doing) -> list:
        found = []
        page = 1
        while True:
            sep = '&' if '?' in path else '?'
            answer = self.harbor.read('%s%s%spage=%d&page_size=%d'
                                      % (API, path, sep, page, PAGE_SIZE), doing)
            batch = answer if isinstance(answer, list) else []
            found.extend(batch)
            if len(batch) < PAGE_SIZE:
                return found
            page += 1

    # state ConfigMap -----------------------------------------------------------------------

    def state_path(self, name=None):
        path = '/api/v1/namespaces/%s/configmaps' % urllib.parse.quote(self.namespace, safe='')
        return path + ('/' + urllib.parse.quote(name, safe='') if name else '')

    def load_state(self):
        found = self.k8s.read(self.state_path(self.state_name),
                              'ConfigMap %s/%s' % (self.namespace, self.state_name),
                              missing_ok=True)
        self.state_object = found
        self.state = dict((found or {}).get('data') or {})
        self.state.update((k, v) for k, v in self.pending.items() if v is not None)
        for key in [k for k, v in self.pending.items() if v is None]:
            self.state.pop(key, None)

    @staticmethod
    def state_key(kind, name) -> str:
        key = '%s.%s' % (kind, name)
        if CONFIG_KEY.fullmatch(key) and len(key) <= 253:
            return key
        return '%s.x-%s' % (kind, hashlib.sha256(name.encode('utf-8')).hexdigest()[:32])

    def digest(self, key, *values) -> str:
        message = '\0'.join((key,) + values).encode('utf-8')
        return hmac.new(self.digest_key, message, hashlib.sha256).hexdigest()

    def secret_stale(self, key, *values) -> bool:
        return self.state.get(key) != self.digest(key, *values)

    def remember(self, key, *values):
        """Notes the digest of what was just written, or forgets it (no values); save_state
        writes them all at once."""
        value = self.digest(key, *values) if values else None
        if self.state.get(key) == value:
            return
        self.pending[key] = value
        if value is None:
            self.state.pop(key, None)
        else:
            self.state[key] = value

    def save_state(self):
        """One write of the ConfigMap, with every digest noted in this run, if any changed."""
        if self.state == dict((self.state_object or {}).get('data') or {}):
            self.pending = {}
            return
        where = 'ConfigMap %s/%s' % (self.namespace, self.state_name)
        for _ in range(2):
            if self.state_object is None:
                body = {'apiVersion': 'v1', 'kind': 'ConfigMap',
                        'metadata': {'name': self.state_name, 'namespace': self.namespace,
                                     'labels': MANAGED_BY},
                        'data': self.state}
                status, answer, _ = self.k8s.call('POST', self.state_path(), body)
            else:
                body = dict(self.state_object)
                body['data'] = self.state
                status, answer, _ = self.k8s.call('PUT', self.state_path(self.state_name), body)
            if status in (200, 201):
                self.state_object = answer
                self.pending = {}
                return
            if status != 409:
                break
            # another writer came first: start again from what it left
            self.load_state()
        self.failed('recording %s in %s: HTTP %d: %s'
                    % (', '.join(sorted(self.pending)), where, status, why(answer)))

    # scanners ------------------------------------------------------------------------------

    def scanners(self):
        current = self.current('scanner', '/scanners', self.doc['scanners'])
        for s in current.values():
            self.scanner_ids[s['name']] = s.get('uuid')
        for s in self.doc['scanners']:
            try:
                self.scanner(s, current.get(s['name']))
            except Failed as err:
                self.failed(str(err))
                self.unavailable.add(('scanner', s['name']))

    def scanner(self, s, found):
        name = s['name']
        key = self.state_key('scanner', name)
        credential = os.environ[s['accessCredentialEnv']] if s['accessCredentialEnv'] else ''
        body = {'name': name, 'url': s['url'], 'description': self.described(s['description']),
                'auth': s['auth'], 'skip_certVerify': s['skipCertVerify'],
                'use_internal_addr': s['useInternalAddr'], 'disabled': False}
        send_credential = bool(credential) and (found is None or self.secret_stale(key, credential))
        if send_credential:
            body['access_credential'] = credential
        if found is None:
            status, answer, _ = self.harbor.call('POST', API + '/scanners', body)
            if 200 <= status < 300:
                self.changed('created scanner %s' % name)
            found = self.lookup('/scanners', name)
            if found is None:
                raise Failed('creating scanner %s: HTTP %d: %s' % (name, status, why(answer)))
            self.scanner_ids[name] = found.get('uuid')
            if not 200 <= status < 300:
                # made by an earlier run whose answer was lost: compare it as found
                return self.scanner(s, found)
        else:
            differs = [field for field, have in (
                ('url', found.get('url')), ('description', found.get('description')),
                ('auth', found.get('auth') or ''),
                ('skip_certVerify', bool(found.get('skip_certVerify'))),
                ('use_internal_addr', bool(found.get('use_internal_addr'))),
                ('disabled', bool(found.get('disabled'))),
            ) if not same(have, body[field])]
            if send_credential:
                differs.append('access_credential')
            if differs:
                path = '/scanners/%s' % urllib.parse.quote(found['uuid'], safe='')
                if self.write('PUT', path, body, 'updating scanner %s' % name) is None:
                    raise Failed('scanner %s is not as declared' % name)
                self.report_update('scanner', name, found, differs)
        if send_credential:
            self.remember(key, credential)
        elif not credential:
            self.remember(key)
        if s['default'] and not found.get('is_default'):
            path = '/scanners/%s' % urllib.parse.quote(found['uuid'], safe='')
            if self.write('PATCH', path, {'is_default': True},
                          'making scanner %s the default' % name) is not None:
                self.changed('updated scanner %s: is_default' % name)

    def report_update(self, kind, name, found, differs):
        if not self.owned(found):
            self.changed('adopted %s %s' % (kind, name))
            differs = [d for d in differs if d != 'description']
            if differs:
                self.changed('updated %s %s: %s' % (kind, name, ', '.join(differs)))
        else:
            self.changed('updated %s %s: %s' % (kind, name, ', '.join(differs)))

    def lookup(self, path, name):
        return next((o for o in self.listed(path, path.strip('/')) if o.get('name') == name),
                    None)

    def find(self, path, name, doing):
        found = self.lookup(path, name)
        if found is None:
            raise Failed('%s was created but cannot be found' % doing)
        return found

    def current(self, kind, path, declared) -> dict:
        """The kind's objects by name; when unreadable, every declared one is out of reach."""
        try:
            return {o.get('name'): o for o in self.listed(path, kind + ' list')}
        except Failed:
            self.unavailable.update((kind, d['name']) for d in declared)
            raise

    # registries ----------------------------------------------------------------------------

    def registries(self):
        current = self.current('registry', '/registries', self.doc['registries'])
        for r in current.values():
            self.registry_ids[r['name']] = r.get('id')
        for r in self.doc['registries']:
            try:
                self.registry(r, current.get(r['name']))
            except Failed as err:
                self.failed(str(err))
                self.unavailable.add(('registry', r['name']))

    def registry(self, r, found):
        name = r['name']
        key = self.state_key('registry', name)
        cred = r['credential']
        access_key = os.environ[cred['accessKeyEnv']] if cred else ''
        secret = os.environ[cred['accessSecretEnv']] if cred else ''
        cred_type = cred['type'] if cred else 'basic'
        description = self.described(r['description'])
        if found is None:
            body = {'name': name, 'type': r['type'], 'url': r['url'],
                    'insecure': r['insecure'], 'description': description}
            if cred:
                body['credential'] = {'type': cred_type, 'access_key': access_key,
                                      'access_secret': secret}
            status, answer, _ = self.harbor.call('POST', API + '/registries', body)
            if not 200 <= status < 300:
                # made by an earlier run whose answer was lost: compare it as found
                found = self.lookup('/registries', name)
                if found is None:
                    raise Failed('creating registry %s: HTTP %d: %s'
                                 % (name, status, why(answer)))
            else:
                self.changed('created registry %s' % name)
                found = self.find('/registries', name, 'registry %s' % name)
                self.registry_ids[name] = found.get('id')
                if cred:
                    self.remember(key, access_key, secret)
                return
        self.registry_ids[name] = found.get('id')
        if found.get('type') != r['type']:
            raise Failed('registry %s is of type %s, declared %s: Harbor cannot change the type '
                         'of a registry; delete it in Harbor or rename it in the declaration'
                         % (name, found.get('type'), r['type']))
        have_cred = found.get('credential') or {}
        body = {}
        if found.get('url') != r['url']:
            body['url'] = r['url']
        if bool(found.get('insecure')) != r['insecure']:
            body['insecure'] = r['insecure']
        if found.get('description') != description:
            body['description'] = description
        if (have_cred.get('access_key') or '') != access_key:
            body['access_key'] = access_key
        if cred and (have_cred.get('type') or 'basic') != cred_type:
            body['credential_type'] = cred_type
        if cred and ('access_key' in body or self.secret_stale(key, access_key, secret)):
            body['access_secret'] = secret
        if cred is None and 'access_key' in body:
            body['access_secret'] = ''
        if body:
            if self.write('PUT', '/registries/%d' % found['id'], body,
                          'updating registry %s' % name) is None:
                raise Failed('registry %s is not as declared' % name)
            self.report_update('registry', name, found, sorted(body))
        if cred and 'access_secret' in body:
            self.remember(key, access_key, secret)
        elif not cred:
            self.remember(key)

    # projects ------------------------------------------------------------------------------

    def projects(self):
        current = self.current('project', '/projects', self.doc['projects'])
        for p in self.doc['projects']:
            try:
                self.project(p, current.get(p['name']))
            except Failed as err:
                self.failed(str(err))
                self.unavailable.add(('project', p['name']))

    def project_path(self, name, rest=''):
        return '/projects/%s%s' % (urllib.parse.quote(name, safe=''), rest)

    def project(self, p, found):
        name = p['name']
        by_name = {'X-Is-Resource-Name': 'true'}
        created = False
        if found is None:
            body = {'project_name': name, 'metadata': dict(p['metadata']),
                    'storage_limit': p['storageLimit']}
            if p['cveAllowlist'] is not None:
                body['cve_allowlist'] = allowlist_body(p['cveAllowlist'])
            status, answer, _ = self.harbor.call('POST', API + '/projects', body)
            if 200 <= status < 300:
                self.changed('created project %s' % name)
                created = True
            elif status != 409:
                raise Failed('creating project %s: HTTP %d: %s' % (name, status, why(answer)))
        found = self.harbor.read(API + self.project_path(name), 'project %s' % name, by_name)
        project_id = found.get('project_id')
        self.project_ids[name] = project_id

        if not created:
            metadata = found.get('metadata') or {}
            changed = {}
            for key, value in p['metadata'].items():
                have = metadata.get(key)
                if have is None:
                    have = METADATA_DEFAULTS.get(key)
                if have != value:
                    changed[key] = value
            differs = ['metadata.' + k for k in sorted(changed)]
            body = {}
            if changed:
                body['metadata'] = changed
            if p['cveAllowlist'] is not None and allowlist_differs(found.get('cve_allowlist'),
                                                                   p['cveAllowlist']):
                body['cve_allowlist'] = allowlist_body(p['cveAllowlist'])
                differs.append('cve_allowlist')
            if body:
                if self.write('PUT', self.project_path(name), body,
                              'updating project %s' % name, by_name) is not None:
                    self.changed('updated project %s: %s' % (name, ', '.join(differs)))
            self.quota(name, project_id, p['storageLimit'])

        if p['scanner'] is not None:
            self.project_scanner(name, p['scanner'])
        if p['retention'] is not None:
            self.retention(name, project_id, (found.get('metadata') or {}).get('retention_id'),
                           p['retention'])

    def quota(self, name, project_id, limit):
        quotas = self.harbor.read('%s/quotas?reference=project&reference_id=%s'
                                  % (API, project_id), 'the quota of project %s' % name)
        if not quotas:
            self.failed('project %s has no quota to set' % name)
            return
        quota = quotas[0]
        if not same((quota.get('hard') or {}).get('storage'), limit):
            if self.write('PUT', '/quotas/%d' % quota['id'], {'hard': {'storage': limit}},
                          'setting the quota of project %s' % name) is not None:
                self.changed('updated project %s: storage_limit' % name)

    def project_scanner(self, name, scanner):
        if ('scanner', scanner) in self.unavailable or scanner not in self.scanner_ids:
            self.failed('setting the scanner of project %s: scanner %s is not in place'
                        % (name, scanner))
            return
        uuid = self.scanner_ids[scanner]
        current = self.harbor.read(API + self.project_path(name, '/scanner'),
                                   'the scanner of project %s' % name,
                                   {'X-Is-Resource-Name': 'true'}, missing_ok=True)
        if (current or {}).get('uuid') == uuid:
            return
        if self.write('PUT', self.project_path(name, '/scanner'), {'uuid': uuid},
                      'setting the scanner of project %s' % name,
                      {'X-Is-Resource-Name': 'true'}) is not None:
            self.changed('updated project %s: scanner' % name)

    def retention(self, name, project_id, retention_id, declared):
        trigger = {'kind': 'Schedule', 'settings': {'cron': declared['cron'] or ''}}
        rules = [dict(rule) for rule in declared['rules']]
        body = {'algorithm': declared['algorithm'], 'rules': rules, 'trigger': trigger,
                'scope': {'level': 'project', 'ref': project_id}}
        if not retention_id:
            status, answer, _ = self.harbor.call('POST', API + '/retentions', body)
            if 200 <= status < 300:
                self.changed('created retention policy of project %s' % name)
                return
            # a policy made by a run whose answer was lost: read it back and compare
            again = self.harbor.read(API + self.project_path(name), 'project %s' % name,
                                     {'X-Is-Resource-Name': 'true'})
            retention_id = (again.get('metadata') or {}).get('retention_id')
            if not retention_id:
                self.failed('creating the retention policy of project %s: HTTP %d: %s'
                            % (name, status, why(answer)))
                return
        path = '/retentions/%s' % urllib.parse.quote(str(retention_id), safe='')
        policy = self.harbor.read(API + path, 'the retention policy of project %s' % name)
        have_cron = ((policy.get('trigger') or {}).get('settings') or {}).get('cron') or ''
        differs = []
        if policy.get('algorithm') != declared['algorithm']:
            differs.append('algorithm')
        if [normal_rule(r) for r in policy.get('rules') or []] != [normal_rule(r) for r in rules]:
            differs.append('rules')
        if have_cron != (declared['cron'] or ''):
            differs.append('cron')
        if not differs:
            return
        body['id'] = int(retention_id)
        if self.write('PUT', path, body,
                      'updating the retention policy of project %s' % name) is not None:
            self.changed('updated retention policy of project %s: %s' % (name, ', '.join(differs)))

    # robots --------------------------------------------------------------------------------

    def full_robot_name(self, r) -> str:
        if r['level'] == 'system':
            return self.doc['robotNamePrefix'] + r['name']
        return '%s%s+%s' % (self.doc['robotNamePrefix'], r['permissions'][0]['namespace'],
                            r['name'])

    def project_id(self, name):
        if name not in self.project_ids:
            found = self.harbor.read(API + self.project_path(name), 'project %s' % name,
                                     {'X-Is-Resource-Name': 'true'})
            self.project_ids[name] = found.get('project_id')
        return self.project_ids[name]

    def robots_of(self, project_id=None) -> list:
        """System robots, or the robots of one project: Harbor lists them apart."""
        if project_id is None:
            return self.listed('/robots', 'system robots')
        query = urllib.parse.quote('Level=project,ProjectID=%d' % project_id)
        return self.listed('/robots?q=' + query, 'robots of project %d' % project_id)

    def robots(self):
        listed = {}
        for r in self.doc['robots']:
            full = self.full_robot_name(r)
            blocked = [p['namespace'] for p in r['permissions']
                       if ('project', p['namespace']) in self.unavailable]
            if blocked:
                self.failed('robot %s skipped: project %s is not in place'
                            % (full, ', '.join(blocked)))
                continue
            try:
                project_id = None
                if r['level'] == 'project':
                    project_id = self.project_id(r['permissions'][0]['namespace'])
                if project_id not in listed:
                    listed[project_id] = self.robots_of(project_id)
                found = next((o for o in listed[project_id] if o.get('name') == full), None)
                self.robot(r, full, found, project_id)
            except Failed as err:
                self.failed(str(err))

    def robot(self, r, full, found, project_id):
        description = self.described(r['description'])
        permissions = [{'kind': p['kind'], 'namespace': p['namespace'],
                        'access': [dict(a) for a in p['access']]} for p in r['permissions']]
        secret = None
        if found is None:
            body = {'name': r['name'], 'description': description, 'level': r['level'],
                    'duration': r['duration'], 'disable': r['disable'],
                    'permissions': permissions}
            status, answer, _ = self.harbor.call('POST', API + '/robots', body)
            if 200 <= status < 300 and isinstance(answer, dict):
                self.changed('created robot %s' % full)
                secret = answer.get('secret')
                found = {'id': answer.get('id'), 'name': answer.get('name') or full}
            else:
                found = next((o for o in self.robots_of(project_id) if o.get('name') == full),
                             None)
                if found is None:
                    raise Failed('creating robot %s: HTTP %d: %s' % (full, status, why(answer)))
        if secret is None:
            differs = [field for field, have, want in (
                ('description', found.get('description'), description),
                ('duration', found.get('duration'), r['duration']),
                ('disable', bool(found.get('disable')), r['disable']),
                ('permissions', normal_permissions(found.get('permissions')),
                 normal_permissions(permissions)),
            ) if not same(have, want)]
            if differs:
                body = {'id': found['id'], 'name': full, 'description': description,
                        'level': r['level'], 'duration': r['duration'], 'disable': r['disable'],
                        'permissions': permissions}
                if self.write('PUT', '/robots/%d' % found['id'], body,
                              'updating robot %s' % full) is not None:
                    self.report_update('robot', full, found, differs)
        self.pull_secrets(r, full, found['id'], secret)

    def secret_path(self, namespace, name=None):
        path = '/api/v1/namespaces/%s/secrets' % urllib.parse.quote(namespace, safe='')
        return path + ('/' + urllib.parse.quote(name, safe='') if name else '')

    def pull_secrets(self, r, full, robot_id, secret):
        spec = r['secret']
        targets = {}
        for namespace in spec['namespaces']:
            targets[namespace] = self.k8s.read(self.secret_path(namespace, spec['name']),
                                               'Secret %s/%s' % (namespace, spec['name']),
                                               missing_ok=True)
        if secret is None:
            secret = next((p for p in (held_password(t, full) for t in targets.values() if t)
                           if p), None)
        if secret is not None:
            wanted = dockerconfig(spec['registry'], full, secret)
            stale = [ns for ns, t in targets.items() if not holds(t, wanted)]
        else:
            stale = list(targets)
        if not stale:
            return
        if secret is None:
            # no copy of the credentials is left: a fresh secret, written everywhere
            status, answer, _ = self.harbor.call('PATCH', API + '/robots/%d' % robot_id,
                                                 {'secret': ''})
            if not 200 <= status < 300 or not (answer or {}).get('secret'):
                raise Failed('refreshing the secret of robot %s: HTTP %d: %s'
                             % (full, status, why(answer)))
            self.changed('refreshed secret of robot %s' % full)
            secret = answer['secret']
            wanted = dockerconfig(spec['registry'], full, secret)
            stale = list(targets)
        for namespace in stale:
            self.write_pull_secret(namespace, spec['name'], targets[namespace], wanted)

    def write_pull_secret(self, namespace, name, existing, config):
        encoded = base64.b64encode(json.dumps(config, sort_keys=True).encode('utf-8')).decode()
        body = {'apiVersion': 'v1', 'kind': 'Secret', 'type': DOCKERCONFIG,
                'metadata': {'name': name, 'namespace': namespace, 'labels': MANAGED_BY},
                'data': {'.dockerconfigjson': encoded}}
        where = 'Secret %s/%s' % (namespace, name)
        if existing is None:
            status, answer, _ = self.k8s.call('POST', self.secret_path(namespace), body)
            verb = 'created'
        else:
            metadata = existing.get('metadata') or {}
            body['metadata'].update({k: metadata[k] for k in ('resourceVersion',)
                                     if k in metadata})
            labels = dict(metadata.get('labels') or {})
            labels.update(MANAGED_BY)
            body['metadata']['labels'] = labels
            status, answer, _ = self.k8s.call('PUT', self.secret_path(namespace, name), body)
            verb = 'updated'
        if status in (200, 201):
            self.changed('%s secret %s/%s' % (verb, namespace, name))
            return
        # an API server's message may quote the request: keep the credentials out of the log
        message = why(answer)
        for entry in config['auths'].values():
            for value in (encoded, entry['auth'], entry['password']):
                message = message.replace(value, '<redacted>')
        self.failed('writing %s: HTTP %d: %s' % (where, status, message))

    # replication policies ------------------------------------------------------------------

    def policies(self):
        current = {p.get('name'): p for p in self.listed('/replication/policies',
                                                         'replication policies')}
        for p in self.doc['replicationPolicies']:
            blocked = [n for n in (p['srcRegistry'], p['destRegistry'])
                       if n is not None and (('registry', n) in self.unavailable
                                             or n not in self.registry_ids)]
            if blocked:
                self.failed('replication policy %s skipped: registry %s is not in place'
                            % (p['name'], ', '.join(blocked)))
                continue
            try:
                self.policy(p, current.get(p['name']))
            except Failed as err:
                self.failed(str(err))

    def policy(self, p, found):
        name = p['name']

        def registry(ref):
            return None if ref is None else {'id': self.registry_ids[ref]}

        trigger = {'type': p['trigger']['type']}
        if p['trigger']['cron']:
            trigger['trigger_settings'] = {'cron': p['trigger']['cron']}
        filters = []
        for f in p['filters']:
            item = {'type': f['type'],
                    'value': [f['value']] if f['type'] == 'label' else f['value']}
            if f.get('decoration'):
                item['decoration'] = f['decoration']
            filters.append(item)
        body = {'name': name, 'description': self.described(p['description']),
                'src_registry': registry(p['srcRegistry']),
                'dest_registry': registry(p['destRegistry']),
                'dest_namespace': p['destNamespace'],
                'dest_namespace_replace_count': p['destNamespaceReplaceCount'],
                'filters': filters, 'trigger': trigger, 'override': p['override'],
                'enabled': p['enabled'], 'replicate_deletion': p['replicateDeletion'],
                'speed': p['speed'], 'copy_by_chunk': p['copyByChunk']}
        for side in ('src_registry', 'dest_registry'):
            if body[side] is None:
                del body[side]
        if found is None:
            status, answer, _ = self.harbor.call('POST', API + '/replication/policies', body)
            if 200 <= status < 300:
                self.changed('created replication policy %s' % name)
                return
            found = self.lookup('/replication/policies', name)
            if found is None:
                raise Failed('creating replication policy %s: HTTP %d: %s'
                             % (name, status, why(answer)))
        have_trigger = found.get('trigger') or {}
        differs = [field for field, have, want in (
            ('description', found.get('description'), body['description']),
            ('src_registry', registry_ref(found.get('src_registry')),
             registry_ref(body.get('src_registry'))),
            ('dest_registry', registry_ref(found.get('dest_registry')),
             registry_ref(body.get('dest_registry'))),
            ('dest_namespace', found.get('dest_namespace') or '', body['dest_namespace']),
            ('dest_namespace_replace_count', found.get('dest_namespace_replace_count', -1),
             body['dest_namespace_replace_count']),
            ('filters', normal_filters(found.get('filters')), normal_filters(filters)),
            ('trigger', [have_trigger.get('type'),
                         (have_trigger.get('trigger_settings') or {}).get('cron') or ''],
             [trigger['type'], p['trigger']['cron'] or '']),
            ('override', bool(found.get('override')), body['override']),
            ('enabled', bool(found.get('enabled')), body['enabled']),
            ('replicate_deletion', bool(found.get('replicate_deletion')),
             body['replicate_deletion']),
            ('speed', max(found.get('speed') or 0, 0), max(body['speed'], 0)),
            ('copy_by_chunk', bool(found.get('copy_by_chunk')), body['copy_by_chunk']),
        ) if not same(have, want)]
        if differs:
            body['id'] = found['id']
            if self.write('PUT', '/replication/policies/%d' % found['id'], body,
                          'updating replication policy %s' % name) is not None:
                self.report_update('replication policy', name, found, differs)

    # system settings -----------------------------------------------------------------------

    def scan_all(self):
        declared = self.doc['scanAllSchedule']
        if declared is None:
            return
        current = self.harbor.read(API + '/system/scanAll/schedule', 'the scan-all schedule',
                                   missing_ok=True) or {}
        have = current.get('schedule') or {}
        have_type = have.get('type') or 'None'
        matches = have_type == declared['type'] and (
            declared['cron'] is None or have.get('cron') == declared['cron'])
        if matches:
            return
        # Harbor schedules exactly the cron it is sent, for Hourly, Daily and Weekly too: an
        # empty one is refused with 400
        schedule = {'type': declared['type']}
        if declared['cron'] is not None:
            schedule['cron'] = declared['cron']
        method = 'POST' if have_type == 'None' else 'PUT'
        status, answer, _ = self.harbor.call(method, API + '/system/scanAll/schedule',
                                             {'schedule': schedule})
        if method == 'POST' and status in (409, 412):
            status, answer, _ = self.harbor.call('PUT', API + '/system/scanAll/schedule',
                                                 {'schedule': schedule})
        if 200 <= status < 300:
            self.changed('updated scan-all schedule: %s' % declared['type'])
        else:
            self.failed('setting the scan-all schedule: HTTP %d: %s' % (status, why(answer)))

    def system_allowlist(self):
        declared = self.doc['systemCveAllowlist']
        if declared is None:
            return
        current = self.harbor.read(API + '/system/CVEAllowlist', 'the system CVE allowlist')
        if not allowlist_differs(current, declared):
            return
        if self.write('PUT', '/system/CVEAllowlist', allowlist_body(declared),
                      'setting the system CVE allowlist') is not None:
            self.changed('updated system CVE allowlist')

    def configurations(self):
        declared = self.doc['configurations']
        secrets = self.doc['secretConfigurations']
        if not declared and not secrets:
            return
        current = self.harbor.read(API + '/configurations', 'configurations') or {}
        body = {}
        locked = []
        for key, value in sorted(declared.items()):
            item = current.get(key)
            have = item.get('value') if isinstance(item, dict) else None
            if not same_configuration(key, have, value):
                if isinstance(item, dict) and item.get('editable') is False:
                    locked.append(key)
                else:
                    body[key] = value
        if locked:
            self.failed('configuration %s cannot be changed through the API (not editable; '
                        'set by the deployment or CONFIG_OVERWRITE_JSON)' % ', '.join(locked))
        stale = [key for key, env in sorted(secrets.items())
                 if self.secret_stale(self.state_key('configuration', key), os.environ[env])]
        for key in stale:
            body[key] = os.environ[secrets[key]]
        if not body:
            return
        if self.write('PUT', '/configurations', body, 'updating configurations') is None:
            return
        self.changed('updated configurations: %s' % ', '.join(sorted(body)))
        for key in stale:
            self.remember(self.state_key('configuration', key), os.environ[secrets[key]])

    # prune ---------------------------------------------------------------------------------

    def prune(self):
        if not self.doc['prune']:
            return
        declared = {
            'replication policy': {p['name'] for p in self.doc['replicationPolicies']},
            'robot': {self.full_robot_name(r) for r in self.doc['robots']},
            'registry': {r['name'] for r in self.doc['registries']},
            'scanner': {s['name'] for s in self.doc['scanners']},
        }
        # policies first: a registry a policy still uses cannot be deleted
        for kind, path, key in (('replication policy', '/replication/policies', 'id'),
                                ('robot', '/robots', 'id'),
                                ('registry', '/registries', 'id'),
                                ('scanner', '/scanners', 'uuid')):
            try:
                if kind == 'robot':
                    found = self.robots_of()
                    for project in self.listed('/projects', 'projects'):
                        found.extend(self.robots_of(project['project_id']))
                else:
                    found = self.listed(path, kind + ' list')
            except Failed as err:
                self.failed(str(err))
                continue
            for obj in found:
                if obj.get('name') in declared[kind] or not self.owned(obj):
                    continue
                target = '%s/%s' % (path, urllib.parse.quote(str(obj[key]), safe=''))
                if self.write('DELETE', target, None,
                              'deleting %s %s' % (kind, obj['name'])) is not None:
                    self.changed('deleted %s %s' % (kind, obj['name']))
                    if kind in ('registry', 'scanner'):
                        self.remember(self.state_key(kind, obj['name']))

    def run(self):
        self.load_state()
        steps = (self.scanners, self.registries, self.projects, self.robots, self.policies,
                 self.scan_all, self.system_allowlist, self.configurations, self.prune)
        try:
            for step in steps:
                try:
                    step()
                except Failed as err:
                    self.failed(str(err))
        finally:
            # also after a failure: the digests of what was written must not be lost
            self.save_state()


# -------------------------------------------------------------------------------------------
# Normal forms for comparison

def normal_permissions(permissions) -> list:
    result = []
    for p in permissions or []:
        access = sorted((a.get('resource'), a.get('action')) for a in p.get('access') or [])
        result.append([p.get('kind'), p.get('namespace'), [list(a) for a in access]])
    return sorted(result)


def normal_rule(rule) -> dict:
    def selector(s):
        return {'kind': s.get('kind'), 'decoration': s.get('decoration'),
                'pattern': s.get('pattern'), 'extras': s.get('extras') or ''}
    scopes = {k: [selector(s) for s in v or []]
              for k, v in (rule.get('scope_selectors') or {}).items()}
    return {'disabled': bool(rule.get('disabled')), 'action': rule.get('action'),
            'template': rule.get('template'), 'params': rule.get('params') or {},
            'tag_selectors': [selector(s) for s in rule.get('tag_selectors') or []],
            'scope_selectors': scopes}


def normal_filters(filters) -> list:
    result = []
    for f in filters or []:
        value = f.get('value')
        result.append([f.get('type'), json.dumps(value, sort_keys=True),
                       f.get('decoration') or 'matches'])
    return sorted(result)


def registry_ref(registry):
    """A registry id, None for this Harbor (id 0 or no registry)."""
    return (registry or {}).get('id') or None


def dockerconfig(registry, username, password) -> dict:
    # built as data, never through a shell: the robot name's `$` stays literal
    auth = base64.b64encode(('%s:%s' % (username, password)).encode('utf-8')).decode()
    return {'auths': {registry: {'username': username, 'password': password, 'auth': auth}}}


def decoded_config(secret):
    try:
        raw = base64.b64decode(((secret or {}).get('data') or {}).get('.dockerconfigjson', ''))
        config = json.loads(raw.decode('utf-8'))
        return config if isinstance(config, dict) else None
    except (ValueError, UnicodeDecodeError):
        return None


def held_password(secret, username):
    """The password a pull Secret holds for this robot, or None."""
    for entry in ((decoded_config(secret) or {}).get('auths') or {}).values():
        if (isinstance(entry, dict) and entry.get('username') == username
                and entry.get('password')):
            return entry['password']
    return None


def holds(secret, wanted) -> bool:
    return (secret is not None and secret.get('type') == DOCKERCONFIG
            and decoded_config(secret) == wanted)


# -------------------------------------------------------------------------------------------

def not_json(constant):
    raise ValueError('%s is not a JSON number' % constant)


def main() -> int:
    required = ('SETTINGS_FILE', 'HARBOR_URL', 'HARBOR_USERNAME', 'HARBOR_PASSWORD',
                'NAMESPACE', 'STATE_CONFIGMAP')
    missing = [name for name in required if not os.environ.get(name)]
    if missing:
        print('reconcile-settings: environment variable %s not set; the HarborSettings Job '
              'sets them all, run the script from it' % ', '.join(missing), file=sys.stderr)
        return 2
    try:
        with open(os.environ['SETTINGS_FILE'], encoding='utf-8') as f:
            doc = json.load(f, parse_constant=not_json)
    except (OSError, ValueError) as err:
        print('reconcile-settings: SETTINGS_FILE %s cannot be read as JSON: %s'
              % (os.environ['SETTINGS_FILE'], err), file=sys.stderr)
        return 2
    problems = check_document(doc)
    if problems:
        for problem in problems:
            print('reconcile-settings: settings document: ' + problem, file=sys.stderr)
        print('reconcile-settings: nothing was sent; fix the declaration and synthesize again',
              file=sys.stderr)
        return 2

    harbor_url = os.environ['HARBOR_URL'].rstrip('/')
    login = '%s:%s' % (os.environ['HARBOR_USERNAME'], os.environ['HARBOR_PASSWORD'])
    harbor = Client(harbor_url,
                    {'Authorization': 'Basic ' + base64.b64encode(login.encode()).decode()},
                    tls_context(harbor_url, os.environ.get('HARBOR_CA_FILE')))
    k8s_url = os.environ.get('K8S_API_URL')
    if not k8s_url:
        host = os.environ.get('KUBERNETES_SERVICE_HOST', '')
        if not host:
            print('reconcile-settings: neither K8S_API_URL nor KUBERNETES_SERVICE_HOST is set',
                  file=sys.stderr)
            return 2
        host = '[%s]' % host if ':' in host else host
        k8s_url = 'https://%s:%s' % (host, os.environ.get('KUBERNETES_SERVICE_PORT', '443'))
    try:
        with open(os.environ.get('K8S_TOKEN_FILE', SA_DIR + '/token'), encoding='utf-8') as f:
            token = f.read().strip()
    except OSError as err:
        print('reconcile-settings: no ServiceAccount token: %s' % err, file=sys.stderr)
        return 2
    k8s = Client(k8s_url, {'Authorization': 'Bearer ' + token},
                 tls_context(k8s_url, os.environ.get('K8S_CA_FILE', SA_DIR + '/ca.crt')))

    if not wait_ready(harbor):
        return 3
    if not login_accepted(harbor, os.environ['HARBOR_USERNAME']):
        return 4

    reconciler = Reconciler(doc, harbor, k8s, os.environ['NAMESPACE'],
                            os.environ['STATE_CONFIGMAP'],
                            os.environ['HARBOR_PASSWORD'].encode('utf-8'))
    try:
        reconciler.run()
    except Failed as err:
        reconciler.failed(str(err))
    count = reconciler.changes
    print('%d change%s' % (count, '' if count == 1 else 's') if count else 'no changes')
    if reconciler.failures:
        print('reconcile-settings: %d failed; the next run retries them'
              % len(reconciler.failures), file=sys.stderr)
        return 1
    return 0


def wait_ready(harbor: Client) -> bool:
    """Polls /health until core, database, redis and registry are healthy, or the timeout."""
    timeout = float(os.environ.get('READY_TIMEOUT_SECONDS', '600'))
    deadline = time.monotonic() + timeout
    attempt = 0
    last = 'no answer yet'
    while True:
        status, answer, _ = send('GET', harbor.base + API + '/health', harbor.headers,
                                 harbor.ctx)
        if status == 200 and isinstance(answer, dict):
            states = {c.get('name'): c.get('status')
                      for c in answer.get('components') or [] if isinstance(c, dict)}
            waiting = [n for n in REQUIRED_COMPONENTS if states.get(n) != 'healthy']
            if not waiting:
                return True
            last = 'unhealthy: ' + ', '.join(waiting)
        else:
            last = 'HTTP %d: %s' % (status, why(answer)) if status else why(answer)
        left = deadline - time.monotonic()
        if left <= 0:
            print('reconcile-settings: Harbor not ready after %gs at %s (%s)'
                  % (timeout, harbor.base, last), file=sys.stderr)
            return False
        time.sleep(min(retry_base() * 2 ** min(attempt, 5), 15, left))
        attempt += 1


def login_accepted(harbor: Client, username) -> bool:
    """The first authenticated read, of an admin-only resource: a refused login ends the run
    before anything is read or written, as no retry can help."""
    status, _, _ = harbor.call('GET', API + '/configurations')
    if status == 401:
        print('reconcile-settings: Harbor refused the login of %s (HTTP 401): the password in '
              'HARBOR_PASSWORD is not that user\'s password in Harbor; put the current one into '
              'the Secret HARBOR_PASSWORD comes from (nothing was changed; no retry helps until '
              'then)' % json.dumps(username), file=sys.stderr)
        return False
    if status == 403:
        print('reconcile-settings: Harbor refused %s (HTTP 403): the user is not a Harbor '
              'system administrator; HARBOR_USERNAME must name one (nothing was changed; no '
              'retry helps until then)' % json.dumps(username), file=sys.stderr)
        return False
    return True


if __name__ == '__main__':
    sys.exit(main())
