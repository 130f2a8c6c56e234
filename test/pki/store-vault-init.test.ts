/**
 * Runs store-vault-init.py, as the VaultServer init Job ships it, with python3 against a
 * double of the Kubernetes API that enforces the Job's own Role: the init output goes into a
 * Secret once, is never overwritten, never printed, and the unseal key reaches the file the
 * next container reads.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { IssuerKind } from '../../lib/pki/issuer-ref';
import { VaultServer } from '../../lib/pki/vault-server';
import { FakeSecretsApi, PolicyRule, StoredSecret, selfSignedTls } from '../support/fake-k8s-api';
import { PodFiles, PodRunOptions, PodScript, inClusterApi } from '../support/pod-files';
import { RunResult } from '../support/processes';
import { K8sObject, containerOf, envOf, find, podSpec } from '../support/synth';

const NAMESPACE = 'vault';
const SECRET = 'vault-init';

/** What the init Job gives the store step, and what the steps around it read. */
interface Emitted extends PodScript {
  env: Record<string, string>;
  rules: PolicyRule[];
  serviceAccount: string;
  /** INIT_OUTPUT of the init step, UNSEAL_KEY_FILE of the unseal step. */
  initOutput: string;
  unsealKeyFile: string;
  /** The keys of the Secret the server's unseal sidecar mounts. */
  sidecarKeys: string[];
}

function emitted(): Emitted {
  const chart = new Chart(Testing.app(), 'test');
  new VaultServer(chart, 'vault', {
    namespace: NAMESPACE,
    storage: { storageClassName: 'local-path' },
    issuer: { name: 'harbor-ca', kind: IssuerKind.ISSUER },
  });
  const objects: K8sObject[] = Testing.synth(chart);
  const job = objects.find((o) => o.kind === 'Job') as K8sObject;
  const store = containerOf(job, 'store');
  const [interpreter, scriptPath] = store.command;
  const scriptsMount = store.volumeMounts.find((m: K8sObject) =>
    scriptPath.startsWith(m.mountPath),
  );
  const volume = podSpec(job).volumes.find((v: K8sObject) => v.name === scriptsMount.name);
  const scripts = find(objects, 'ConfigMap', volume.configMap.name);
  const role = find(objects, 'Role', `${SECRET}`);
  const statefulSet = find(objects, 'StatefulSet', 'vault');
  const unsealVolume = podSpec(statefulSet).volumes.find((v: K8sObject) => v.name === 'unseal');

  expect(interpreter).toBe('python3');
  expect(unsealVolume.secret.secretName).toBe(SECRET);
  return {
    script: scripts.data[path.basename(scriptPath)],
    scriptPath,
    env: Object.fromEntries(store.env.map((e: K8sObject) => [e.name, e.value])),
    mounts: store.volumeMounts.map((m: K8sObject) => m.mountPath),
    rules: role.rules,
    serviceAccount: `${NAMESPACE}:${podSpec(job).serviceAccountName}`,
    initOutput: envOf(containerOf(job, 'init'), 'INIT_OUTPUT'),
    unsealKeyFile: envOf(containerOf(job, 'unseal'), 'UNSEAL_KEY_FILE'),
    sidecarKeys: unsealVolume.secret.items.map((i: K8sObject) => i.key),
  };
}

let job: Emitted;
let pod: PodFiles;
let api: FakeSecretsApi;
let apiUrl: string;
let unsealKey: string;
let rootToken: string;

/** What `vault operator init -key-shares=1 -key-threshold=1 -format=json` prints. */
function writeInitOutput(): void {
  const init = {
    unseal_keys_b64: [unsealKey],
    unseal_keys_hex: [Buffer.from(unsealKey, 'base64').toString('hex')],
    unseal_shares: 1,
    unseal_threshold: 1,
    recovery_keys_b64: [],
    recovery_keys_hex: [],
    recovery_keys_shares: 0,
    recovery_keys_threshold: 0,
    root_token: rootToken,
  };
  fs.writeFileSync(initFile(), `${JSON.stringify(init, null, 2)}\n`, { mode: 0o640 });
}

function initSecret(key: string, token: string): StoredSecret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: SECRET, namespace: NAMESPACE },
    type: 'Opaque',
    data: {
      'unseal-key': Buffer.from(key).toString('base64'),
      'root-token': Buffer.from(token).toString('base64'),
    },
  };
}

/** Runs the store step; fails when its output holds the key or token in any form. */
async function store(opts: PodRunOptions = {}): Promise<RunResult> {
  const env = { ...job.env, WORK_DIR: pod.inPod(job.env.WORK_DIR) };
  const result = await pod.run(env, { url: apiUrl, token: api.token }, opts);
  const output = result.stdout + result.stderr;
  for (const value of [unsealKey, rootToken, ...api.sentValues()]) {
    for (const form of [value, Buffer.from(value).toString('base64')]) {
      if (output.includes(form))
        throw new Error(`the output holds a secret (${form.length} chars)`);
    }
  }
  return result;
}

const keyFile = () => pod.inPod(job.unsealKeyFile);
const initFile = () => pod.inPod(job.initOutput);

beforeAll(() => {
  job = emitted();
  pod = new PodFiles('store-vault-init-test-', job);
});

afterAll(() => {
  pod?.remove();
});

beforeEach(async () => {
  pod.newPod();
  unsealKey = randomBytes(32).toString('base64');
  rootToken = `hvs.${randomBytes(18).toString('base64url')}`;

  api = new FakeSecretsApi();
  api.authorize(job.rules, job.serviceAccount, NAMESPACE);
  apiUrl = await api.start();
});

afterEach(async () => {
  await api.stop();
});

test('the Job runs the script from the library, between init and unseal on one volume', () => {
  const library = path.join(__dirname, '..', '..', 'lib', 'pki', 'scripts', 'store-vault-init.py');

  expect(job.script).toBe(fs.readFileSync(library, 'utf8'));
  expect(job.env).toMatchObject({ INIT_SECRET: SECRET, NAMESPACE, WORK_DIR: '/work' });
  expect(JSON.parse(job.env.SECRET_LABELS)).toEqual({
    'app.kubernetes.io/managed-by': 'cdk8s-harbor-vault-init',
  });
  // the script reads and writes fixed names under WORK_DIR: the other steps must agree
  expect(job.initOutput).toBe(`${job.env.WORK_DIR}/init.json`);
  expect(job.unsealKeyFile).toBe(`${job.env.WORK_DIR}/unseal-key`);
});

test('the first run creates the Secret the sidecar reads and hands the key on', async () => {
  writeInitOutput();

  const result = await store();

  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout.trim()).toBe(`stored the unseal key and root token in Secret ${SECRET}`);
  expect(api.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
    `POST /api/v1/namespaces/${NAMESPACE}/secrets`,
  ]);
  const secret = api.get(NAMESPACE, SECRET);
  expect(secret?.type).toBe('Opaque');
  expect(secret?.metadata.labels).toEqual(JSON.parse(job.env.SECRET_LABELS));
  expect(api.data(NAMESPACE, SECRET)).toEqual({ 'unseal-key': unsealKey, 'root-token': rootToken });
  for (const key of job.sidecarKeys) expect(Object.keys(secret?.data ?? {})).toContain(key);

  // what vault-unseal.sh passes to `operator unseal`, readable by the pod's group only
  expect(fs.readFileSync(keyFile(), 'utf8')).toBe(unsealKey);
  expect(fs.statSync(keyFile()).mode & 0o777).toBe(0o640);
  expect(fs.existsSync(initFile())).toBe(false);
});

test('a later run, the server initialized before, reads the key and writes nothing', async () => {
  writeInitOutput();
  expect((await store()).code).toBe(0);
  const before = api.get(NAMESPACE, SECRET);
  fs.rmSync(keyFile());

  // vault-init.sh finds the server initialized and leaves no init.json
  const second = await store();

  expect(second.code).toBe(0);
  expect(second.stdout.trim()).toBe(`read the unseal key from Secret ${SECRET}`);
  expect(api.writes()).toHaveLength(1);
  expect(api.requests.slice(1).map((r) => `${r.method} ${r.url}`)).toEqual([
    `GET /api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`,
  ]);
  expect(api.get(NAMESPACE, SECRET)).toEqual(before);
  expect(fs.readFileSync(keyFile(), 'utf8')).toBe(unsealKey);
});

test('a Secret left by an earlier server is never overwritten, and init.json is kept', async () => {
  const earlier = initSecret(randomBytes(32).toString('base64'), 'hvs.earlier-server');
  api.seed(earlier);
  writeInitOutput();

  const result = await store();

  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`Secret ${SECRET} exists from an earlier server`);
  expect(result.stderr).toContain('move them by hand');
  expect(api.get(NAMESPACE, SECRET)).toEqual(earlier);
  expect(api.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
  expect(fs.existsSync(initFile())).toBe(true);
  expect(fs.existsSync(keyFile())).toBe(false);
});

test('a create whose answer was lost meets its own Secret on the retry, and succeeds', async () => {
  writeInitOutput();
  api.failNext(1, 'reset-after-write');

  const result = await store();

  expect(result.code).toBe(0);
  expect(api.requests.map((r) => r.method)).toEqual(['POST', 'POST', 'GET']);
  expect(api.data(NAMESPACE, SECRET)).toEqual({ 'unseal-key': unsealKey, 'root-token': rootToken });
  expect(fs.readFileSync(keyFile(), 'utf8')).toBe(unsealKey);
  expect(fs.existsSync(initFile())).toBe(false);
});

test('a rerun after the create but before the cleanup succeeds', async () => {
  // the container was killed between the create and removing init.json
  api.seed(initSecret(unsealKey, rootToken));
  writeInitOutput();

  const result = await store();

  expect(result.code).toBe(0);
  expect(api.writes()).toHaveLength(1);
  expect(fs.readFileSync(keyFile(), 'utf8')).toBe(unsealKey);
  expect(fs.existsSync(initFile())).toBe(false);
});

test('initialized before, and no Secret: the run ends cleanly and asks for a hand', async () => {
  const result = await store();

  expect(result.code).toBe(0);
  expect(result.stdout).toContain(`already initialized, and no Secret ${SECRET}: unseal by hand`);
  expect(api.writes()).toHaveLength(0);
  expect(fs.existsSync(keyFile())).toBe(false);
});

test('a Secret without an unseal key fails the read', async () => {
  api.seed({ ...initSecret(unsealKey, rootToken), data: {} });

  const result = await store();

  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`could not read Secret ${SECRET} (HTTP 200)`);
  expect(fs.existsSync(keyFile())).toBe(false);
});

describe('API errors fail the run with their status, keeping init.json', () => {
  test('a Role without create: HTTP 403', async () => {
    const rules = job.rules.filter((r) => !r.verbs.includes('create'));
    api.authorize(rules, job.serviceAccount, NAMESPACE);
    writeInitOutput();

    const result = await store();

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not create Secret ${SECRET} (HTTP 403)`);
    expect(api.names()).toEqual([]);
    expect(fs.existsSync(initFile())).toBe(true);
  });

  test('a Role without get: HTTP 403 on the read', async () => {
    const rules = job.rules.filter((r) => !r.verbs.includes('get'));
    api.authorize(rules, job.serviceAccount, NAMESPACE);
    api.seed(initSecret(unsealKey, rootToken));

    const result = await store();

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not read Secret ${SECRET} (HTTP 403)`);
  });

  test('the API echoing the request body in a 422 leaks nothing', async () => {
    api.echoBodyOnCreate(SECRET);
    writeInitOutput();

    const result = await store();

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('(HTTP 422)');
    expect(api.sentValues()).toEqual([unsealKey, rootToken]);
  });

  test('a 503 that outlasts the retries is reported as such', async () => {
    api.failNext(1000, 503);
    writeInitOutput();

    const result = await store();

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not create Secret ${SECRET} (HTTP 503)`);
    expect(api.requests).toHaveLength(5);
    expect(fs.existsSync(initFile())).toBe(true);
  });

  test('an API that never answers is reported as such', async () => {
    const closed = new FakeSecretsApi();
    const closedUrl = await closed.start();
    await closed.stop();
    writeInitOutput();

    const result = await store({ apiUrl: closedUrl });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not create Secret ${SECRET} (no answer from the API)`);
  });
});

test('in the pod it finds the API by KUBERNETES_SERVICE_HOST and verifies its CA', async () => {
  const tls = selfSignedTls(fs.mkdtempSync(path.join(pod.workDir, 'tls-')));
  const tlsApi = new FakeSecretsApi(tls);
  tlsApi.authorize(job.rules, job.serviceAccount, NAMESPACE);
  const tlsUrl = await tlsApi.start();
  const previous = api;
  api = tlsApi;
  writeInitOutput();
  try {
    const result = await store(inClusterApi(tlsUrl, tls.cert));

    expect(result.code).toBe(0);
    expect(tlsApi.data(NAMESPACE, SECRET)?.['unseal-key']).toBe(unsealKey);
  } finally {
    api = previous;
    await tlsApi.stop();
  }
});
