/**
 * Runs the real lib/harbor/scripts/ensure-secrets.py with the machine's python3 and the real
 * apache `htpasswd` against an in-process double of the Kubernetes Secrets API, so the
 * create-only / never-rotate contract is checked end to end without a cluster.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FakeSecretsApi, StoredSecret, TlsFiles, selfSignedTls } from './support/fake-k8s-api';
import { RunResult, run } from './support/processes';

const SCRIPT = path.join(__dirname, '..', 'lib', 'harbor', 'scripts', 'ensure-secrets.py');
// Resolved once in beforeAll: a version-manager shim (pyenv) costs ~0.25 s per run.
let python = 'python3';
const NAMESPACE = 'harbor';
const REGISTRY_USER = 'harbor_registry_user';
// Mirrors MAX_ATTEMPTS in the script; a bounded retry loop is part of the contract.
const MAX_ATTEMPTS = 5;
const ALPHANUMERIC = /^[A-Za-z0-9]+$/;

// ---------------------------------------------------------------------------------------------
// Spec

interface EntrySpec {
  key: string;
  kind: string;
  length?: unknown;
  user?: string;
  passwordFrom?: string;
}

interface SecretSpec {
  name: string;
  entries: EntrySpec[];
}

interface SecretsSpec {
  namespace: string;
  labels: Record<string, string>;
  secrets: SecretSpec[];
}

const LABELS = {
  'app.kubernetes.io/name': 'harbor',
  'app.kubernetes.io/managed-by': 'harbor-ensure-secrets',
};

function harborSpec(): SecretsSpec {
  return {
    namespace: NAMESPACE,
    labels: { ...LABELS },
    secrets: [
      { name: 'harbor-secret-key', entries: [{ key: 'secretKey', kind: 'random', length: 16 }] },
      {
        name: 'harbor-core',
        entries: [
          { key: 'secret', kind: 'random', length: 16 },
          { key: 'CSRF_KEY', kind: 'random', length: 32 },
        ],
      },
      {
        name: 'harbor-jobservice',
        entries: [{ key: 'JOBSERVICE_SECRET', kind: 'random', length: 16 }],
      },
      {
        name: 'harbor-registry-credentials',
        entries: [
          { key: 'REGISTRY_PASSWD', kind: 'random', length: 32 },
          {
            key: 'REGISTRY_HTPASSWD',
            kind: 'htpasswd',
            user: REGISTRY_USER,
            passwordFrom: 'REGISTRY_PASSWD',
          },
        ],
      },
    ],
  };
}

const SECRET_NAMES = harborSpec().secrets.map((s) => s.name);

// ---------------------------------------------------------------------------------------------
// Running the script

interface RunOptions {
  spec?: SecretsSpec | string | null;
  /** null: no K8S_API_URL, so the script builds it from KUBERNETES_SERVICE_HOST/PORT */
  apiUrl?: string | null;
  extraEnv?: Record<string, string>;
  tokenFile?: string;
  htpasswdBin?: string;
}

let workDir: string;
let htpasswdBin: string;

function findHtpasswd(): string {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).concat('/usr/bin');
  for (const dir of dirs) {
    const candidate = path.join(dir, 'htpasswd');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new Error(
    'the apache `htpasswd` binary is required by these tests: apt-get install apache2-utils',
  );
}

function writeTokenFile(token: string): string {
  const file = path.join(workDir, `token-${randomBytes(4).toString('hex')}`);
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}

/** Runs the script, failing when its output leaks any value it sent. */
async function runScript(
  api: FakeSecretsApi,
  apiUrl: string,
  opts: RunOptions = {},
): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(KUBERNETES_|K8S_|SECRETS_SPEC$|HTPASSWD_BIN$|HTTPS?_PROXY$)/i.test(key)) {
      delete env[key];
    }
  }
  const spec = opts.spec === undefined ? harborSpec() : opts.spec;
  if (spec !== null) env.SECRETS_SPEC = typeof spec === 'string' ? spec : JSON.stringify(spec);
  if (opts.apiUrl !== null) env.K8S_API_URL = opts.apiUrl ?? apiUrl;
  Object.assign(env, opts.extraEnv);
  env.K8S_TOKEN_FILE = opts.tokenFile ?? writeTokenFile(api.token);
  env.HTPASSWD_BIN = opts.htpasswdBin ?? htpasswdBin;
  // keeps the retry tests fast; the backoff schedule itself is still exercised
  env.K8S_RETRY_BASE_SECONDS = '0.01';
  env.PYTHONDONTWRITEBYTECODE = '1';

  const result = await run(python, [SCRIPT], { env, timeoutMs: 20_000 });
  expectNoValueIn(result, api.sentValues());
  return result;
}

/** Fails when any secret value, raw or base64, appears in the script's output. */
function expectNoValueIn(result: RunResult, values: string[]): void {
  const output = result.stdout + result.stderr;
  for (const value of values) {
    const forms = [value, Buffer.from(value).toString('base64')];
    // the password half of an htpasswd line is the part that must not leak
    const hash = value.split(':').slice(1).join(':');
    if (hash) forms.push(hash);
    for (const form of forms) {
      if (output.includes(form)) {
        throw new Error(`script output contains a secret value (${form.length} chars)`);
      }
    }
  }
}

function decoded(secret: StoredSecret | undefined, key: string): Buffer {
  if (!secret) throw new Error('secret was not stored');
  const b64 = secret.data[key];
  if (b64 === undefined) throw new Error(`secret ${secret.metadata.name} has no key ${key}`);
  return Buffer.from(b64, 'base64');
}

/** A throw-away self-signed certificate for 127.0.0.1, which is also its own CA. */
function selfSignedCert(): TlsFiles {
  return selfSignedTls(fs.mkdtempSync(path.join(workDir, 'tls-')));
}

/** `htpasswd -vb` against a throw-away file: the only place a value touches disk. */
function htpasswdVerifies(line: string, user: string, password: string): boolean {
  const dir = fs.mkdtempSync(path.join(workDir, 'htpasswd-'));
  const file = path.join(dir, 'passwd');
  try {
    fs.writeFileSync(file, `${line}\n`, { mode: 0o600 });
    execFileSync(htpasswdBin, ['-vb', file, user, password], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

// ---------------------------------------------------------------------------------------------

let api: FakeSecretsApi;
let apiUrl: string;

beforeAll(() => {
  htpasswdBin = findHtpasswd();
  python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], {
    encoding: 'utf8',
  }).trim();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ensure-secrets-test-'));
});

afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

beforeEach(async () => {
  api = new FakeSecretsApi();
  apiUrl = await api.start();
});

afterEach(async () => {
  await api.stop();
});

test('python3 -m py_compile accepts the script', () => {
  // compiling a copy keeps __pycache__ out of lib/ on every Python version
  const copy = path.join(fs.mkdtempSync(path.join(workDir, 'compile-')), 'ensure_secrets.py');
  fs.copyFileSync(SCRIPT, copy);
  expect(() => execFileSync(python, ['-m', 'py_compile', copy], { stdio: 'pipe' })).not.toThrow();
});

test('the first run creates every Secret with exact formats', async () => {
  const result = await runScript(api, apiUrl);

  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(lines(result.stdout)).toEqual(SECRET_NAMES.map((n) => `created secret ${n}`));
  expect(api.names()).toEqual([...SECRET_NAMES].sort());

  for (const request of api.requests) {
    expect(request.method).toBe('POST');
    expect(request.url).toBe(`/api/v1/namespaces/${NAMESPACE}/secrets`);
    expect(request.authorization).toBe(`Bearer ${api.token}`);
    expect(request.contentType).toBe('application/json');
  }
  for (const name of SECRET_NAMES) {
    const secret = api.get(NAMESPACE, name);
    expect(secret?.type).toBe('Opaque');
    expect(secret?.metadata.namespace).toBe(NAMESPACE);
    expect(secret?.metadata.labels).toEqual(LABELS);
  }

  // core reads the AES key raw from a file: exactly 16 bytes, no newline
  const secretKey = decoded(api.get(NAMESPACE, 'harbor-secret-key'), 'secretKey');
  expect(secretKey).toHaveLength(16);
  expect(secretKey.includes('\n')).toBe(false);
  expect(secretKey.toString('latin1')).toMatch(ALPHANUMERIC);

  // any CSRF key length other than 32 breaks the UI
  const csrf = decoded(api.get(NAMESPACE, 'harbor-core'), 'CSRF_KEY').toString('utf8');
  expect(csrf).toHaveLength(32);
  expect(csrf).toMatch(ALPHANUMERIC);
  const coreSecret = decoded(api.get(NAMESPACE, 'harbor-core'), 'secret').toString('utf8');
  expect(coreSecret).toHaveLength(16);
  expect(coreSecret).toMatch(ALPHANUMERIC);

  const credentials = api.get(NAMESPACE, 'harbor-registry-credentials');
  const password = decoded(credentials, 'REGISTRY_PASSWD').toString('utf8');
  expect(password).toHaveLength(32);
  expect(password).toMatch(ALPHANUMERIC);
  const htpasswd = decoded(credentials, 'REGISTRY_HTPASSWD').toString('utf8');
  expect(htpasswd.startsWith(`${REGISTRY_USER}:$2`)).toBe(true);
  expect(htpasswd).not.toMatch(/\s/);
  expect(htpasswdVerifies(htpasswd, REGISTRY_USER, password)).toBe(true);
  // guards against a verifier that accepts anything
  expect(htpasswdVerifies(htpasswd, REGISTRY_USER, `${password}x`)).toBe(false);

  const randoms = [secretKey.toString('utf8'), csrf, coreSecret, password];
  expect(new Set(randoms).size).toBe(randoms.length);
});

test('a second run creates nothing and leaves every stored value byte-identical', async () => {
  expect((await runScript(api, apiUrl)).code).toBe(0);
  const before = SECRET_NAMES.map((n) => api.get(NAMESPACE, n));

  const second = await runScript(api, apiUrl);

  expect(second.code).toBe(0);
  expect(second.stdout).not.toContain('created');
  expect(lines(second.stdout)).toEqual(SECRET_NAMES.map((n) => `kept existing secret ${n}`));
  expect(SECRET_NAMES.map((n) => api.get(NAMESPACE, n))).toEqual(before);
  // create-only: nothing that could overwrite was ever attempted
  expect(api.requests.every((r) => r.method === 'POST')).toBe(true);
});

test('a pre-existing Secret is kept and only the missing ones are created', async () => {
  const existing: StoredSecret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'harbor-core', namespace: NAMESPACE },
    type: 'Opaque',
    data: {
      secret: Buffer.from('operator-chosen1').toString('base64'),
      CSRF_KEY: Buffer.from('operator-chosen-csrf-key-32-char').toString('base64'),
    },
  };
  api.seed(existing);

  const result = await runScript(api, apiUrl);

  expect(result.code).toBe(0);
  expect(lines(result.stdout)).toEqual(
    SECRET_NAMES.map((n) =>
      n === 'harbor-core' ? `kept existing secret ${n}` : `created secret ${n}`,
    ),
  );
  expect(api.get(NAMESPACE, 'harbor-core')).toEqual(existing);
  expect(api.names()).toEqual([...SECRET_NAMES].sort());
});

test('transient 503s from the API are retried and the run succeeds', async () => {
  api.failNext(2, 503);

  const result = await runScript(api, apiUrl);

  expect(result.code).toBe(0);
  expect(api.names()).toEqual([...SECRET_NAMES].sort());
  expect(api.requests).toHaveLength(SECRET_NAMES.length + 2);
  expect(result.stderr).toMatch(/failed \(HTTP 503\), retrying/);
});

test('dropped connections are retried and the run succeeds', async () => {
  api.failNext(2, 'reset');

  const result = await runScript(api, apiUrl);

  expect(result.code).toBe(0);
  expect(api.names()).toEqual([...SECRET_NAMES].sort());
  expect(result.stderr).toMatch(/connection error/);
});

test('retries are bounded when the API stays unavailable', async () => {
  const spec = harborSpec();
  spec.secrets = spec.secrets.slice(0, 1);
  api.failNext(1000, 503);

  const result = await runScript(api, apiUrl, { spec });

  expect(result.code).not.toBe(0);
  expect(api.requests).toHaveLength(MAX_ATTEMPTS);
  expect(result.stderr).toContain('failed to create secret harbor-secret-key: HTTP 503');
});

test('an unreachable API fails the run and names the Secret', async () => {
  const spec = harborSpec();
  spec.secrets = spec.secrets.slice(0, 1);
  const closed = new FakeSecretsApi();
  const closedUrl = await closed.start();
  await closed.stop();

  const result = await runScript(api, apiUrl, { spec, apiUrl: closedUrl });

  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(
    /failed to create secret harbor-secret-key: no response: connection error/,
  );
});

test('a 403 fails the run, names the Secret and still creates the others', async () => {
  api.forbid('harbor-core');

  const result = await runScript(api, apiUrl);

  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(/failed to create secret harbor-core: HTTP 403: .*forbidden/);
  expect(api.names()).toEqual(SECRET_NAMES.filter((n) => n !== 'harbor-core').sort());
});

test('a wrong bearer token is rejected by the API and fails the run', async () => {
  const tokenFile = writeTokenFile('not-the-token');

  const result = await runScript(api, apiUrl, { tokenFile });

  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain('HTTP 401');
  expect(api.names()).toEqual([]);
});

test('a missing htpasswd binary fails only the Secret that needs it', async () => {
  const result = await runScript(api, apiUrl, { htpasswdBin: path.join(workDir, 'no-htpasswd') });

  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain('failed to generate secret harbor-registry-credentials');
  expect(api.names()).toEqual(
    SECRET_NAMES.filter((n) => n !== 'harbor-registry-credentials').sort(),
  );
});

test('the output never contains a generated value, even when the API echoes it', async () => {
  api.echoBodyOnCreate('harbor-registry-credentials');
  api.forbid('harbor-core');
  api.failNext(1, 503);

  const result = await runScript(api, apiUrl);

  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain('failed to create secret harbor-registry-credentials: HTTP 422');
  expect(result.stderr).toContain('<redacted>');
  // the API double really did echo the values, so the check below is meaningful
  const values = api.sentValues();
  expect(values.length).toBeGreaterThanOrEqual(5);
  expectNoValueIn(result, values);
});

describe('over TLS, as in the cluster', () => {
  let tlsApi: FakeSecretsApi;
  let port: string;
  let tls: TlsFiles;

  beforeEach(async () => {
    tls = selfSignedCert();
    tlsApi = new FakeSecretsApi(tls);
    port = new URL(await tlsApi.start()).port;
  });

  afterEach(async () => {
    await tlsApi.stop();
  });

  const inClusterEnv = (caFile: string) => ({
    apiUrl: null,
    extraEnv: {
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: port,
      K8S_CA_FILE: caFile,
    },
  });

  test('the API address comes from KUBERNETES_SERVICE_HOST/PORT, trusted via the CA', async () => {
    const result = await runScript(tlsApi, '', inClusterEnv(tls.cert));

    expect(result.code).toBe(0);
    expect(tlsApi.names()).toEqual([...SECRET_NAMES].sort());
  });

  test('a server certificate the CA did not sign is refused without retrying', async () => {
    const result = await runScript(tlsApi, '', inClusterEnv(selfSignedCert().cert));

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/CERTIFICATE_VERIFY_FAILED/);
    expect(result.stderr).not.toMatch(/retrying/);
    expect(tlsApi.names()).toEqual([]);
  });

  test('a missing CA file fails the run with a clear message', async () => {
    const result = await runScript(tlsApi, '', inClusterEnv(path.join(workDir, 'no-ca.crt')));

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('cannot load the cluster CA');
    expect(tlsApi.requests).toHaveLength(0);
  });
});

describe('an invalid SECRETS_SPEC exits 2 before calling the API', () => {
  const withEntry = (entry: Partial<EntrySpec>): SecretsSpec => {
    const spec = harborSpec();
    spec.secrets[0].entries[0] = { ...spec.secrets[0].entries[0], ...entry };
    return spec;
  };
  const withHtpasswd = (passwordFrom: string): SecretsSpec => {
    const spec = harborSpec();
    spec.secrets[3].entries[1].passwordFrom = passwordFrom;
    return spec;
  };

  const cases: Array<[string, SecretsSpec | string | null, RegExp]> = [
    ['unset', null, /SECRETS_SPEC is not set/],
    ['not JSON', '{"namespace": ', /SECRETS_SPEC is not valid JSON/],
    ['an unknown kind', withEntry({ kind: 'uuid' }), /unknown kind "uuid"/],
    ['a length below 8', withEntry({ length: 7 }), /length 7 is outside 8\.\.128/],
    ['a length above 128', withEntry({ length: 129 }), /length 129 is outside 8\.\.128/],
    ['a non-integer length', withEntry({ length: '16' }), /length must be an integer/],
    [
      'a missing passwordFrom target',
      withHtpasswd('NO_SUCH_KEY'),
      /REGISTRY_HTPASSWD: passwordFrom "NO_SUCH_KEY" is not a key of the same Secret/,
    ],
    [
      'a passwordFrom target in another Secret',
      withHtpasswd('CSRF_KEY'),
      /passwordFrom "CSRF_KEY" is not a key of the same Secret/,
    ],
    [
      'a password too long for bcrypt',
      (() => {
        const spec = harborSpec();
        spec.secrets[3].entries[0].length = 100;
        return spec;
      })(),
      /bcrypt uses at most 72/,
    ],
    [
      'a duplicate key',
      (() => {
        const spec = harborSpec();
        spec.secrets[1].entries[1].key = 'secret';
        return spec;
      })(),
      /secret harbor-core has duplicate key secret/,
    ],
    [
      'a duplicate Secret name',
      (() => {
        const spec = harborSpec();
        spec.secrets[1].name = 'harbor-secret-key';
        return spec;
      })(),
      /duplicate secret name\(s\) harbor-secret-key/,
    ],
    [
      'an invalid Secret name',
      (() => {
        const spec = harborSpec();
        spec.secrets[0].name = 'Harbor_Key';
        return spec;
      })(),
      /name "Harbor_Key" is not a valid Secret name/,
    ],
    [
      'an unknown field',
      JSON.stringify({ ...harborSpec(), rotate: true }),
      /unknown field\(s\) rotate/,
    ],
  ];

  test.each(cases)('%s', async (_label, spec, message) => {
    const result = await runScript(api, apiUrl, { spec });

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(api.requests).toHaveLength(0);
  });
});
