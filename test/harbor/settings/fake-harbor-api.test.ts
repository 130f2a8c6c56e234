import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { selfSignedTls } from '../../support/fake-k8s-api';
import { FakeHarborApi } from '../../support/fake-harbor-api';

const ROOT = path.join(__dirname, '..', '..', '..');
const SHARED = process.env.HARBOR_SHARED_DIR ?? path.join(ROOT, '..', 'shared');
const SWAGGER = path.join(SHARED, 'api', 'harbor-v2.15.2-swagger.yaml');

interface Answer {
  status: number;
  location: string | null;
  text: string;
  json: any;
}

let api: FakeHarborApi;

/** A throw-away value of the shape Harbor wants for secrets (upper, lower, digit). */
const generated = () => `Aa1${randomBytes(8).toString('hex')}`;

beforeEach(async () => {
  api = await FakeHarborApi.start();
});

afterEach(async () => {
  await api.stop();
});

async function call(
  method: string,
  route: string,
  body?: unknown,
  authorization: string | undefined = api.authorization,
): Promise<Answer> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (authorization) headers.Authorization = authorization;
  const response = await fetch(`${api.url}/api/v2.0${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any;
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, location: response.headers.get('location'), text, json };
}

const ciRobot = (project: string) => ({
  name: 'ci',
  description: 'managed-by: cdk8s-harbor',
  level: 'project',
  duration: -1,
  disable: false,
  permissions: [
    {
      kind: 'project',
      namespace: project,
      access: [
        { resource: 'repository', action: 'pull' },
        { resource: 'repository', action: 'push' },
      ],
    },
  ],
});

describe('the derived API file', () => {
  const withShared = fs.existsSync(SWAGGER) ? test : test.skip;
  if (!fs.existsSync(SWAGGER)) {
    console.warn(`skipping the freshness check of harbor-api.json: no ${SWAGGER}`);
  }

  withShared('test/schemas/harbor-api.json is what scripts/derive-harbor-api.js writes', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-api-'));
    try {
      execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'derive-harbor-api.js')], {
        cwd: ROOT,
        env: { ...process.env, HARBOR_API_OUT: out, HARBOR_SHARED_DIR: SHARED },
        stdio: 'pipe',
      });

      expect(fs.readFileSync(path.join(out, 'harbor-api.json'), 'utf-8')).toEqual(
        fs.readFileSync(path.join(ROOT, 'test', 'schemas', 'harbor-api.json'), 'utf-8'),
      );
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  withShared('fails loudly on an operation the Swagger description lacks', () => {
    const script = fs
      .readFileSync(path.join(ROOT, 'scripts', 'derive-harbor-api.js'), 'utf-8')
      .replace("'GET /health',", "'GET /health',\n  'GET /retentions',");
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-api-'));
    try {
      const copy = path.join(ROOT, 'scripts', `.derive-harbor-api-${process.pid}.js`);
      fs.writeFileSync(copy, script);
      try {
        expect(() =>
          execFileSync(process.execPath, [copy], {
            env: { ...process.env, HARBOR_API_OUT: out, HARBOR_SHARED_DIR: SHARED },
            stdio: 'pipe',
          }),
        ).toThrow(/GET \/retentions is not in the Swagger description \(\/retentions has POST\)/);
      } finally {
        fs.rmSync(copy, { force: true });
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('request checks', () => {
  test('rejects a body with an unknown field with 422 and records it', async () => {
    const answer = await call('POST', '/projects', { project_name: 'apps', storage_limt: 5 });

    expect(answer.status).toBe(422);
    expect(answer.json.errors[0].code).toBe('UNPROCESSABLE_ENTITY');
    expect(api.violations).toEqual([
      'POST /projects: body: / must NOT have additional properties (storage_limt)',
    ]);
    expect(api.projects.size).toBe(0);
  });

  test('rejects a misspelled field nested in a definition', async () => {
    await call('POST', '/projects', { project_name: 'apps', metadata: { autoscan: 'true' } });

    expect(api.violations).toEqual([
      expect.stringContaining('/metadata must NOT have additional properties (autoscan)'),
    ]);
  });

  test('rejects a wrong type: project metadata values are strings', async () => {
    const answer = await call('POST', '/projects', {
      project_name: 'apps',
      metadata: { auto_scan: true },
    });

    expect(answer.status).toBe(422);
    expect(api.violations.join('\n')).toContain('/metadata/auto_scan must be string');
  });

  test('rejects a missing required field', async () => {
    const project = api.seedProject({ name: 'apps' });

    const answer = await call('PUT', `/projects/${project}/scanner`, {});

    expect(answer.status).toBe(422);
    expect(api.violations.join('\n')).toContain("must have required property 'uuid'");
  });

  test('rejects a missing body and a path parameter of the wrong type', async () => {
    const noBody = await call('POST', '/robots');
    const badId = await call('GET', '/robots/ci');

    expect([noBody.status, badId.status]).toEqual([422, 422]);
    expect(api.violations).toEqual([
      'POST /robots: robot in body is required',
      'GET /robots/{robot_id}: path robot_id: "ci" is not of type integer',
    ]);
  });

  test('enforces query limits and reports unknown query parameters', async () => {
    const tooBig = await call('GET', '/projects?page_size=500');
    await call('GET', '/projects?project_name=apps');

    expect(tooBig.status).toBe(422);
    expect(api.violations).toEqual([
      expect.stringContaining('query page_size: / must be <= 100'),
      'GET /projects: unknown query parameter project_name',
    ]);
  });

  test('answers 401 on bad or missing credentials, with the body the contract declares', async () => {
    const wrong = `Basic ${Buffer.from(`${api.username}:nope`).toString('base64')}`;

    const bad = await call('GET', '/projects', undefined, wrong);
    const none = await call('POST', '/robots', ciRobot('apps'), '');
    const health = await call('GET', '/health', undefined, wrong);
    // the Swagger description declares 401 of /configurations without a schema
    const configurations = await call('GET', '/configurations', undefined, wrong);

    expect(bad).toMatchObject({
      status: 401,
      json: { errors: [{ code: 'UNAUTHORIZED', message: 'unauthorized' }] },
    });
    expect(none.status).toBe(401);
    expect(configurations).toMatchObject({ status: 401, text: '' });
    expect(health.status).toBe(200);
    expect(api.violations).toEqual([]);
  });

  test('answers 404 for an operation the Swagger description lacks, and records it', async () => {
    const answer = await call('GET', '/retentions');

    expect(answer.status).toBe(404);
    expect(api.violations).toEqual([
      'GET /api/v2.0/retentions: no such operation in the Swagger description',
    ]);
  });

  test('accepts any value where go-swagger reads interface{} (retention params)', async () => {
    const project = api.seedProject({ name: 'apps' });

    const answer = await call('POST', '/retentions', {
      algorithm: 'or',
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
      trigger: { kind: 'Schedule', settings: { cron: '0 0 0 * * *' } },
      scope: { level: 'project', ref: project },
    });

    expect(answer.status).toBe(201);
    expect(api.violations).toEqual([]);
  });
});

describe('Harbor behaviour', () => {
  test('a created project has a Location, default metadata and its own quota', async () => {
    const created = await call('POST', '/projects', {
      project_name: 'apps',
      metadata: { auto_scan: 'true', enable_content_trust_cosign: 'true' },
      storage_limit: 10737418240,
    });
    const id = Number(created.location?.split('/').pop());
    const project = await call('GET', '/projects/apps');
    const quotas = await call('GET', `/quotas?reference=project&reference_id=${id}`);
    const duplicate = await call('POST', '/projects', { project_name: 'apps' });

    expect(created).toMatchObject({ status: 201, text: '' });
    expect(created.location).toBe(`/api/v2.0/projects/${id}`);
    expect(project.json.metadata).toEqual({
      public: 'false',
      auto_scan: 'true',
      enable_content_trust_cosign: 'true',
    });
    expect(quotas.json).toHaveLength(1);
    expect(quotas.json[0].hard).toEqual({ storage: 10737418240 });
    expect(duplicate.status).toBe(409);
    expect(api.violations).toEqual([]);
  });

  test('PUT merges project metadata and keeps the retention id', async () => {
    const id = api.seedProject({ name: 'apps', metadata: { auto_scan: 'true' } });
    await call('POST', '/retentions', {
      algorithm: 'or',
      rules: [],
      trigger: { kind: 'Schedule', settings: { cron: '' } },
      scope: { level: 'project', ref: id },
    });
    const retentionId = api.projects.get(id)!.metadata.retention_id;

    const put = await call('PUT', '/projects/apps', { metadata: { prevent_vul: 'true' } });
    const stray = await call('PUT', '/projects/apps', { metadata: { retention_id: '999' } });
    const again = await call('POST', '/retentions', {
      algorithm: 'or',
      rules: [],
      trigger: { kind: 'Schedule', settings: {} },
      scope: { level: 'project', ref: id },
    });

    expect(retentionId).toMatch(/^\d+$/);
    expect(put.status).toBe(200);
    expect(api.projects.get(id)!.metadata).toEqual({
      public: 'false',
      auto_scan: 'true',
      prevent_vul: 'true',
      retention_id: retentionId,
    });
    expect(stray.status).toBe(400);
    expect(again.json.errors[0].message).toContain('already has retention policy');
    expect(api.violations).toEqual([]);
  });

  test('robots: the secret is shown on create and refresh only, names carry the prefix', async () => {
    const project = api.seedProject({ name: 'apps' });

    const created = await call('POST', '/robots', ciRobot('apps'));
    const listed = await call('GET', `/robots?q=Level=project,ProjectID=${project}`);
    const system = await call('GET', '/robots');
    const refreshed = await call('PATCH', `/robots/${created.json.id}`, { secret: '' });
    const secret = generated();
    const chosen = await call('PATCH', `/robots/${created.json.id}`, { secret });
    const weak = await call('PATCH', `/robots/${created.json.id}`, { secret: 'weak' });

    expect(created.status).toBe(201);
    expect(created.location).toBe(`/api/v2.0/robots/${created.json.id}`);
    expect(created.json.name).toBe('robot$apps+ci');
    expect(created.json.secret).toMatch(/^(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{8,128}$/);
    expect(listed.json.map((r: any) => r.name)).toEqual(['robot$apps+ci']);
    expect(listed.text).not.toContain('secret');
    expect(system.json).toEqual([]);
    expect(refreshed.json.secret).not.toEqual(created.json.secret);
    expect(api.robots.get(created.json.id)!.secret).toBe(secret);
    expect(chosen.json).toEqual({});
    expect(weak.status).toBe(400);
    expect(api.violations).toEqual([]);
  });

  test('PUT on a robot keeps its name and level', async () => {
    api.seedProject({ name: 'apps' });
    const id = api.seedRobot({ name: 'ci', project: 'apps' });
    const robot = (await call('GET', `/robots/${id}`)).json;

    const renamed = await call('PUT', `/robots/${id}`, { ...robot, name: 'ci' });
    const updated = await call('PUT', `/robots/${id}`, { ...robot, description: 'changed' });

    expect(renamed.json.errors[0].message).toBe('cannot update the level or name of robot');
    expect(updated.status).toBe(200);
    expect(api.robots.get(id)!.description).toBe('changed');
    expect(api.violations).toEqual([]);
  });

  test('registries hide their secret; scanners: Trivy is default and immutable', async () => {
    const registry = await call('POST', '/registries', {
      name: 'dr',
      type: 'harbor',
      url: 'https://dr.example.test',
      insecure: false,
      credential: { type: 'basic', access_key: 'robot$dr', access_secret: generated() },
    });
    const shown = await call('GET', registry.location!.replace('/api/v2.0', ''));
    const scanners = await call('GET', '/scanners');
    const trivy = scanners.json[0];
    const put = await call('PUT', `/scanners/${trivy.uuid}`, { name: 'Trivy', url: trivy.url });
    const del = await call('DELETE', `/scanners/${trivy.uuid}`);

    expect(shown.json.credential).toEqual({
      type: 'basic',
      access_key: 'robot$dr',
      access_secret: '*****',
    });
    expect(scanners.json).toHaveLength(1);
    expect(trivy).toMatchObject({ name: 'Trivy', is_default: true, use_internal_addr: true });
    expect([put.status, del.status]).toEqual([403, 403]);
    expect(api.violations).toEqual([]);
  });

  test('replication policies reference registries by id and block their deletion', async () => {
    const id = api.seedRegistry({ name: 'dr', type: 'harbor', url: 'https://dr.example.test' });

    const created = await call('POST', '/replication/policies', {
      name: 'push-dr',
      src_registry: null,
      dest_registry: { id },
      dest_namespace: '',
      dest_namespace_replace_count: -1,
      filters: [{ type: 'name', value: 'apps/**' }],
      trigger: { type: 'manual', trigger_settings: { cron: '' } },
      override: true,
      enabled: true,
      replicate_deletion: false,
      speed: 0,
      copy_by_chunk: false,
    });
    const policies = await call('GET', '/replication/policies?name=push');
    const blocked = await call('DELETE', `/registries/${id}`);

    expect(created.status).toBe(201);
    expect(policies.json[0].dest_registry).toMatchObject({ id, name: 'dr' });
    expect(policies.json[0].src_registry).toBeUndefined();
    expect(blocked.status).toBe(412);
    expect(api.violations).toEqual([]);
  });

  test('scan-all schedule: absent at first, then created once and updated', async () => {
    const before = await call('GET', '/system/scanAll/schedule');
    const created = await call('POST', '/system/scanAll/schedule', {
      schedule: { type: 'Custom', cron: '0 0 2 * * *' },
    });
    const twice = await call('POST', '/system/scanAll/schedule', {
      schedule: { type: 'Daily' },
    });
    const badCron = await call('PUT', '/system/scanAll/schedule', {
      schedule: { type: 'Custom', cron: '0 2 * * *' },
    });
    const noCron = await call('PUT', '/system/scanAll/schedule', {
      schedule: { type: 'Weekly' },
    });
    const updated = await call('PUT', '/system/scanAll/schedule', {
      schedule: { type: 'Weekly', cron: '0 0 0 * * 0' },
    });

    expect(before).toMatchObject({ status: 200, text: '' });
    expect([created.status, twice.status, badCron.status, noCron.status, updated.status]).toEqual([
      201, 412, 400, 400, 200,
    ]);
    expect(noCron.json.errors[0].message).toContain('empty cron string is invalid');
    expect(api.scanAllSchedule.schedule).toEqual({ type: 'Weekly', cron: '0 0 0 * * 0' });
    expect(api.violations).toEqual([]);
  });

  test('a string-map configuration is stored as a map and shown as Go marshals it', async () => {
    const put = await call('PUT', '/configurations', {
      oidc_extra_redirect_parms: '{"prompt":"login","acr":"a&b"}',
    });
    const notMap = await call('PUT', '/configurations', { oidc_extra_redirect_parms: '[1]' });
    const got = await call('GET', '/configurations');

    expect([put.status, notMap.status]).toEqual([200, 400]);
    expect(api.configurations.oidc_extra_redirect_parms).toEqual({ prompt: 'login', acr: 'a&b' });
    expect(got.json.oidc_extra_redirect_parms.value).toBe('{"acr":"a\\u0026b","prompt":"login"}');
    expect(api.violations).toEqual([]);
  });

  test('configurations come as {value, editable}, never with secret items', async () => {
    const clientSecret = generated();
    const put = await call('PUT', '/configurations', {
      auth_mode: 'oidc_auth',
      oidc_client_id: 'harbor',
      oidc_client_secret: clientSecret,
    });
    const got = await call('GET', '/configurations');
    const allowlist = await call('GET', '/system/CVEAllowlist');

    expect(put.status).toBe(200);
    expect(got.json.auth_mode).toEqual({ value: 'oidc_auth', editable: true });
    expect(got.json.oidc_client_secret).toBeUndefined();
    expect(got.text).not.toContain(clientSecret);
    expect(allowlist.json.items).toEqual([]);
    expect(api.violations).toEqual([]);
  });

  test('lists are paged as Harbor pages them: 10 by default', async () => {
    for (let i = 0; i < 12; i++) api.seedProject({ name: `p${i}` });

    const first = await call('GET', '/projects');
    const all = await call('GET', '/projects?page_size=100');

    expect(first.json).toHaveLength(10);
    expect(all.json).toHaveLength(12);
  });
});

describe('the double checks itself', () => {
  test('records a violation when an answer breaks the response schema', async () => {
    const id = api.seedProject({ name: 'apps' });
    (api.projects.get(id)!.metadata as Record<string, unknown>).auto_scan = true;

    await call('GET', `/projects/${id}`);

    expect(api.violations).toEqual([
      'GET /projects/{project_name_or_id} 200: /metadata/auto_scan must be string',
    ]);
  });

  test('ping answers text and health JSON, both within the contract', async () => {
    const ping = await call('GET', '/ping');
    const health = await call('GET', '/health');
    const info = await call('GET', '/systeminfo');

    expect(ping.text).toBe('Pong');
    expect(health.json.status).toBe('healthy');
    expect(info.json.harbor_version).toMatch(/^v2\.15\./);
    expect(api.violations).toEqual([]);
  });
});

describe('test controls', () => {
  test('notReadyFor fails health checks as a proxy in front of a starting core would', async () => {
    api.notReadyFor(2);

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call('GET', '/health')).status);

    expect(statuses).toEqual([503, 502, 200]);
    expect(api.violations).toEqual([]);
  });

  test('failOnce fails one request to one operation, without carrying it out', async () => {
    api.failOnce('POST', '/projects', 500);

    const first = await call('POST', '/projects', { project_name: 'apps' });
    const second = await call('POST', '/projects', { project_name: 'apps' });

    expect([first.status, second.status]).toEqual([500, 201]);
    expect(api.projects.size).toBe(1);
  });

  test('failAfterWrites breaks a run halfway until the failures are cleared', async () => {
    api.failAfterWrites(1);

    const a = await call('POST', '/projects', { project_name: 'a' });
    const b = await call('POST', '/projects', { project_name: 'b' });
    const read = await call('GET', '/projects');
    api.clearFailures();
    const c = await call('POST', '/projects', { project_name: 'b' });

    expect([a.status, b.status, read.status, c.status]).toEqual([201, 500, 200, 201]);
    expect(api.writes().map((w) => [w.operation, w.status])).toEqual([
      ['POST /projects', 201],
      ['POST /projects', 500],
      ['POST /projects', 201],
    ]);
  });

  test('records each request with its parsed body and status', async () => {
    await call('POST', '/projects', { project_name: 'apps' });

    expect(api.requests).toEqual([
      {
        method: 'POST',
        path: '/api/v2.0/projects',
        query: {},
        body: { project_name: 'apps' },
        operation: 'POST /projects',
        status: 201,
      },
    ]);
  });

  test('serves https with a given certificate', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-harbor-tls-'));
    const tls = selfSignedTls(dir, 'harbor');
    const password = generated();
    const secure = await FakeHarborApi.start({ tls, username: 'reconciler', password });
    try {
      const out = await new Promise<string>((resolve, reject) => {
        const request = https.get(
          `${secure.url}/api/v2.0/ping`,
          { ca: fs.readFileSync(tls.cert), auth: `reconciler:${password}` },
          (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () => resolve(text));
          },
        );
        request.on('error', reject);
      });

      expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(out).toBe('Pong');
    } finally {
      await secure.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
