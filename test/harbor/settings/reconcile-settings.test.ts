/**
 * Contract tests of lib/harbor/scripts/reconcile-settings.py: the real script, run with the
 * machine's python3, against a double of Harbor's API that checks every request and answer
 * against Harbor's Swagger description, and a double of the Kubernetes API that enforces the
 * Job's Role. First run, no-op run, changed declaration, Harbor not ready, a failure halfway and
 * its retry, adoption, pruning, lost pull Secrets and malformed documents.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { RobotLevel, RobotPermission } from '../../../lib/harbor/settings/declaration';
import { SettingsDocument } from '../../../lib/harbor/settings/document';
import { HarborSettings } from '../../../lib/harbor/settings/settings';
import { FakeHarborApi } from '../../support/fake-harbor-api';
import { FakeSecretsApi, PolicyRule, StoredSecret } from '../../support/fake-k8s-api';
import { RunResult, run } from '../../support/processes';

const SCRIPT = path.join(
  __dirname,
  '..',
  '..',
  '..',
  'lib',
  'harbor',
  'scripts',
  'reconcile-settings.py',
);
const NAMESPACE = 'harbor';
const STATE = 'harbor-settings-state';
const OWNER = 'cdk8s-harbor:harbor/harbor';
const MARKER = `[${OWNER}]`;
const REGISTRY = 'harbor.example.test';
const PULL_SECRET = 'harbor-ci-pull';
const GIB = 1024 ** 3;

/** The values behind the credential env vars the document names; never in any output. */
const CREDENTIALS: Record<string, string> = {
  DR_ACCESS_KEY: 'robot$dr-writer',
  DR_ACCESS_SECRET: 'Dr-access-secret-1',
  SCANNER_TOKEN: 'Bearer scanner-token-1',
  OIDC_CLIENT_SECRET: 'oidc-client-secret-1',
};

// The Job's Role, as HarborSettings grants it: named get/update, create on the collection.
const RULES: PolicyRule[] = [
  { apiGroups: [''], resources: ['configmaps'], resourceNames: [STATE], verbs: ['get', 'update'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
  {
    apiGroups: [''],
    resources: ['secrets'],
    resourceNames: [PULL_SECRET, 'harbor-puller-pull'],
    verbs: ['get', 'update'],
  },
  { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
];

function settings(): SettingsDocument {
  return {
    apiVersion: 'cdk8s-harbor/v1',
    owner: OWNER,
    prune: false,
    robotNamePrefix: 'robot$',
    scanners: [
      {
        name: 'extra',
        url: 'http://scanner.example.test:8080',
        description: 'a second opinion',
        auth: 'Bearer',
        accessCredentialEnv: 'SCANNER_TOKEN',
        skipCertVerify: false,
        useInternalAddr: false,
        default: false,
      },
    ],
    registries: [
      {
        name: 'dr',
        type: 'harbor',
        url: 'https://dr.example.test',
        insecure: false,
        description: 'disaster recovery',
        credential: {
          type: 'basic',
          accessKeyEnv: 'DR_ACCESS_KEY',
          accessSecretEnv: 'DR_ACCESS_SECRET',
        },
      },
      {
        name: 'hub',
        type: 'docker-hub',
        url: 'https://hub.example.test',
        insecure: false,
        description: '',
        credential: null,
      },
    ],
    projects: [
      {
        name: 'apps',
        metadata: {
          public: 'false',
          auto_scan: 'true',
          auto_sbom_generation: 'false',
          enable_content_trust: 'false',
          enable_content_trust_cosign: 'true',
          prevent_vul: 'true',
          severity: 'high',
          reuse_sys_cve_allowlist: 'false',
        },
        storageLimit: 10 * GIB,
        cveAllowlist: { items: ['CVE-2024-0001', 'CVE-2024-0002'], expiresAt: null },
        scanner: 'extra',
        retention: {
          algorithm: 'or',
          cron: '0 0 3 * * *',
          rules: [
            {
              disabled: false,
              action: 'retain',
              template: 'latestPushedK',
              params: { latestPushedK: 10 },
              tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**' }],
              scope_selectors: {
                repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }],
              },
            },
          ],
        },
      },
      {
        name: 'charts',
        metadata: {
          public: 'true',
          auto_scan: 'true',
          auto_sbom_generation: 'false',
          enable_content_trust: 'false',
          enable_content_trust_cosign: 'false',
          prevent_vul: 'false',
          severity: 'critical',
          reuse_sys_cve_allowlist: 'true',
        },
        storageLimit: -1,
        cveAllowlist: null,
        scanner: null,
        retention: null,
      },
    ],
    robots: [
      {
        name: 'ci',
        level: 'project',
        description: 'pushes from CI',
        duration: -1,
        disable: false,
        permissions: [
          {
            kind: 'project',
            namespace: 'apps',
            access: [
              { resource: 'repository', action: 'pull' },
              { resource: 'repository', action: 'push' },
            ],
          },
        ],
        secret: { name: PULL_SECRET, namespaces: ['apps', 'ci'], registry: REGISTRY },
      },
      {
        name: 'puller',
        level: 'system',
        description: '',
        duration: 90,
        disable: false,
        permissions: [
          { kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }] },
        ],
        secret: { name: 'harbor-puller-pull', namespaces: ['apps'], registry: REGISTRY },
      },
    ],
    replicationPolicies: [
      {
        name: 'push-dr',
        description: 'everything to DR',
        srcRegistry: null,
        destRegistry: 'dr',
        destNamespace: '',
        destNamespaceReplaceCount: -1,
        filters: [
          { type: 'name', value: 'apps/**' },
          { type: 'resource', value: 'image' },
        ],
        trigger: { type: 'scheduled', cron: '0 0 1 * * *' },
        override: true,
        enabled: true,
        replicateDeletion: false,
        speed: 0,
        copyByChunk: false,
      },
      {
        name: 'pull-hub',
        description: '',
        srcRegistry: 'hub',
        destRegistry: null,
        destNamespace: 'apps',
        destNamespaceReplaceCount: 1,
        filters: [{ type: 'tag', value: 'v*', decoration: 'matches' }],
        trigger: { type: 'manual', cron: null },
        override: false,
        enabled: true,
        replicateDeletion: false,
        speed: 1024,
        copyByChunk: false,
      },
    ],
    scanAllSchedule: { type: 'Custom', cron: '0 0 2 * * *' },
    systemCveAllowlist: { items: ['CVE-2023-9999'], expiresAt: 1893456000 },
    configurations: { project_creation_restriction: 'adminonly', robot_token_duration: 45 },
    secretConfigurations: { oidc_client_secret: 'OIDC_CLIENT_SECRET' },
  };
}

// ---------------------------------------------------------------------------------------------
// Running the script

let python = 'python3';
let workDir: string;
let harbor: FakeHarborApi;
let k8s: FakeSecretsApi;
let k8sUrl: string;

interface RunOptions {
  /** Replaces the document; a string is written as it is. */
  document?: SettingsDocument | string;
  env?: Record<string, string>;
  /** Removed from the environment. */
  unset?: string[];
}

async function reconcile(opts: RunOptions = {}): Promise<RunResult> {
  const document = opts.document ?? settings();
  const file = path.join(workDir, `settings-${Date.now()}-${Math.random()}.json`);
  fs.writeFileSync(file, typeof document === 'string' ? document : JSON.stringify(document));
  const token = path.join(workDir, 'token');
  fs.writeFileSync(token, `${k8s.token}\n`, { mode: 0o600 });

  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(KUBERNETES_|K8S_|HARBOR_|HTTPS?_PROXY$)/i.test(key)) delete env[key];
  }
  Object.assign(env, CREDENTIALS, {
    SETTINGS_FILE: file,
    HARBOR_URL: harbor.url,
    HARBOR_USERNAME: harbor.username,
    HARBOR_PASSWORD: harbor.password,
    NAMESPACE,
    STATE_CONFIGMAP: STATE,
    K8S_API_URL: k8sUrl,
    K8S_TOKEN_FILE: token,
    READY_TIMEOUT_SECONDS: '10',
    RETRY_BASE_SECONDS: '0.01',
    PYTHONDONTWRITEBYTECODE: '1',
  });
  Object.assign(env, opts.env);
  for (const key of opts.unset ?? []) delete env[key];

  const result = await run(python, [SCRIPT], { env, timeoutMs: 30_000 });
  expectNoSecretIn(result);
  expect(harbor.violations).toEqual([]);
  return result;
}

/** Fails when a credential, a robot secret or the Harbor password shows in the output. */
function expectNoSecretIn(result: RunResult): void {
  const secrets = [
    ...Object.values(CREDENTIALS),
    ...[...harbor.robots.values()].map((r) => r.secret),
    harbor.password,
  ];
  for (const request of k8s.requests) {
    const data = request.body ? (JSON.parse(request.body).data ?? {}) : {};
    if (request.url.includes('/secrets')) secrets.push(...(Object.values(data) as string[]));
  }
  secrets.push(...k8s.sentValues().filter((v) => v.includes('auths')));
  for (const secret of secrets) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
}

function lines(result: RunResult): string[] {
  return result.stdout.trim().split('\n');
}

function writeOperations(since = 0): string[] {
  return harbor
    .writes()
    .slice(since)
    .map((r) => r.operation ?? `${r.method} ${r.path}`);
}

/** The writes to the state ConfigMap, as `METHOD path`. */
function stateWrites(): string[] {
  return k8s
    .writes()
    .filter((r) => r.url.includes('/configmaps'))
    .map((r) => `${r.method} ${r.url.split('?')[0]}`);
}

/** Starts over with a Kubernetes API that holds the pull Secrets, not the state ConfigMap. */
async function loseStateConfigMap(): Promise<void> {
  const kept = [
    ['apps', PULL_SECRET],
    ['ci', PULL_SECRET],
    ['apps', 'harbor-puller-pull'],
  ].map(([namespace, name]) => pullSecret(namespace, name));
  await k8s.stop();
  k8s = new FakeSecretsApi();
  k8sUrl = await k8s.start();
  k8s.authorize(RULES, `${NAMESPACE}:harbor-settings`);
  kept.forEach((secret) => k8s.seed(secret));
}

function pullSecret(namespace: string, name = PULL_SECRET): StoredSecret {
  const secret = k8s.get(namespace, name);
  if (!secret) throw new Error(`no Secret ${namespace}/${name}`);
  return secret;
}

function dockerConfig(namespace: string, name = PULL_SECRET): any {
  const raw = pullSecret(namespace, name).data['.dockerconfigjson'];
  return JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
}

function byName<T extends { name: string }>(items: Iterable<T>, name: string): T {
  const found = [...items].find((i) => i.name === name);
  if (!found) throw new Error(`nothing named ${name}`);
  return found;
}

beforeAll(() => {
  // an absolute path: a version-manager shim costs a quarter second per run
  python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], {
    encoding: 'utf8',
  }).trim();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconcile-settings-'));
});

afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

beforeEach(async () => {
  harbor = await FakeHarborApi.start();
  k8s = new FakeSecretsApi();
  k8sUrl = await k8s.start();
  k8s.authorize(RULES, `${NAMESPACE}:harbor-settings`);
});

afterEach(async () => {
  await harbor.stop();
  await k8s.stop();
});

// ---------------------------------------------------------------------------------------------
// First run

test('python3 -m py_compile accepts the script', () => {
  const copy = path.join(workDir, 'compile-check.py');
  fs.copyFileSync(SCRIPT, copy);
  expect(() => execFileSync(python, ['-m', 'py_compile', copy], { stdio: 'pipe' })).not.toThrow();
});

test('the first run creates every declared object', async () => {
  const result = await reconcile();

  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const apps = harbor.projectByName('apps')!;
  expect(apps.metadata).toMatchObject(settings().projects[0].metadata);
  expect(apps.cve_allowlist.items.map((i) => i.cve_id).sort()).toEqual([
    'CVE-2024-0001',
    'CVE-2024-0002',
  ]);
  expect(harbor.quotaOf(apps.project_id).hard.storage).toBe(10 * GIB);
  const extra = byName(harbor.scanners.values(), 'extra');
  expect(apps.scanner).toBe(extra.uuid);
  expect(extra.description).toBe(`a second opinion ${MARKER}`);
  expect(extra.access_credential).toBe(CREDENTIALS.SCANNER_TOKEN);
  const retention = harbor.retentions.get(Number(apps.metadata.retention_id));
  expect(retention.scope).toEqual({ level: 'project', ref: apps.project_id });
  expect(retention.trigger.settings.cron).toBe('0 0 3 * * *');
  expect(retention.rules[0]).toMatchObject({
    template: 'latestPushedK',
    params: { latestPushedK: 10 },
  });
  const charts = harbor.projectByName('charts')!;
  expect(charts.metadata).toMatchObject({ public: 'true', reuse_sys_cve_allowlist: 'true' });
  expect(harbor.quotaOf(charts.project_id).hard.storage).toBe(-1);

  const dr = byName(harbor.registries.values(), 'dr');
  expect(dr).toMatchObject({
    type: 'harbor',
    url: 'https://dr.example.test',
    description: `disaster recovery ${MARKER}`,
    credential: { type: 'basic', access_key: CREDENTIALS.DR_ACCESS_KEY },
  });
  expect(dr.credential.access_secret).toBe(CREDENTIALS.DR_ACCESS_SECRET);
  const hub = byName(harbor.registries.values(), 'hub');
  expect(hub.description).toBe(MARKER);
  expect(hub.credential).toBeUndefined();

  const ci = harbor.robotByName('robot$apps+ci')!;
  expect(ci).toMatchObject({
    level: 'project',
    duration: -1,
    description: `pushes from CI ${MARKER}`,
  });
  expect(ci.permissions[0].access).toHaveLength(2);
  const puller = harbor.robotByName('robot$puller')!;
  expect(puller).toMatchObject({ level: 'system', duration: 90, description: MARKER });

  const push = byName(harbor.replicationPolicies.values(), 'push-dr');
  expect(push).toMatchObject({
    description: `everything to DR ${MARKER}`,
    dest_registry: { id: dr.id },
    trigger: { type: 'scheduled', trigger_settings: { cron: '0 0 1 * * *' } },
    override: true,
    enabled: true,
  });
  expect(push.src_registry).toBeUndefined();
  const pull = byName(harbor.replicationPolicies.values(), 'pull-hub');
  expect(pull).toMatchObject({
    src_registry: { id: hub.id },
    dest_namespace: 'apps',
    dest_namespace_replace_count: 1,
    speed: 1024,
  });
  expect(pull.filters).toEqual([{ type: 'tag', value: 'v*', decoration: 'matches' }]);

  expect(harbor.scanAllSchedule.schedule).toMatchObject({ type: 'Custom', cron: '0 0 2 * * *' });
  expect(harbor.systemCveAllowlist).toEqual({
    items: [{ cve_id: 'CVE-2023-9999' }],
    expires_at: 1893456000,
  });
  expect(harbor.configurations).toMatchObject({
    project_creation_restriction: 'adminonly',
    robot_token_duration: 45,
    oidc_client_secret: CREDENTIALS.OIDC_CLIENT_SECRET,
  });

  expect(lines(result)).toEqual(
    expect.arrayContaining([
      'created scanner extra',
      'created registry dr',
      'created project apps',
      'created retention policy of project apps',
      'updated project apps: scanner',
      'created robot robot$apps+ci',
      'created secret apps/harbor-ci-pull',
      'created replication policy push-dr',
      'updated scan-all schedule: Custom',
      'updated system CVE allowlist',
      'updated configurations: oidc_client_secret, project_creation_restriction, ' +
        'robot_token_duration',
    ]),
  );
  expect(lines(result).at(-1)).toMatch(/^\d+ changes$/);
});

test('field failure #45: pull Secret keyed by registry, robot name with literal $', async () => {
  await reconcile();

  const ci = harbor.robotByName('robot$apps+ci')!;
  for (const namespace of ['apps', 'ci']) {
    expect(pullSecret(namespace).type).toBe('kubernetes.io/dockerconfigjson');
    const config = dockerConfig(namespace);
    expect(Object.keys(config.auths)).toEqual([REGISTRY]);
    const entry = config.auths[REGISTRY];
    expect(entry.username).toBe('robot$apps+ci');
    expect(entry.password).toBe(ci.secret);
    expect(Buffer.from(entry.auth, 'base64').toString('utf8')).toBe(`robot$apps+ci:${ci.secret}`);
  }
  const puller = dockerConfig('apps', 'harbor-puller-pull').auths[REGISTRY];
  expect(Buffer.from(puller.auth, 'base64').toString('utf8')).toBe(
    `robot$puller:${harbor.robotByName('robot$puller')!.secret}`,
  );
});

test('the state ConfigMap holds keyed digests, never the secrets themselves', async () => {
  await reconcile();

  const state = k8s.configMap(NAMESPACE, STATE)!;
  expect(Object.keys(state.data ?? {}).sort()).toEqual([
    'configuration.oidc_client_secret',
    'registry.dr',
    'scanner.extra',
  ]);
  for (const digest of Object.values(state.data ?? {})) expect(digest).toMatch(/^[0-9a-f]{64}$/);
  const text = JSON.stringify(state);
  for (const secret of Object.values(CREDENTIALS)) expect(text).not.toContain(secret);
  expect(stateWrites()).toEqual([`POST /api/v1/namespaces/${NAMESPACE}/configmaps`]);
});

test('a lost state ConfigMap is rebuilt in one write; the run after it changes nothing', async () => {
  await reconcile();
  await loseStateConfigMap();
  const before = harbor.writes().length;

  const rebuilt = await reconcile();

  expect(rebuilt.code).toBe(0);
  // no digest left: every secret is sent once more, so that it is known to match
  expect(writeOperations(before).sort()).toEqual([
    'PUT /configurations',
    'PUT /registries/{id}',
    'PUT /scanners/{registration_id}',
  ]);
  expect(stateWrites()).toEqual([`POST /api/v1/namespaces/${NAMESPACE}/configmaps`]);
  expect(Object.keys(k8s.configMap(NAMESPACE, STATE)!.data ?? {}).sort()).toEqual([
    'configuration.oidc_client_secret',
    'registry.dr',
    'scanner.extra',
  ]);
  expect((await reconcile()).stdout.trim()).toBe('no changes');
});

test('a run that fails halfway still records the digests of what it wrote, in one write', async () => {
  // the scanner and registry dr are created, registry hub and all after it are refused
  harbor.failAfterWrites(2);

  const first = await reconcile();

  expect(first.code).toBe(1);
  expect(stateWrites()).toEqual([`POST /api/v1/namespaces/${NAMESPACE}/configmaps`]);
  expect(Object.keys(k8s.configMap(NAMESPACE, STATE)!.data ?? {}).sort()).toEqual([
    'registry.dr',
    'scanner.extra',
  ]);
  harbor.clearFailures();
  const before = harbor.writes().length;
  const retry = await reconcile();
  expect(retry.code).toBe(0);
  const sent = harbor.writes().slice(before);
  expect(sent.map((r) => r.operation)).not.toContain('PUT /registries/{id}');
  expect(sent.map((r) => r.operation)).not.toContain('PUT /scanners/{registration_id}');
  expect(stateWrites()).toEqual([
    `POST /api/v1/namespaces/${NAMESPACE}/configmaps`,
    `PUT /api/v1/namespaces/${NAMESPACE}/configmaps/${STATE}`,
  ]);
});

// ---------------------------------------------------------------------------------------------
// No-op and changed declarations

test('a second run with the same document makes zero writes and prints no changes', async () => {
  expect((await reconcile()).code).toBe(0);
  const harborWrites = harbor.writes().length;
  const k8sWrites = k8s.writes().length;

  const again = await reconcile();

  expect(again.code).toBe(0);
  expect(again.stdout.trim()).toBe('no changes');
  expect(harbor.writes()).toHaveLength(harborWrites);
  expect(k8s.writes()).toHaveLength(k8sWrites);
});

test('sends the cron of a daily scan-all schedule, as Harbor needs; the rerun writes nothing', async () => {
  const document: SettingsDocument = {
    ...settings(),
    scanAllSchedule: { type: 'Daily', cron: '0 0 0 * * *' },
  };

  const first = await reconcile({ document });
  const writes = harbor.writes().length;
  const second = await reconcile({ document });

  expect(first.code).toBe(0);
  expect(harbor.scanAllSchedule.schedule).toEqual({ type: 'Daily', cron: '0 0 0 * * *' });
  expect(second.stdout.trim()).toBe('no changes');
  expect(harbor.writes()).toHaveLength(writes);
});

test('compares OIDC extra redirect parameters by the map Harbor shows, not its text', async () => {
  const document = settings();
  // not in the order, nor with the escapes, Harbor's Go writes it back in
  document.configurations.oidc_extra_redirect_parms = '{"prompt":"login","acr":"a&b"}';

  const first = await reconcile({ document });
  const writes = harbor.writes().length;
  const second = await reconcile({ document });

  expect(first.code).toBe(0);
  expect(harbor.configurations.oidc_extra_redirect_parms).toEqual({ prompt: 'login', acr: 'a&b' });
  expect(second.stdout.trim()).toBe('no changes');
  expect(harbor.writes()).toHaveLength(writes);
});

test('keeps project robots of one name in different projects apart', async () => {
  const document = settings();
  const ci = document.robots[0];
  const other: any = structuredClone(ci);
  other.permissions[0].namespace = 'charts';
  other.secret = { ...other.secret, name: 'harbor-charts-ci-pull', namespaces: [NAMESPACE] };
  document.robots.push(other);
  k8s.authorize(
    [...RULES, { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'update'] }],
    `${NAMESPACE}:harbor-settings`,
  );

  const result = await reconcile({ document });

  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(harbor.robotByName('robot$apps+ci')).toBeDefined();
  expect(harbor.robotByName('robot$charts+ci')).toBeDefined();
});

test('a changed document writes exactly the differences', async () => {
  await reconcile();
  const before = harbor.writes().length;
  const k8sBefore = k8s.writes().length;
  const changed = settings() as any;
  changed.projects[0].metadata.auto_scan = 'false';
  changed.projects[0].storageLimit = 20 * GIB;
  changed.robots[0].permissions[0].access.push({ resource: 'artifact', action: 'delete' });
  changed.replicationPolicies[0].enabled = false;
  changed.configurations.robot_token_duration = 60;

  const result = await reconcile({ document: changed });

  expect(result.code).toBe(0);
  expect(writeOperations(before).sort()).toEqual([
    'PUT /configurations',
    'PUT /projects/{project_name_or_id}',
    'PUT /quotas/{id}',
    'PUT /replication/policies/{id}',
    'PUT /robots/{robot_id}',
  ]);
  const bodies = harbor.writes().slice(before);
  expect(bodies.find((r) => r.operation === 'PUT /projects/{project_name_or_id}')!.body).toEqual({
    metadata: { auto_scan: 'false' },
  });
  expect(bodies.find((r) => r.operation === 'PUT /configurations')!.body).toEqual({
    robot_token_duration: 60,
  });
  expect(harbor.quotaOf(harbor.projectByName('apps')!.project_id).hard.storage).toBe(20 * GIB);
  expect(harbor.robotByName('robot$apps+ci')!.permissions[0].access).toContainEqual({
    resource: 'artifact',
    action: 'delete',
  });
  expect(k8s.writes()).toHaveLength(k8sBefore);
  expect(lines(result)).toEqual([
    'updated project apps: metadata.auto_scan',
    'updated project apps: storage_limit',
    'updated robot robot$apps+ci: permissions',
    'updated replication policy push-dr: enabled',
    'updated configurations: robot_token_duration',
    '5 changes',
  ]);
});

test('a changed credential is sent once, and only to the object that holds it', async () => {
  await reconcile();
  const before = harbor.writes().length;

  const result = await reconcile({ env: { DR_ACCESS_SECRET: 'Dr-access-secret-2' } });

  expect(result.code).toBe(0);
  expect(
    harbor
      .writes()
      .slice(before)
      .map((r) => [r.operation, r.body]),
  ).toEqual([['PUT /registries/{id}', { access_secret: 'Dr-access-secret-2' }]]);
  expect(byName(harbor.registries.values(), 'dr').credential.access_secret).toBe(
    'Dr-access-secret-2',
  );
  const third = await reconcile({ env: { DR_ACCESS_SECRET: 'Dr-access-secret-2' } });
  expect(third.stdout.trim()).toBe('no changes');
});

// ---------------------------------------------------------------------------------------------
// Harbor not ready, failures and retries

test('waits for a Harbor that is not ready yet, then reconciles', async () => {
  harbor.notReadyFor(4);

  const result = await reconcile();

  expect(result.code).toBe(0);
  expect(harbor.requests.filter((r) => r.path === '/api/v2.0/health').length).toBe(5);
  expect(harbor.projectByName('apps')).toBeDefined();
});

test('exits 3 when Harbor is not ready within the timeout', async () => {
  harbor.notReadyFor(100_000);
  const started = Date.now();

  const result = await reconcile({ env: { READY_TIMEOUT_SECONDS: '1' } });

  expect(result.code).toBe(3);
  expect(result.stderr).toContain('Harbor not ready');
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(harbor.writes()).toEqual([]);
  expect(k8s.requests).toEqual([]);
});

test('a wrong password exits 4 at the first authenticated read, in one line', async () => {
  const wrong = 'Wrong-passw0rd-1';

  const result = await reconcile({ env: { HARBOR_PASSWORD: wrong } });

  expect(result.code).toBe(4);
  expect(result.stdout).toBe('');
  expect(result.stderr.trim().split('\n')).toEqual([
    expect.stringContaining(
      'Harbor refused the login of "admin" (HTTP 401): the password in ' +
        "HARBOR_PASSWORD is not that user's password in Harbor; put the current one into the " +
        'Secret HARBOR_PASSWORD comes from',
    ),
  ]);
  expect(result.stderr).not.toContain(wrong);
  expect(result.stderr).not.toContain(Buffer.from(`admin:${wrong}`).toString('base64'));
  expect(harbor.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
    'GET /api/v2.0/health 200',
    'GET /api/v2.0/configurations 401',
  ]);
  expect(k8s.requests).toEqual([]);
});

test('a user without the admin role exits 4 naming the fix, before anything is read', async () => {
  harbor.failOnce('GET', '/configurations', 403);

  const result = await reconcile();

  expect(result.code).toBe(4);
  expect(result.stderr.trim().split('\n')).toEqual([
    expect.stringContaining(
      'Harbor refused "admin" (HTTP 403): the user is not a Harbor ' +
        'system administrator; HARBOR_USERNAME must name one',
    ),
  ]);
  expect(harbor.writes()).toEqual([]);
  expect(k8s.requests).toEqual([]);
});

test('a failure halfway exits 1; the retry converges without duplicates', async () => {
  harbor.failAfterWrites(6);

  const first = await reconcile();

  expect(first.code).toBe(1);
  expect(first.stderr).toMatch(/HTTP 500: injected failure/);
  harbor.clearFailures();
  const retry = await reconcile();
  expect(retry.code).toBe(0);
  expect(retry.stderr).toBe('');
  const names = (items: Iterable<{ name: string }>) => [...items].map((i) => i.name).sort();
  expect(names(harbor.projects.values())).toEqual(['apps', 'charts']);
  expect(names(harbor.registries.values())).toEqual(['dr', 'hub']);
  expect(names(harbor.robots.values())).toEqual(['robot$apps+ci', 'robot$puller']);
  expect(names(harbor.replicationPolicies.values())).toEqual(['pull-hub', 'push-dr']);
  expect(names(harbor.scanners.values())).toEqual(['Trivy', 'extra']);
  expect(harbor.retentions.size).toBe(1);
  expect(dockerConfig('ci').auths[REGISTRY].password).toBe(
    harbor.robotByName('robot$apps+ci')!.secret,
  );
  expect((await reconcile()).stdout.trim()).toBe('no changes');
});

test('an existing marked object is compared, not made twice', async () => {
  harbor.seedRegistry({
    name: 'dr',
    type: 'harbor',
    url: 'https://dr.example.test',
    description: `disaster recovery ${MARKER}`,
    credential: { type: 'basic', access_key: CREDENTIALS.DR_ACCESS_KEY, access_secret: 'x' },
  });

  const result = await reconcile();

  expect(result.code).toBe(0);
  expect([...harbor.registries.values()].filter((r) => r.name === 'dr')).toHaveLength(1);
  // no digest yet: the credential is written once so that it is known to match
  expect(byName(harbor.registries.values(), 'dr').credential.access_secret).toBe(
    CREDENTIALS.DR_ACCESS_SECRET,
  );
});

test("a refused write is reported with Harbor's message, and the next run retries it", async () => {
  harbor.failOnce('PUT', '/configurations', 403);

  const first = await reconcile();

  expect(first.code).toBe(1);
  expect(first.stderr).toContain('updating configurations: HTTP 403');
  const retry = await reconcile();
  expect(retry.code).toBe(0);
  expect(lines(retry)).toEqual([
    'updated configurations: oidc_client_secret, project_creation_restriction, ' +
      'robot_token_duration',
    '1 change',
  ]);
});

/** What HarborSettings synthesizes for a CI robot, and the run options its Job would have. */
function synthesized(): { objects: any[]; document: any; serviceAccount: string; options: any } {
  const chart = new Chart(Testing.app(), 'test', { namespace: NAMESPACE });
  new HarborSettings(chart, 'Settings', {
    instance: 'harbor',
    registry: REGISTRY,
    projects: [{ name: 'apps', scanOnPush: true }],
    robots: [
      {
        name: 'ci',
        level: RobotLevel.project('apps'),
        permissions: [RobotPermission.push()],
        pullSecret: { namespaces: ['apps', 'ci'] },
      },
    ],
  });
  const objects: any[] = Testing.synth(chart);
  const job = objects.find((o) => o.kind === 'Job');
  const container = job.spec.template.spec.containers[0];
  const env = Object.fromEntries(
    container.env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]),
  );
  const document = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['settings.json']);
  const options = {
    document: document.data['settings.json'],
    env: {
      NAMESPACE: env.NAMESPACE,
      STATE_CONFIGMAP: env.STATE_CONFIGMAP,
      HARBOR_USERNAME: env.HARBOR_USERNAME,
    },
  };
  const serviceAccount = `${NAMESPACE}:${job.spec.template.spec.serviceAccountName}`;
  return { objects, document, serviceAccount, options };
}

/** Each Role allows only in its own namespace, as RBAC does. */
function authorizeRoles(objects: any[], serviceAccount: string): void {
  const roles = objects
    .filter((o) => o.kind === 'Role')
    .map((o) => ({ namespace: o.metadata.namespace, rules: o.rules }));
  k8s.authorizeRoles(roles, serviceAccount);
}

test('runs as HarborSettings synthesizes it: its document, its env and its Role', async () => {
  const { objects, document, serviceAccount, options } = synthesized();
  authorizeRoles(objects, serviceAccount);

  const first = await reconcile(options);
  const second = await reconcile(options);

  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  expect(harbor.projectByName('apps')!.metadata.auto_scan).toBe('true');
  const robot = harbor.robotByName('robot$apps+ci')!;
  const secretName = JSON.parse(document.data['settings.json']).robots[0].secret.name;
  for (const namespace of ['apps', 'ci']) {
    expect(dockerConfig(namespace, secretName).auths[REGISTRY].username).toBe(robot.name);
  }
  expect(second.stdout.trim()).toBe('no changes');
});

test('a pull-Secret namespace without its Role is refused there, as RBAC does', async () => {
  const { objects, serviceAccount, options } = synthesized();
  const withoutCi = objects.filter((o) => !(o.kind === 'Role' && o.metadata.namespace === 'ci'));
  authorizeRoles(withoutCi, serviceAccount);

  const result = await reconcile(options);

  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    'cannot get resource "secrets" in API group "" in the namespace "ci"',
  );
  expect(k8s.get('ci', JSON.parse(options.document).robots[0].secret.name)).toBeUndefined();
});

test('a registry of another type is reported, and the policies using it are skipped', async () => {
  harbor.seedRegistry({ name: 'hub', type: 'harbor', url: 'https://hub.example.test' });

  const result = await reconcile();

  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    'registry hub is of type harbor, declared docker-hub: Harbor cannot change the type',
  );
  expect(result.stderr).toContain('replication policy pull-hub skipped: registry hub');
  expect([...harbor.replicationPolicies.values()].map((p) => p.name)).toEqual(['push-dr']);
  expect(harbor.projectByName('apps')).toBeDefined();
});

test('a refused pull Secret is reported without the quoted credentials', async () => {
  k8s.echoBodyOnCreate(PULL_SECRET);

  const result = await reconcile();

  expect(result.code).toBe(1);
  expect(result.stderr).toContain('writing Secret apps/harbor-ci-pull: HTTP 422:');
  expect(result.stderr).toContain('<redacted>');
});

// ---------------------------------------------------------------------------------------------
// Ownership

test('adopts an unmarked object of a declared name, and says so', async () => {
  harbor.seedRegistry({
    name: 'hub',
    type: 'docker-hub',
    url: 'https://hub.example.test',
    description: 'made by hand',
  });

  const result = await reconcile();

  expect(result.code).toBe(0);
  expect(lines(result)).toContain('adopted registry hub');
  expect([...harbor.registries.values()].filter((r) => r.name === 'hub')).toHaveLength(1);
  expect(byName(harbor.registries.values(), 'hub').description).toBe(MARKER);
  expect((await reconcile()).stdout.trim()).toBe('no changes');
});

test.each([
  ['false', [{ metadata: { reuse_sys_cve_allowlist: 'false' } }]],
  ['true', []],
])(
  'a project without reuse_sys_cve_allowlist (Harbor reads true), declared %s',
  async (declared, bodies) => {
    const doc = settings() as any;
    const { reuse_sys_cve_allowlist: _, ...others } = doc.projects[0].metadata;
    harbor.seedProject({ name: 'apps', metadata: others, storageLimit: 10 * GIB });
    doc.projects[0].metadata.reuse_sys_cve_allowlist = declared;
    doc.projects[0].cveAllowlist = null;

    const result = await reconcile({ document: doc });

    expect(result.code).toBe(0);
    const puts = harbor
      .writes()
      .filter((r) => r.operation === 'PUT /projects/{project_name_or_id}');
    expect(puts.map((r) => r.body)).toEqual(bodies);
    expect(harbor.projectByName('apps')!.metadata.reuse_sys_cve_allowlist).toBe(
      declared === 'false' ? 'false' : undefined,
    );
    expect((await reconcile({ document: doc })).stdout.trim()).toBe('no changes');
  },
);

test('an adopted robot gets a fresh secret, as its old one is nowhere to be copied', async () => {
  const id = harbor.seedRobot({ name: 'puller', description: 'made by hand', duration: 90 });
  const old = harbor.robots.get(id)!.secret;

  const result = await reconcile();

  expect(result.code).toBe(0);
  expect(lines(result)).toEqual(
    expect.arrayContaining([
      'adopted robot robot$puller',
      'refreshed secret of robot robot$puller',
      'created secret apps/harbor-puller-pull',
    ]),
  );
  const puller = harbor.robotByName('robot$puller')!;
  expect(puller.id).toBe(id);
  expect(puller.description).toBe(MARKER);
  expect(puller.secret).not.toBe(old);
  expect(dockerConfig('apps', 'harbor-puller-pull').auths[REGISTRY].password).toBe(puller.secret);
});

test('prune deletes only marked undeclared objects, never projects', async () => {
  await reconcile();
  harbor.seedRobot({ name: 'by-hand', description: 'someone made this' });
  harbor.seedRegistry({ name: 'mirror', type: 'docker-registry', url: 'https://m.example.test' });
  const smaller = settings() as any;
  smaller.registries = smaller.registries.filter((r: any) => r.name !== 'hub');
  smaller.replicationPolicies = smaller.replicationPolicies.filter(
    (p: any) => p.name !== 'pull-hub',
  );
  smaller.robots = smaller.robots.filter((r: any) => r.name !== 'puller');
  smaller.scanners = [];
  smaller.projects = smaller.projects.map((p: any) => ({ ...p, scanner: null }));
  smaller.projects.pop();

  const kept = await reconcile({ document: smaller });
  expect(kept.stdout.trim()).toBe('no changes');
  const pruned = await reconcile({ document: { ...smaller, prune: true } });

  expect(pruned.code).toBe(0);
  expect(lines(pruned)).toEqual([
    'deleted replication policy pull-hub',
    'deleted robot robot$puller',
    'deleted registry hub',
    'deleted scanner extra',
    '4 changes',
  ]);
  const names = (items: Iterable<{ name: string }>) => [...items].map((i) => i.name).sort();
  expect(names(harbor.registries.values())).toEqual(['dr', 'mirror']);
  expect(names(harbor.robots.values())).toEqual(['robot$apps+ci', 'robot$by-hand']);
  expect(names(harbor.scanners.values())).toEqual(['Trivy']);
  expect(names(harbor.projects.values())).toEqual(['apps', 'charts']);
  expect(k8s.configMap(NAMESPACE, STATE)!.data).not.toHaveProperty('scanner.extra');
});

// ---------------------------------------------------------------------------------------------
// Pull Secrets

async function freshCluster(keep: StoredSecret[]): Promise<void> {
  const state = k8s.configMap(NAMESPACE, STATE)!;
  await k8s.stop();
  k8s = new FakeSecretsApi();
  k8sUrl = await k8s.start();
  k8s.authorize(RULES, `${NAMESPACE}:harbor-settings`);
  k8s.seedConfigMap({ ...state, metadata: { name: STATE, namespace: NAMESPACE } });
  for (const secret of keep) k8s.seed(secret);
}

test('restores a lost pull Secret from a copy, without a new secret', async () => {
  await reconcile();
  const secret = harbor.robotByName('robot$apps+ci')!.secret;
  await freshCluster([pullSecret('apps'), pullSecret('apps', 'harbor-puller-pull')]);
  const before = harbor.writes().length;

  const result = await reconcile();

  expect(result.code).toBe(0);
  expect(lines(result)).toEqual(['created secret ci/harbor-ci-pull', '1 change']);
  expect(harbor.writes()).toHaveLength(before);
  expect(dockerConfig('ci').auths[REGISTRY].password).toBe(secret);
});

test('with no copy left, the robot gets a fresh secret and every target is rewritten', async () => {
  await reconcile();
  const old = harbor.robotByName('robot$apps+ci')!.secret;
  await freshCluster([pullSecret('apps', 'harbor-puller-pull')]);
  const before = harbor.writes().length;

  const result = await reconcile();

  expect(result.code).toBe(0);
  expect(writeOperations(before)).toEqual(['PATCH /robots/{robot_id}']);
  const fresh = harbor.robotByName('robot$apps+ci')!.secret;
  expect(fresh).not.toBe(old);
  for (const namespace of ['apps', 'ci']) {
    expect(dockerConfig(namespace).auths[REGISTRY].password).toBe(fresh);
  }
  expect(lines(result)).toEqual([
    'refreshed secret of robot robot$apps+ci',
    'created secret apps/harbor-ci-pull',
    'created secret ci/harbor-ci-pull',
    '3 changes',
  ]);
});

test('rewrites a pull Secret for a changed registry from its own copy', async () => {
  await reconcile();
  const before = k8s.writes().length;
  const changed = settings() as any;
  changed.robots[0].secret.registry = 'harbor.example.test:8443';

  const result = await reconcile({ document: changed });

  expect(result.code).toBe(0);
  expect(Object.keys(dockerConfig('ci').auths)).toEqual(['harbor.example.test:8443']);
  expect(
    k8s
      .writes()
      .slice(before)
      .map((r) => `${r.method} ${r.url}`),
  ).toEqual([
    'PUT /api/v1/namespaces/apps/secrets/harbor-ci-pull',
    'PUT /api/v1/namespaces/ci/secrets/harbor-ci-pull',
  ]);
  expect(harbor.writes().filter((r) => r.method === 'PATCH')).toEqual([]);
});

// ---------------------------------------------------------------------------------------------
// Malformed input

test('a malformed document exits 2 naming every problem, and sends no request', async () => {
  const bad = settings() as any;
  bad.projects[0].storageLimit = -5;
  bad.robots[0].level = 'team';
  bad.replicationPolicies[0].destRegistry = 'nowhere';

  const result = await reconcile({ document: bad });

  expect(result.code).toBe(2);
  expect(result.stderr).toContain(
    'projects[0].storageLimit: must be -1 (unlimited) or bytes from 1 to 9007199254740991 (got -5)',
  );
  expect(result.stderr).toContain('robots[0].level: must be one of system, project (got "team")');
  expect(result.stderr).toContain(
    'replicationPolicies[0].destRegistry: must name a registry of registries (got "nowhere")',
  );
  expect(harbor.requests).toEqual([]);
  expect(k8s.requests).toEqual([]);
});

/** Stands for 10^30 in a document: an integer JSON.stringify cannot write. */
const HUGE = '<10^30>';
const TEN_TO_30 = '1' + '0'.repeat(30);
const RULE = 'projects[0].retention.rules[0]';

/** Malformed documents that once crashed the script or reached Harbor: what, how, the report. */
const MALFORMED: [string, (d: any) => void, string][] = [
  [
    'a project name that is a list',
    (d) => (d.projects[0].name = ['apps']),
    'projects[0].name: must be a non-empty string (got ["apps"])',
  ],
  [
    'a robot name that is an object',
    (d) => (d.robots[0].name = { ci: true }),
    'robots[0].name: must be a non-empty string (got {"ci": true})',
  ],
  [
    'a registry name that is a list',
    (d) => (d.registries[1].name = ['hub']),
    'registries[1].name: must be a non-empty string (got ["hub"])',
  ],
  [
    'a replication policy name that is a list',
    (d) => (d.replicationPolicies[0].name = ['push-dr']),
    'replicationPolicies[0].name: must be a non-empty string (got ["push-dr"])',
  ],
  [
    'a scanner name that is an object',
    (d) => (d.scanners[0].name = {}),
    'scanners[0].name: must be a non-empty string (got {})',
  ],
  [
    'a destRegistry that is a list',
    (d) => (d.replicationPolicies[0].destRegistry = ['dr']),
    'replicationPolicies[0].destRegistry: must be a non-empty string (got ["dr"])',
  ],
  [
    'a srcRegistry that is an object',
    (d) => (d.replicationPolicies[1].srcRegistry = { name: 'hub' }),
    'replicationPolicies[1].srcRegistry: must be a non-empty string (got {"name": "hub"})',
  ],
  [
    'a retention action other than retain',
    (d) => (d.projects[0].retention.rules[0].action = 'delete'),
    `${RULE}.action: must be one of retain (got "delete")`,
  ],
  [
    'a retention rule without its action',
    (d) => delete d.projects[0].retention.rules[0].action,
    `${RULE}: missing action`,
  ],
  [
    'a retention param that is a string',
    (d) => (d.projects[0].retention.rules[0].params.latestPushedK = '10'),
    `${RULE}.params.latestPushedK: must be an integer (got "10")`,
  ],
  [
    'a retention param of 10^30',
    (d) => (d.projects[0].retention.rules[0].params.latestPushedK = HUGE),
    `${RULE}.params.latestPushedK: must be a whole number from 1 to 9007199254740991 ` +
      `(got ${TEN_TO_30})`,
  ],
  [
    'a tag selector of another kind',
    (d) => (d.projects[0].retention.rules[0].tag_selectors[0].kind = 'regexp'),
    `${RULE}.tag_selectors[0].kind: must be one of doublestar (got "regexp")`,
  ],
  [
    'a tag selector without its decoration',
    (d) => delete d.projects[0].retention.rules[0].tag_selectors[0].decoration,
    `${RULE}.tag_selectors[0]: missing decoration`,
  ],
  [
    'a tag selector with a repository decoration',
    (d) => (d.projects[0].retention.rules[0].tag_selectors[0].decoration = 'repoMatches'),
    `${RULE}.tag_selectors[0].decoration: must be one of matches, excludes (got "repoMatches")`,
  ],
  [
    'a tag selector pattern that is a number',
    (d) => (d.projects[0].retention.rules[0].tag_selectors[0].pattern = 5),
    `${RULE}.tag_selectors[0].pattern: must be a non-empty string (got 5)`,
  ],
  [
    'tag selector extras that are an object, not its JSON',
    (d) => (d.projects[0].retention.rules[0].tag_selectors[0].extras = { untagged: true }),
    `${RULE}.tag_selectors[0].extras: must be a string holding a JSON object`,
  ],
  [
    'a tag selector that is a string',
    (d) => (d.projects[0].retention.rules[0].tag_selectors = ['**']),
    `${RULE}.tag_selectors[0]: must be an object (got "**")`,
  ],
  [
    'a repository selector without its pattern',
    (d) => delete d.projects[0].retention.rules[0].scope_selectors.repository[0].pattern,
    `${RULE}.scope_selectors.repository[0]: missing pattern`,
  ],
  [
    'a repository selector with a tag decoration',
    (d) => (d.projects[0].retention.rules[0].scope_selectors.repository[0].decoration = 'matches'),
    `${RULE}.scope_selectors.repository[0].decoration: must be one of repoMatches, repoExcludes`,
  ],
  [
    'repository selectors that are not a list',
    (d) => (d.projects[0].retention.rules[0].scope_selectors.repository = '**'),
    `${RULE}.scope_selectors.repository: must be a list (got "**")`,
  ],
  [
    'scope selectors without repository',
    (d) => (d.projects[0].retention.rules[0].scope_selectors = {}),
    `${RULE}.scope_selectors: missing repository`,
  ],
  [
    'a project without one of its metadata keys',
    (d) => delete d.projects[1].metadata.auto_scan,
    'projects[1].metadata: missing auto_scan',
  ],
  [
    'a boolean metadata value that is a JSON boolean',
    (d) => (d.projects[0].metadata.public = true),
    'projects[0].metadata.public: must be the string "true" or "false" (got true)',
  ],
  [
    'a severity Harbor does not know',
    (d) => (d.projects[0].metadata.severity = 'severe'),
    'projects[0].metadata.severity: must be one of none, low, medium, high, critical ' +
      '(got "severe")',
  ],
  [
    'a metadata key the document does not own',
    (d) => (d.projects[0].metadata.retention_id = '7'),
    'projects[0].metadata.retention_id: is not a project metadata key the settings document has',
  ],
  [
    'a storage limit of 10^30',
    (d) => (d.projects[0].storageLimit = HUGE),
    'projects[0].storageLimit: must be -1 (unlimited) or bytes from 1 to 9007199254740991 ' +
      `(got ${TEN_TO_30})`,
  ],
  [
    'a storage limit of 0',
    (d) => (d.projects[1].storageLimit = 0),
    'projects[1].storageLimit: must be -1 (unlimited) or bytes from 1',
  ],
  [
    'a robot duration of 10^30',
    (d) => (d.robots[1].duration = HUGE),
    `robots[1].duration: must be -1 (never expires) or days from 1 to 2147483647 (got ${TEN_TO_30})`,
  ],
  [
    'a speed below -1',
    (d) => (d.replicationPolicies[1].speed = -2),
    'replicationPolicies[1].speed: must be KB/s from -1 to 2147483647 (0 or less is unlimited) ' +
      '(got -2)',
  ],
  [
    'a speed of 10^30',
    (d) => (d.replicationPolicies[1].speed = HUGE),
    'replicationPolicies[1].speed: must be KB/s from -1 to 2147483647',
  ],
  [
    'a destNamespaceReplaceCount below -1',
    (d) => (d.replicationPolicies[1].destNamespaceReplaceCount = -2),
    'replicationPolicies[1].destNamespaceReplaceCount: must be -1 (keep the source path) or ' +
      'path parts to replace from 0 to 127 (got -2)',
  ],
  [
    'a destNamespaceReplaceCount of 10^30',
    (d) => (d.replicationPolicies[1].destNamespaceReplaceCount = HUGE),
    `replicationPolicies[1].destNamespaceReplaceCount: must be -1 (keep the source path) or ` +
      `path parts to replace from 0 to 127 (got ${TEN_TO_30})`,
  ],
  [
    'a replication filter decoration Harbor does not know',
    (d) => (d.replicationPolicies[1].filters[0].decoration = 'maybe'),
    'replicationPolicies[1].filters[0].decoration: must be one of matches, excludes',
  ],
  [
    'a pull Secret namespace with a path in it',
    (d) => (d.robots[0].secret.namespaces[1] = 'a/../b'),
    'robots[0].secret.namespaces[1]: must be a namespace name (lowercase letters, digits and ' +
      '"-", a letter or digit at each end) of at most 63 characters (got "a/../b")',
  ],
  [
    'a pull Secret namespace in capitals',
    (d) => (d.robots[0].secret.namespaces[0] = 'Apps'),
    'robots[0].secret.namespaces[0]: must be a namespace name',
  ],
  [
    'a pull Secret namespace of 64 characters',
    (d) => (d.robots[1].secret.namespaces[0] = 'a'.repeat(64)),
    'robots[1].secret.namespaces[0]: must be a namespace name',
  ],
  [
    'a pull Secret name with a path in it',
    (d) => (d.robots[0].secret.name = 'a/../b'),
    'robots[0].secret.name: must be a Secret name (lowercase letters, digits, "-" and ".", a ' +
      'letter or digit at each end of every dot-separated part) of at most 253 characters ' +
      '(got "a/../b")',
  ],
  [
    'a pull Secret name with a query in it',
    (d) => (d.robots[1].secret.name = 'pull?dryRun=All'),
    'robots[1].secret.name: must be a Secret name',
  ],
  [
    'a pull Secret name of 254 characters',
    (d) => (d.robots[1].secret.name = 'a'.repeat(254)),
    'robots[1].secret.name: must be a Secret name',
  ],
  [
    'an allowlist expiry of 10^30',
    (d) => (d.systemCveAllowlist.expiresAt = HUGE),
    'systemCveAllowlist.expiresAt: must be Unix seconds from 0 to 9007199254740991, or null ' +
      `for never (got ${TEN_TO_30})`,
  ],
  [
    'a configuration number of 10^30',
    (d) => (d.configurations.robot_token_duration = HUGE),
    'configurations.robot_token_duration: must be a number from -9007199254740991 to ' +
      '9007199254740991',
  ],
];

test.each(MALFORMED)(
  'exits 2 naming the field, before any request: %s',
  async (_, change, message) => {
    const bad = settings() as any;
    change(bad);

    const document = JSON.stringify(bad).split(JSON.stringify(HUGE)).join(TEN_TO_30);
    const result = await reconcile({ document });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`reconcile-settings: settings document: ${message}`);
    expect(result.stderr).not.toContain('Traceback');
    expect(harbor.requests).toEqual([]);
    expect(k8s.requests).toEqual([]);
  },
);

test('a document with NaN exits 2 and sends no request', async () => {
  const document = JSON.stringify(settings()).replace('"speed":0', '"speed":NaN');

  const result = await reconcile({ document });

  expect(result.code).toBe(2);
  expect(result.stderr).toContain('cannot be read as JSON: NaN is not a JSON number');
  expect(harbor.requests).toEqual([]);
  expect(k8s.requests).toEqual([]);
});

test('a document that is not JSON exits 2 and sends no request', async () => {
  const result = await reconcile({ document: '{"apiVersion": ' });

  expect(result.code).toBe(2);
  expect(result.stderr).toContain('cannot be read as JSON');
  expect(harbor.requests).toEqual([]);
});

test('exits 2 before any request when a credential variable is missing', async () => {
  const result = await reconcile({ unset: ['DR_ACCESS_SECRET'] });

  expect(result.code).toBe(2);
  expect(result.stderr).toContain(
    'registries[0].credential.accessSecretEnv: names an environment variable that is not set ' +
      '(got "DR_ACCESS_SECRET")',
  );
  expect(harbor.requests).toEqual([]);
});

test('exits 2 naming the Secret key when a credential variable is empty', async () => {
  const result = await reconcile({ env: { DR_ACCESS_SECRET: '' } });

  expect(result.code).toBe(2);
  expect(result.stderr).toContain(
    'registries[0].credential.accessSecretEnv: names an environment variable that is empty (it ' +
      'comes from a Secret key): put the value into that Secret key (got "DR_ACCESS_SECRET")',
  );
  expect(harbor.requests).toEqual([]);
});

test('a missing Job variable exits 2 naming it', async () => {
  const result = await reconcile({ unset: ['HARBOR_PASSWORD'] });

  expect(result.code).toBe(2);
  expect(result.stderr).toContain('HARBOR_PASSWORD');
  expect(harbor.requests).toEqual([]);
});
