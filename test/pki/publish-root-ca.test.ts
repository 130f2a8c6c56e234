/**
 * Runs publish-root-ca.py, as the VaultPkiSetup Job ships it, with python3 against a double
 * of the Kubernetes API that enforces the Job's own Role: the ConfigMap is created once,
 * patched only when the certificate changed, and API failures end the run with their status.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { VaultPkiSetup, VaultPkiSetupProps } from '../../lib/pki/vault-pki-setup';
import { FakeSecretsApi, PolicyRule, selfSignedTls } from '../support/fake-k8s-api';
import { PodFiles, PodRunOptions, PodScript, inClusterApi } from '../support/pod-files';
import { RunResult } from '../support/processes';
import { K8sObject, containerOf, find } from '../support/synth';

const NAME = 'harbor-root-ca';
const NAMESPACE = 'cert-manager';
const KEY = 'ca.crt';
const LABELS = { 'app.kubernetes.io/managed-by': 'cdk8s-harbor-vault-pki-setup' };

const props: VaultPkiSetupProps = {
  server: 'https://vault.vault.svc:8200',
  credentials: { name: 'vault-setup-token', key: 'token' },
  allowedDomains: ['harbor.example.test'],
  kubernetesAuth: {
    roleName: 'cert-manager-harbor',
    serviceAccountName: 'vault-issuer',
    serviceAccountNamespace: 'harbor',
    audience: 'vault://harbor/vault-issuer',
  },
  rootCaConfigMap: { name: NAME, namespace: NAMESPACE },
};

/** What the Job gives the publisher container: its command, env, mounts and Role. */
interface Emitted extends PodScript {
  env: Record<string, string>;
  rules: PolicyRule[];
  serviceAccount: string;
  roleNamespace: string;
}

function emitted(): Emitted {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'harbor' });
  new VaultPkiSetup(chart, 'Pki', props);
  const objects: K8sObject[] = Testing.synth(chart);
  const job = objects.find((o) => o.kind === 'Job') as K8sObject;
  const container = containerOf(job, 'publish-root-ca');
  const [interpreter, scriptPath] = container.command;
  const volume = job.spec.template.spec.volumes.find((v: K8sObject) => v.name === 'scripts');
  const scripts = find(objects, 'ConfigMap', volume.configMap.name);
  const role = find(objects, 'Role', 'vault-pki-setup');

  expect(interpreter).toBe('python3');
  expect(job.spec.template.spec.serviceAccountName).toBe('vault-pki-setup');
  return {
    script: scripts.data[path.basename(scriptPath)],
    scriptPath,
    env: Object.fromEntries(container.env.map((e: K8sObject) => [e.name, e.value])),
    mounts: container.volumeMounts.map((m: K8sObject) => m.mountPath),
    rules: role.rules,
    serviceAccount: `harbor:${job.spec.template.spec.serviceAccountName}`,
    roleNamespace: role.metadata.namespace,
  };
}

let job: Emitted;
let pod: PodFiles;
let api: FakeSecretsApi;
let apiUrl: string;
let pem: string;

function newCertificate(): string {
  const dir = fs.mkdtempSync(path.join(pod.workDir, 'cert-'));
  return fs.readFileSync(selfSignedTls(dir, 'root').cert, 'utf8');
}

function publish(opts: PodRunOptions = {}): Promise<RunResult> {
  const env = { ...job.env, ROOT_PEM_FILE: pod.inPod(job.env.ROOT_PEM_FILE) };
  return pod.run(env, { url: apiUrl, token: api.token }, opts);
}

function writePem(content: string): void {
  fs.writeFileSync(pod.inPod(job.env.ROOT_PEM_FILE), content);
}

beforeAll(() => {
  job = emitted();
  pod = new PodFiles('publish-root-ca-test-', job);
});

afterAll(() => {
  pod?.remove();
});

beforeEach(async () => {
  pod.newPod();
  pem = newCertificate();
  writePem(pem);

  api = new FakeSecretsApi();
  api.authorize(job.rules, job.serviceAccount, job.roleNamespace);
  apiUrl = await api.start();
});

afterEach(async () => {
  await api.stop();
});

test('the Job runs the script from the library, with the env the test relies on', () => {
  expect(job.script).toBe(
    fs.readFileSync(
      path.join(__dirname, '..', '..', 'lib', 'pki', 'scripts', 'publish-root-ca.py'),
      'utf8',
    ),
  );
  expect(job.env).toEqual({
    ROOT_PEM_FILE: '/work/root.pem',
    CONFIGMAP_NAME: NAME,
    CONFIGMAP_NAMESPACE: NAMESPACE,
    CONFIGMAP_KEY: KEY,
    CONFIGMAP_LABELS: JSON.stringify(LABELS),
  });
});

test('creates the ConfigMap when it is missing', async () => {
  const result = await publish();

  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout.trim()).toBe(`created ConfigMap ${NAMESPACE}/${NAME} with the root CA`);
  expect(api.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
    `GET /api/v1/namespaces/${NAMESPACE}/configmaps/${NAME}`,
    `POST /api/v1/namespaces/${NAMESPACE}/configmaps`,
  ]);
  expect(api.requests[1].contentType).toBe('application/json');
  const created = api.configMap(NAMESPACE, NAME);
  expect(created?.data).toEqual({ [KEY]: pem });
  expect(created?.metadata.labels).toEqual(LABELS);
});

test('a second run with the same certificate makes no write', async () => {
  expect((await publish()).code).toBe(0);
  const before = api.configMap(NAMESPACE, NAME);
  const writes = api.writes().length;

  const second = await publish();

  expect(second.code).toBe(0);
  expect(second.stdout).toContain('already holds the root CA, kept');
  expect(api.writes()).toHaveLength(writes);
  expect(api.requests.slice(-1).map((r) => r.method)).toEqual(['GET']);
  expect(api.configMap(NAMESPACE, NAME)).toEqual(before);
});

test('a changed certificate is merge-patched into its key, keeping the others', async () => {
  api.seedConfigMap({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: NAME, namespace: NAMESPACE, labels: { team: 'pki' } },
    data: { [KEY]: newCertificate(), 'other.crt': 'kept' },
  });

  const result = await publish();

  expect(result.code).toBe(0);
  expect(result.stdout).toContain(`updated ConfigMap ${NAMESPACE}/${NAME} with the root CA`);
  const [patch] = api.writes();
  expect(api.writes()).toHaveLength(1);
  expect(patch.method).toBe('PATCH');
  expect(patch.url).toBe(`/api/v1/namespaces/${NAMESPACE}/configmaps/${NAME}`);
  expect(patch.contentType).toBe('application/merge-patch+json');
  expect(JSON.parse(patch.body)).toEqual({ data: { [KEY]: pem } });
  const patched = api.configMap(NAMESPACE, NAME);
  expect(patched?.data).toEqual({ [KEY]: pem, 'other.crt': 'kept' });
  expect(patched?.metadata.labels).toEqual({ team: 'pki' });
});

test('a create that loses the race to another writer patches the winner', async () => {
  const other = newCertificate();
  api.onRequest = (request) => {
    if (request.method !== 'POST') return;
    api.onRequest = undefined;
    api.seedConfigMap({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: NAME, namespace: NAMESPACE },
      data: { [KEY]: other },
    });
  };

  const result = await publish();

  expect(result.code).toBe(0);
  expect(api.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'GET', 'PATCH']);
  expect(api.configMap(NAMESPACE, NAME)?.data).toEqual({ [KEY]: pem });
});

test.each([
  ['an empty file', ''],
  [
    'a private key',
    '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n',
  ],
  ['an error page', '<html>502 Bad Gateway</html>\n'],
])('refuses %s before calling the API', async (_label, content) => {
  writePem(content);

  const result = await publish();

  expect(result.code).toBe(1);
  expect(result.stderr.trim()).toBe(
    `publish-root-ca: ${pod.inPod(job.env.ROOT_PEM_FILE)} holds no certificate`,
  );
  expect(api.requests).toHaveLength(0);
});

describe('an API error fails the run with its status and reason', () => {
  const without = (verb: string): PolicyRule[] =>
    job.rules.map((rule) => ({ ...rule, verbs: rule.verbs.filter((v) => v !== verb) }));
  const seedOld = () =>
    api.seedConfigMap({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: NAME, namespace: NAMESPACE },
      data: { [KEY]: newCertificate() },
    });

  test.each([
    ['get', 'reading', false],
    ['patch', 'updating', true],
    ['create', 'creating', false],
  ])('a Role without %s: %s fails with HTTP 403', async (verb, doing, existing) => {
    if (existing) seedOld();
    api.authorize(without(verb), job.serviceAccount, job.roleNamespace);

    const result = await publish();

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `publish-root-ca: ${doing} ConfigMap ${NAMESPACE}/${NAME} failed with HTTP 403: `,
    );
    expect(result.stderr).toContain(`cannot ${verb} resource "configmaps"`);
    expect(result.stderr).not.toMatch(/Traceback/);
  });

  test('a ConfigMap namespace outside the Role is refused', async () => {
    const result = await publish({ extraEnv: { CONFIGMAP_NAMESPACE: 'default' } });

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/reading ConfigMap default\/harbor-root-ca failed with HTTP 403/);
    expect(api.configMapNames()).toEqual([]);
  });

  test('transient 503s are retried and the run succeeds', async () => {
    api.failNext(2, 503);

    const result = await publish();

    expect(result.code).toBe(0);
    expect(api.requests.map((r) => r.method)).toEqual(['GET', 'GET', 'GET', 'POST']);
    expect(api.configMap(NAMESPACE, NAME)?.data).toEqual({ [KEY]: pem });
  });

  test('a 503 that outlasts the retries fails with its status', async () => {
    api.failNext(1000, 503);

    const result = await publish();

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /reading ConfigMap cert-manager\/harbor-root-ca failed with HTTP 503/,
    );
    expect(api.requests).toHaveLength(5);
  });

  test('a wrong token fails with HTTP 401', async () => {
    const token = path.join(pod.workDir, 'wrong-token');
    fs.writeFileSync(token, 'not-the-token\n');

    const result = await publish({ extraEnv: { K8S_TOKEN_FILE: token } });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('failed with HTTP 401');
  });
});

test('refuses a certificate that comes with its private key', async () => {
  const dir = fs.mkdtempSync(path.join(pod.workDir, 'cert-'));
  const tls = selfSignedTls(dir, 'root');
  writePem(fs.readFileSync(tls.cert, 'utf8') + fs.readFileSync(tls.key, 'utf8'));

  const result = await publish();

  expect(result.code).toBe(1);
  expect(result.stderr).toContain('holds a private key; only a certificate may be published');
  expect(result.stderr).not.toContain('PRIVATE KEY-----');
  expect(api.requests).toHaveLength(0);
});

test('in the pod it finds the API by KUBERNETES_SERVICE_HOST and verifies its CA', async () => {
  const tls = selfSignedTls(fs.mkdtempSync(path.join(pod.workDir, 'tls-')));
  const tlsApi = new FakeSecretsApi(tls);
  tlsApi.authorize(job.rules, job.serviceAccount, job.roleNamespace);
  const tlsUrl = await tlsApi.start();
  const previous = api;
  api = tlsApi;
  try {
    const result = await publish(inClusterApi(tlsUrl, tls.cert));

    expect(result.code).toBe(0);
    expect(tlsApi.configMap(NAMESPACE, NAME)?.data).toEqual({ [KEY]: pem });
  } finally {
    api = previous;
    await tlsApi.stop();
  }
});
