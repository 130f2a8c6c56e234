/**
 * Runs the real distribution registry (Debian's `docker-registry`) with the synthesized
 * config.yml, the real `redis-server` as its blob cache and an htpasswd file made the way the
 * cluster makes it: the real ensure-secrets.py from the synthesized Job, talking to an
 * in-process double of the Kubernetes Secrets API. Then the real `skopeo` pushes an image with
 * the credential core is given, and reads it back.
 *
 * Debian packages: docker-registry, redis-server (with redis-tools), skopeo, apache2-utils,
 * python3.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { FakeSecretsApi } from '../support/fake-k8s-api';
import {
  Daemon,
  RunResult,
  freePort,
  run,
  startDaemon,
  stopDaemon,
  waitUntil,
} from '../support/processes';
import { OciImage, buildOciImage } from '../support/oci-image';
import { K8sObject, containerOf, envOf, find, mountAt, ofKind, synthApp } from '../support/synth';

const REPOSITORY = 'library/test';
const TAG = '1';
const STARTUP_MS = 15_000;
const COMMAND_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Environment

/** The environment without anything that could redirect or reconfigure the programs. */
function cleanEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const key of Object.keys(env)) {
    if (
      /^(REGISTRY_|KUBERNETES_|K8S_|SECRETS_SPEC$|HTPASSWD_BIN$|XDG_|(HTTPS?|ALL|NO)_PROXY$)/i.test(
        key,
      )
    ) {
      delete env[key];
    }
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// Reading the synthesized objects the way the kubelet does

/** The Secrets the Job created, read as the kubelet reads them for a pod. */
class CreatedSecrets {
  constructor(private readonly api: FakeSecretsApi) {}

  /** Looked up in the workload's namespace, so a Job writing elsewhere fails here. */
  value(workload: K8sObject, name: string, key: string): string {
    const value = this.api.data(workload.metadata.namespace, name)?.[key];
    if (value === undefined) throw new Error(`no key ${key} in Secret ${name}`);
    return value;
  }

  /** A container's env as the pod sees it, with Secret references resolved. */
  env(workload: K8sObject, container: K8sObject): Record<string, string> {
    const env: Record<string, string> = {};
    for (const entry of container.env ?? []) {
      const ref = entry.valueFrom?.secretKeyRef;
      if (entry.value !== undefined) env[entry.name] = entry.value;
      else if (ref) env[entry.name] = this.value(workload, ref.name, ref.key);
      else throw new Error(`env ${entry.name} has a source this test does not resolve`);
    }
    return env;
  }

  /** The content of a file a container mounts from one key of a Secret. */
  file(workload: K8sObject, container: K8sObject, mountPath: string): string {
    const found = mountAt(workload, container, mountPath);
    const source = found?.volume.secret;
    if (!found || !source) throw new Error(`${container.name} mounts no Secret at ${mountPath}`);
    const item = source.items.find((i: K8sObject) => i.path === found.mount.subPath);
    if (!item) throw new Error(`Secret volume ${found.volume.name} has no ${found.mount.subPath}`);
    return this.value(workload, source.secretName, item.key);
  }
}

/** Runs the Job's script, from the ConfigMap it mounts, with the Job's SECRETS_SPEC. */
async function runSecretsJob(objects: K8sObject[], workDir: string): Promise<CreatedSecrets> {
  const jobs = ofKind(objects, 'Job').filter((j) => j.metadata.name.startsWith('harbor-secrets-'));
  expect(jobs).toHaveLength(1);
  const job = jobs[0];
  const container = containerOf(job, 'ensure-secrets');
  const [interpreter, scriptPath] = container.command as string[];
  expect(interpreter).toBe('python3');
  const scriptMount = mountAt(job, container, path.dirname(scriptPath));
  const scriptMap = find(objects, 'ConfigMap', scriptMount?.volume.configMap.name);
  const script = scriptMap.data[path.basename(scriptPath)] as string;
  // the cluster runs the ConfigMap's copy; it must be the script this repository tests
  expect(script).toBe(
    fs.readFileSync(
      path.join(__dirname, '..', '..', 'lib', 'harbor', 'scripts', 'ensure-secrets.py'),
      'utf8',
    ),
  );
  const scriptFile = path.join(workDir, 'ensure-secrets.py');
  fs.writeFileSync(scriptFile, script);

  const spec = envOf(container, 'SECRETS_SPEC') as string;
  const api = new FakeSecretsApi();
  const tokenFile = path.join(workDir, 'token');
  fs.writeFileSync(tokenFile, `${api.token}\n`, { mode: 0o600 });
  try {
    const env = {
      ...cleanEnv(workDir),
      SECRETS_SPEC: spec,
      K8S_API_URL: await api.start(),
      K8S_TOKEN_FILE: tokenFile,
      PYTHONDONTWRITEBYTECODE: '1',
    };
    const result = await run(interpreter, [scriptFile], { env, timeoutMs: COMMAND_MS });
    expect(result).toMatchObject({ code: 0, stderr: '' });
  } finally {
    await api.stop();
  }
  return new CreatedSecrets(api);
}

// ---------------------------------------------------------------------------------------------

/** Sets a key that the synthesized config already has; fails if it does not. */
function replace(config: K8sObject, keys: string[], value: unknown): void {
  const parent = keys.slice(0, -1).reduce((o, k) => o?.[k], config);
  const last = keys[keys.length - 1];
  if (parent === undefined || !(last in parent)) {
    throw new Error(`the synthesized config.yml has no ${keys.join('.')}`);
  }
  parent[last] = value;
}

let workDir: string;
let env: NodeJS.ProcessEnv;
let redis: Daemon | undefined;
let registry: Daemon | undefined;
let original: K8sObject;
let registryUrl: string;
let registryHost: string;
let redisPort: number;
let redisPassword: string | undefined;
let startupLog: string;
let storageDir: string;
let user: string;
let password: string;
let image: OciImage;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'registry-distribution-test-'));
  env = cleanEnv(workDir);
  const { objects } = synthApp();
  const secrets = await runSecretsJob(objects, workDir);

  const deployment = find(objects, 'Deployment', 'harbor-registry');
  const container = containerOf(deployment, 'registry');
  const configMount = mountAt(deployment, container, '/etc/registry/config.yml');
  const configMap = find(objects, 'ConfigMap', configMount?.volume.configMap.name);
  const text = configMap.data[configMount?.mount.subPath] as string;
  original = parse(text);
  const config = parse(text);

  // core is what talks to the registry with these; its view of them is the one that matters
  const core = find(objects, 'Deployment', 'harbor-core');
  const coreContainer = containerOf(core, 'core');
  const coreEnvMap = find(objects, 'ConfigMap', coreContainer.envFrom[0].configMapRef.name);
  user = coreEnvMap.data.REGISTRY_CREDENTIAL_USERNAME;
  password = secrets.env(core, coreContainer).REGISTRY_CREDENTIAL_PASSWORD;
  expect(user).toBe('harbor_registry_user');

  const htpasswdFile = path.join(workDir, 'passwd');
  fs.writeFileSync(htpasswdFile, secrets.file(deployment, container, original.auth.htpasswd.path), {
    mode: 0o600,
  });
  const podEnv = secrets.env(deployment, container);

  redisPort = await freePort();
  const redisArgs = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(redisPort),
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    workDir,
  ];
  redisPassword = podEnv.REGISTRY_REDIS_PASSWORD;
  if (redisPassword) redisArgs.push('--requirepass', redisPassword);
  redis = startDaemon('redis-server', 'redis-server', redisArgs, { env });
  await waitUntil(redis, async () => (await redisCli(['ping'])).stdout.trim() === 'PONG', {
    timeoutMs: STARTUP_MS,
  });

  // only what must differ on a test machine: paths, and ports on 127.0.0.1
  const port = await freePort();
  storageDir = path.join(workDir, 'storage');
  replace(config, ['storage', 'filesystem', 'rootdirectory'], storageDir);
  replace(config, ['http', 'addr'], `127.0.0.1:${port}`);
  replace(config, ['http', 'debug', 'addr'], `127.0.0.1:${await freePort()}`);
  replace(config, ['redis', 'addr'], `127.0.0.1:${redisPort}`);
  replace(config, ['auth', 'htpasswd', 'path'], htpasswdFile);
  const configFile = path.join(workDir, 'config.yml');
  fs.writeFileSync(configFile, stringify(config));

  registryHost = `127.0.0.1:${port}`;
  registryUrl = `http://${registryHost}`;
  registry = startDaemon('docker-registry', 'docker-registry', ['serve', configFile], {
    env: { ...env, ...podEnv },
  });
  // the pod's startup probe asks for / too
  await waitUntil(
    registry,
    async () =>
      (
        await fetch(`${registryUrl}/`, {
          signal: AbortSignal.timeout(1_000),
        })
      ).status === 200,
    { timeoutMs: STARTUP_MS },
  );
  startupLog = registry.output();

  image = buildOciImage(path.join(workDir, 'image'), TAG);
});

afterAll(async () => {
  await stopDaemon(registry);
  await stopDaemon(redis);
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

function redisCli(args: string[]): Promise<RunResult> {
  return run('redis-cli', ['-h', '127.0.0.1', '-p', String(redisPort), ...args], {
    env: redisPassword ? { ...env, REDISCLI_AUTH: redisPassword } : env,
    timeoutMs: COMMAND_MS,
  });
}

function basicAuth(name: string, secret: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${name}:${secret}`).toString('base64')}` };
}

function getV2(headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${registryUrl}/v2/`, { headers, signal: AbortSignal.timeout(5_000) });
}

function skopeo(args: string[]): Promise<RunResult> {
  const policy = path.join(workDir, 'policy.json');
  // signature policy is not under test; the machine's own policy must not decide the outcome
  fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return run('skopeo', ['--policy', policy, '--command-timeout', '30s', ...args], {
    env,
    timeoutMs: COMMAND_MS,
  });
}

test('starts with the redis blob cache and the http secret from env, without warnings', () => {
  expect(startupLog).toContain('using redis blob descriptor cache');
  expect(startupLog).toContain(`listening on ${registryHost}`);
  // distribution warns exactly when no REGISTRY_HTTP_SECRET reached it
  expect(startupLog).not.toContain('No HTTP secret provided');
  expect(startupLog).not.toMatch(/level=(warning|error|fatal|panic)/);
});

test('refuses /v2/ without credentials with the configured basic realm', async () => {
  const response = await getV2();

  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe(
    `Basic realm="${original.auth.htpasswd.realm}"`,
  );
});

test('refuses /v2/ with a wrong password', async () => {
  expect((await getV2(basicAuth(user, `${password}x`))).status).toBe(401);
});

test('accepts /v2/ with the credential core is given', async () => {
  expect((await getV2(basicAuth(user, password))).status).toBe(200);
});

describe('after skopeo pushed an image', () => {
  const reference = () => `docker://${registryHost}/${REPOSITORY}:${TAG}`;
  let push: RunResult;

  beforeAll(async () => {
    push = await skopeo([
      'copy',
      '--preserve-digests',
      '--dest-tls-verify=false',
      '--dest-creds',
      `${user}:${password}`,
      `oci:${image.dir}:${TAG}`,
      reference(),
    ]);
  });

  test('the push succeeded', () => {
    expect(push).toMatchObject({ code: 0 });
  });

  test('the manifest reads back byte for byte', async () => {
    const raw = await skopeo([
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      `${user}:${password}`,
      reference(),
    ]);

    expect(raw.code).toBe(0);
    expect(Buffer.from(raw.stdout, 'utf8').equals(image.manifest)).toBe(true);
  });

  test('skopeo inspect reports the pushed digest and layer', async () => {
    const inspected = await skopeo([
      'inspect',
      '--tls-verify=false',
      '--creds',
      `${user}:${password}`,
      reference(),
    ]);

    expect(inspected.code).toBe(0);
    const info = JSON.parse(inspected.stdout);
    expect(info.Digest).toBe(image.manifestDigest);
    expect(info.Layers).toEqual([image.layer.digest]);
  });

  test('reading it back without credentials is refused', async () => {
    const anonymous = await skopeo([
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--no-creds',
      reference(),
    ]);

    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/unauthorized|authentication required/i);
  });

  test('the blobs are stored under the configured root directory', () => {
    const blobs = path.join(storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256');
    for (const digest of [image.layer.digest, image.config.digest, image.manifestDigest]) {
      const hex = digest.slice('sha256:'.length);
      expect(fs.existsSync(path.join(blobs, hex.slice(0, 2), hex, 'data'))).toBe(true);
    }
  });

  test('blob descriptors are cached in the configured redis database', async () => {
    const size = await redisCli(['-n', String(original.redis.db), 'dbsize']);

    expect(size.code).toBe(0);
    expect(Number(size.stdout.trim())).toBeGreaterThan(0);
  });
});
