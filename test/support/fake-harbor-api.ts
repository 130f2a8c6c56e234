/**
 * An in-process double of Harbor 2.15's REST API (`/api/v2.0`), as much of it as the settings
 * reconciler uses, with state. Every request and every answer is checked against the operations
 * derived from Harbor's Swagger description (test/schemas/harbor-api.json, written by
 * scripts/derive-harbor-api.js); whatever does not conform is recorded in `violations`, so a
 * test that ends with `expect(api.violations).toEqual([])` has proven both sides of the contract.
 *
 * Stricter than Harbor on purpose: an object schema that lists properties accepts no others (a
 * misspelled field is a 422 here, silently dropped by Harbor), an unknown query parameter is a
 * violation, and a request without valid credentials is a 401 on every operation except
 * `/health`, `/ping` and `/systeminfo` (Harbor would answer some of them anonymously). An error
 * carries an `Errors` body, or none where the contract declares that status without one.
 */
import { randomBytes, randomUUID } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import { AddressInfo } from 'net';
import * as path from 'path';
import Ajv, { ValidateFunction } from 'ajv';
import type { TlsFiles } from './fake-k8s-api';

type Json = any;
type Schema = Record<string, any>;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'body';
  required?: boolean;
  type?: string;
  schema?: Schema;
  [keyword: string]: unknown;
}

interface Operation {
  operationId: string;
  parameters: Parameter[];
  responses: Record<string, { headers: string[]; schema?: Schema }>;
}

interface ApiFile {
  basePath: string;
  definitions: Record<string, Schema>;
  operations: Record<string, Operation>;
}

export interface HarborRequest {
  readonly method: string;
  /** The full path, with the basePath. */
  readonly path: string;
  readonly query: Record<string, string>;
  /** The parsed JSON body; undefined when there was none. */
  readonly body: Json;
  /** `<METHOD> <path template>`, as in the Swagger description; undefined when none matched. */
  readonly operation: string | undefined;
  status: number;
}

export interface FakeHarborOptions {
  /** @default 'admin' */
  readonly username?: string;
  /** @default - a random one, readable as `password` */
  readonly password?: string;
  /** Serves https with these files. @default - plain http */
  readonly tls?: TlsFiles;
  /** Harbor's `robot_name_prefix`. @default 'robot$' */
  readonly robotNamePrefix?: string;
}

export interface StoredProject {
  project_id: number;
  name: string;
  metadata: Record<string, string>;
  cve_allowlist: { id: number; items: { cve_id: string }[]; expires_at?: number | null };
  /** uuid of the project's scanner; undefined is the system default. */
  scanner?: string;
  creation_time: string;
  update_time: string;
}

export interface StoredRobot {
  id: number;
  /** The login name, with prefix: `robot$ci` or `robot$apps+ci`. */
  name: string;
  description: string;
  level: 'system' | 'project';
  duration: number;
  expires_at: number;
  disable: boolean;
  permissions: {
    kind: string;
    namespace: string;
    access: { resource: string; action: string }[];
  }[];
  /** Known to the double only: Harbor never shows it again after creating or refreshing. */
  secret: string;
  project_id: number;
  creation_time: string;
  update_time: string;
}

export interface SeedProject {
  readonly name: string;
  readonly metadata?: Record<string, string>;
  /** @default -1 */
  readonly storageLimit?: number;
}

export interface SeedRobot {
  /** The short name, without prefix or project. */
  readonly name: string;
  /** A project name makes a project-level robot. @default - a system robot */
  readonly project?: string;
  /** @default '' */
  readonly description?: string;
  /** @default - pull on the project, or on every project for a system robot */
  readonly permissions?: StoredRobot['permissions'];
  /** @default -1 */
  readonly duration?: number;
}

const API_FILE = path.join(__dirname, '..', 'schemas', 'harbor-api.json');
const PROXY_STATUSES = [502, 503];
// Items of GET /configurations that carry a secret: Harbor accepts them and never shows them.
const SECRET_CONFIGURATIONS = new Set([
  'ldap_search_password',
  'ldap_group_admin_password',
  'oidc_client_secret',
  'uaa_client_secret',
]);
// Items Harbor takes as a JSON string of a string map, stores as that map, and shows as the
// map marshalled again by Go (keys sorted, compact, '<', '>' and '&' escaped): not as sent.
const MAP_CONFIGURATIONS = new Set(['oidc_extra_redirect_parms']);
/** A configuration value as Harbor holds it: a map item is an object. */
type ConfigurationValue = string | number | boolean | Record<string, string>;
const DEFAULT_CONFIGURATIONS: Record<string, ConfigurationValue> = {
  auth_mode: 'db_auth',
  primary_auth_mode: false,
  project_creation_restriction: 'everyone',
  quota_per_project_enable: true,
  read_only: false,
  robot_name_prefix: 'robot$',
  robot_token_duration: 30,
  self_registration: false,
  session_timeout: 60,
  storage_per_project: -1,
  token_expiration: 30,
  notification_enable: true,
  audit_log_forward_endpoint: '',
  skip_audit_log_database: false,
  disabled_audit_log_event_types: '',
  banner_message: '',
  scanner_skip_update_pulltime: false,
  oidc_extra_redirect_parms: {},
};
// Harbor's project-scope robot permissions checked on create (a subset of src/common/rbac).
const ROBOT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const PROJECT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const ROBOT_SECRET = /^(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{8,128}$/;
// Creates whose 201 carries the new object's path in `Location` (the schedule's does not).
const LOCATED = new Set([
  'POST /projects',
  'POST /retentions',
  'POST /robots',
  'POST /registries',
  'POST /replication/policies',
  'POST /scanners',
]);
const TRIVY_UUID = '2d5e3f7a-0c1b-11f0-9a5c-0242ac120002';

class Reply {
  constructor(
    readonly status: number,
    readonly body?: Json,
    readonly headers: Record<string, string> = {},
  ) {}
}

function errorsBody(status: number, message: string) {
  const code = (http.STATUS_CODES[status] ?? 'UNKNOWN').toUpperCase().replace(/ /g, '_');
  return { errors: [{ code, message }] };
}

function fail(status: number, message: string): Reply {
  return new Reply(status, errorsBody(status, message));
}

/**
 * An error answer as the contract declares it for the operation: an `Errors` body, or none
 * where the Swagger description declares the status without a schema (GET /configurations).
 */
function shaped(operation: Operation, answer: Reply): Reply {
  const declared = operation.responses[String(answer.status)];
  if (answer.status < 400 || !declared || declared.schema) return answer;
  return new Reply(answer.status, undefined, answer.headers);
}

function refusal(operation: Operation, status: number, message: string): Reply {
  return shaped(operation, fail(status, message));
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, '.000Z');
}

let apiFile: ApiFile | undefined;
let contract: Contract | undefined;

/** The derived operations, compiled once per test file. */
class Contract {
  readonly ajv: Ajv;
  readonly basePath: string;
  readonly operations: [string, string, RegExp, string[], Operation][] = [];
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(file: ApiFile) {
    this.basePath = file.basePath;
    this.ajv = new Ajv({ allErrors: true, strict: false });
    const integer = (min: number, max: number) => ({
      type: 'number' as const,
      validate: (n: number) => Number.isInteger(n) && n >= min && n <= max,
    });
    this.ajv.addFormat('int8', integer(-128, 127));
    this.ajv.addFormat('int32', integer(-(2 ** 31), 2 ** 31 - 1));
    this.ajv.addFormat('int', integer(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
    this.ajv.addFormat('int64', integer(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
    this.ajv.addFormat('uint64', integer(0, Number.MAX_SAFE_INTEGER));
    this.ajv.addFormat('float', { type: 'number', validate: () => true });
    this.ajv.addFormat('float64', { type: 'number', validate: () => true });
    this.ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    this.ajv.addFormat('uri', (s: string) => URL.canParse(s));
    this.ajv.addSchema({
      $id: 'harbor',
      definitions: Object.fromEntries(
        Object.entries(file.definitions).map(([name, s]) => [name, strictSchema(s)]),
      ),
    });

    for (const [key, operation] of Object.entries(file.operations)) {
      const [method, template] = key.split(' ');
      const names: string[] = [];
      const pattern = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      this.operations.push([key, method, new RegExp(`^${pattern}$`), names, operation]);
    }
  }

  /** A validator for a schema of the file, compiled on first use. */
  validator(key: string, schema: Schema): ValidateFunction {
    let validate = this.cache.get(key);
    if (!validate) {
      validate = this.ajv.compile(strictSchema(schema));
      this.cache.set(key, validate);
    }
    return validate;
  }

  errors(validate: ValidateFunction): string {
    // the `anyOf: [null, …]` of nullable fields would add noise to every message
    return (validate.errors ?? [])
      .filter((e) => e.keyword !== 'anyOf' && !(e.keyword === 'type' && e.params.type === 'null'))
      .map((e) => `${e.instancePath || '/'} ${e.message}${paramsOf(e.params)}`)
      .join('; ');
  }
}

function paramsOf(params: Record<string, unknown>): string {
  if ('additionalProperty' in params) return ` (${String(params.additionalProperty)})`;
  if ('allowedValues' in params) return ` (${JSON.stringify(params.allowedValues)})`;
  return '';
}

/**
 * A Swagger 2.0 schema as ajv should apply it, Harbor's way: `$ref` alone (draft 4 ignores its
 * siblings), `type: object` without properties is go-swagger's `interface{}` (anything),
 * `x-nullable` and pointer (`$ref`) properties accept null unless required, `x-` keywords go, and
 * objects that list their properties accept no others unless they say so.
 */
function strictSchema(schema: Schema): Schema {
  if (schema === null || typeof schema !== 'object') return schema;
  if (typeof schema.$ref === 'string') {
    return { $ref: schema.$ref.replace(/^#\/definitions\//, 'harbor#/definitions/') };
  }
  if (
    schema.type === 'object' &&
    schema.properties === undefined &&
    schema.additionalProperties === undefined
  ) {
    return {};
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith('x-')) continue;
    if (key === 'properties') {
      const required = new Set<string>(schema.required ?? []);
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([name, sub]) => {
          const strict = strictSchema(sub);
          const nullable = sub['x-nullable'] || sub['x-isnullable'] || sub.$ref !== undefined;
          return [name, nullable && !required.has(name) ? orNull(strict) : strict];
        }),
      );
    } else if (key === 'items' || key === 'additionalProperties') {
      out[key] = typeof value === 'object' ? strictSchema(value) : value;
    } else {
      out[key] = value;
    }
  }
  if (out.properties !== undefined && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

function orNull(schema: Schema): Schema {
  return { anyOf: [{ type: 'null' }, schema] };
}

function loadContract(): Contract {
  apiFile ??= JSON.parse(fs.readFileSync(API_FILE, 'utf-8')) as ApiFile;
  contract ??= new Contract(apiFile);
  return contract;
}

interface Failure {
  method?: string;
  template?: string;
  status: number;
}

interface Page {
  page: number;
  pageSize: number;
}

export class FakeHarborApi {
  /** Starts a double on a free loopback port. */
  static async start(options: FakeHarborOptions = {}): Promise<FakeHarborApi> {
    const api = new FakeHarborApi(options);
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    const { port } = api.server.address() as AddressInfo;
    api.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return api;
  }

  /** Base URL, without `/api/v2.0`. */
  url = '';
  readonly username: string;
  readonly password: string;
  readonly requests: HarborRequest[] = [];
  /** Every way a request or an answer broke the Swagger contract, in order. */
  readonly violations: string[] = [];

  readonly projects = new Map<number, StoredProject>();
  readonly quotas = new Map<number, Json>();
  readonly retentions = new Map<number, Json>();
  readonly robots = new Map<number, StoredRobot>();
  readonly registries = new Map<number, Json>();
  readonly replicationPolicies = new Map<number, Json>();
  /** By uuid; `Trivy` is there from the start, as core registers it. */
  readonly scanners = new Map<string, Json>();
  /** Undefined until someone sets one: Harbor then answers GET with 200 and no body. */
  scanAllSchedule: Json | undefined;
  systemCveAllowlist: { items: { cve_id: string }[]; expires_at?: number | null } = { items: [] };
  /** Every configuration item, secret ones included. */
  readonly configurations: Record<string, ConfigurationValue>;

  private readonly contract = loadContract();
  private readonly server: http.Server;
  private readonly failures: Failure[] = [];
  private notReady = 0;
  private writesBeforeFailure: number | undefined;
  private writeFailureStatus = 500;
  private nextId = 1;

  private constructor(options: FakeHarborOptions) {
    this.username = options.username ?? 'admin';
    this.password = options.password ?? `Fake${randomBytes(12).toString('hex')}`;
    this.configurations = {
      ...DEFAULT_CONFIGURATIONS,
      robot_name_prefix: options.robotNamePrefix ?? 'robot$',
    };
    const handler: http.RequestListener = (req, res) => this.handle(req, res);
    this.server = options.tls
      ? https.createServer(
          { key: fs.readFileSync(options.tls.key), cert: fs.readFileSync(options.tls.cert) },
          handler,
        )
      : http.createServer(handler);

    const created = now();
    this.scanners.set(TRIVY_UUID, {
      uuid: TRIVY_UUID,
      name: 'Trivy',
      description: 'The Trivy scanner adapter',
      url: 'http://trivy:8080',
      disabled: false,
      is_default: true,
      auth: '',
      access_credential: '',
      skip_certVerify: false,
      use_internal_addr: true,
      create_time: created,
      update_time: created,
      adapter: 'Trivy',
      vendor: 'Aqua Security',
      version: 'v0.72.0',
      health: 'healthy',
      immutable: true,
    });
  }

  /** The value of an `Authorization` header that Harbor accepts. */
  get authorization(): string {
    return `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`;
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The requests that could change something: every one but GET. */
  writes(): HarborRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  /**
   * The next `count` requests to /health or /ping fail with 502 or 503 and a proxy's plain-text
   * body, as while core starts behind its Service.
   */
  notReadyFor(count: number): void {
    this.notReady = count;
  }

  /** The next request to this operation answers `status` with an `Errors` body, undone. */
  failOnce(method: string, pathTemplate: string, status: number): void {
    this.failures.push({ method: method.toUpperCase(), template: pathTemplate, status });
  }

  /**
   * After `count` more writes succeed, every further write fails with `status` until
   * `clearFailures()`: a run that breaks halfway.
   */
  failAfterWrites(count: number, status = 500): void {
    this.writesBeforeFailure = count;
    this.writeFailureStatus = status;
  }

  clearFailures(): void {
    this.failures.length = 0;
    this.notReady = 0;
    this.writesBeforeFailure = undefined;
  }

  /** A project as if made before the run (by hand, or by someone else). Returns its id. */
  seedProject(seed: SeedProject): number {
    return this.createProject(seed.name, { public: 'false', ...seed.metadata }, seed.storageLimit);
  }

  /** A robot as if made before the run. Returns its id. */
  seedRobot(seed: SeedRobot): number {
    const permissions = seed.permissions ?? [
      {
        kind: 'project',
        namespace: seed.project ?? '*',
        access: [{ resource: 'repository', action: 'pull' }],
      },
    ];
    const project = seed.project === undefined ? undefined : this.projectByName(seed.project);
    if (seed.project !== undefined && !project) {
      throw new Error(`seedRobot: no project ${seed.project}`);
    }
    return this.createRobot({
      name: seed.name,
      description: seed.description ?? '',
      level: seed.project === undefined ? 'system' : 'project',
      duration: seed.duration ?? -1,
      disable: false,
      permissions,
      project,
    }).id;
  }

  /** A registry endpoint as if made before the run. Returns its id. */
  seedRegistry(registry: Json): number {
    return this.createRegistry(registry);
  }

  /** A replication policy as if made before the run. Returns its id. */
  seedReplicationPolicy(policy: Json): number {
    return this.createPolicy(policy);
  }

  /** A scanner registration as if made before the run. Returns its uuid. */
  seedScanner(registration: Json): string {
    return this.createScanner(registration);
  }

  projectByName(name: string): StoredProject | undefined {
    return [...this.projects.values()].find((p) => p.name === name);
  }

  robotByName(name: string): StoredRobot | undefined {
    return [...this.robots.values()].find((r) => r.name === name);
  }

  /** The quota of a project, as GET /quotas shows it. */
  quotaOf(projectId: number): Json | undefined {
    return [...this.quotas.values()].find((q) => q.ref.id === projectId);
  }

  private violation(message: string): void {
    this.violations.push(message);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const text = Buffer.concat(chunks).toString('utf8');
      const record: HarborRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        body: undefined,
        operation: undefined,
        status: 0,
      };
      this.requests.push(record);
      const answer = this.answer(req, url, text, record);
      record.status = answer.status;
      this.send(res, answer);
    });
  }

  private send(res: http.ServerResponse, answer: Reply): void {
    const headers: Record<string, string> = {
      'X-Request-Id': randomUUID(),
      ...answer.headers,
    };
    let text = '';
    if (typeof answer.body === 'string' && answer.headers['Content-Type']) {
      text = answer.body;
    } else if (answer.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      text = JSON.stringify(answer.body);
    }
    res.writeHead(answer.status, headers);
    res.end(text);
  }

  private answer(req: http.IncomingMessage, url: URL, text: string, record: HarborRequest): Reply {
    const method = record.method;
    const { basePath } = this.contract;
    if (!url.pathname.startsWith(`${basePath}/`)) {
      this.violation(`${method} ${url.pathname}: not under ${basePath}`);
      return fail(404, 'not found');
    }
    const rest = url.pathname.slice(basePath.length).replace(/\/$/, '');
    const match = this.contract.operations.find(([, m, re]) => m === method && re.test(rest));
    if (!match) {
      this.violation(`${method} ${url.pathname}: no such operation in the Swagger description`);
      return fail(404, `${method} ${url.pathname} is not an operation the double knows`);
    }
    const [key, , pattern, names, operation] = match;
    (record as { operation: string }).operation = key;
    const values = pattern.exec(rest)!.slice(1).map(decodeURIComponent);
    const params: Record<string, Json> = Object.fromEntries(names.map((n, i) => [n, values[i]]));

    if (method !== 'GET' && text.length > 0) {
      try {
        (record as { body: Json }).body = JSON.parse(text);
      } catch {
        this.violation(`${key}: the body is not JSON`);
        return this.checked(key, operation, refusal(operation, 400, 'the body is not valid JSON'));
      }
    }

    // a proxy in front of a starting core answers for it, outside the contract
    if ((key === 'GET /health' || key === 'GET /ping') && this.notReady > 0) {
      this.notReady -= 1;
      const status = PROXY_STATUSES[this.notReady % PROXY_STATUSES.length];
      return new Reply(status, `${status} ${http.STATUS_CODES[status]}`, {
        'Content-Type': 'text/plain',
      });
    }
    const anonymous = ['GET /health', 'GET /ping', 'GET /systeminfo'].includes(key);
    if (!anonymous && req.headers.authorization !== this.authorization) {
      return this.checked(key, operation, refusal(operation, 401, 'unauthorized'));
    }

    const problems = this.checkParameters(key, operation, req, url, params, record.body);
    if (problems.length > 0) {
      problems.forEach((p) => this.violation(`${key}: ${p}`));
      return this.checked(
        key,
        operation,
        refusal(operation, 422, `validation failure list:\n${problems.join('\n')}`),
      );
    }

    const injected = this.injectedFailure(method, key);
    if (injected !== undefined) {
      return this.checked(key, operation, refusal(operation, injected, 'injected failure'));
    }

    let answer: Reply;
    try {
      answer = this.route(key, params, record.body ?? {}, url);
    } catch (error) {
      if (error instanceof Reply) answer = error;
      else throw error;
    }
    answer = shaped(operation, answer);
    // Harbor builds Location from the request's own path: `/api/v2.0/projects` + `/3`
    const location = answer.headers.Location;
    if (location?.startsWith('\0')) {
      answer.headers.Location = `${url.pathname.replace(/\/$/, '')}/${location.slice(1)}`;
    }
    return this.checked(key, operation, answer);
  }

  private injectedFailure(method: string, key: string): number | undefined {
    const index = this.failures.findIndex(
      (f) => f.method === method && `${f.method} ${f.template}` === key,
    );
    if (index >= 0) return this.failures.splice(index, 1)[0].status;
    if (method !== 'GET' && this.writesBeforeFailure !== undefined) {
      if (this.writesBeforeFailure === 0) return this.writeFailureStatus;
      this.writesBeforeFailure -= 1;
    }
    return undefined;
  }

  /** Validates the parameters and body; coerces path and query values into `params`. */
  private checkParameters(
    key: string,
    operation: Operation,
    req: http.IncomingMessage,
    url: URL,
    params: Record<string, Json>,
    body: Json,
  ): string[] {
    const problems: string[] = [];
    const known = new Set(operation.parameters.filter((p) => p.in === 'query').map((p) => p.name));
    for (const name of url.searchParams.keys()) {
      if (!known.has(name)) this.violation(`${key}: unknown query parameter ${name}`);
    }
    for (const parameter of operation.parameters) {
      const where = `${parameter.in} ${parameter.name}`;
      if (parameter.in === 'body') {
        if (body === undefined) {
          if (parameter.required) problems.push(`${parameter.name} in body is required`);
          continue;
        }
        const validate = this.contract.validator(`${key} body`, parameter.schema!);
        if (!validate(body)) problems.push(`body: ${this.contract.errors(validate)}`);
        continue;
      }
      const raw =
        parameter.in === 'path'
          ? params[parameter.name]
          : parameter.in === 'query'
            ? (url.searchParams.get(parameter.name) ?? undefined)
            : req.headers[parameter.name.toLowerCase()];
      if (raw === undefined) {
        if (parameter.required) problems.push(`${where} is required`);
        continue;
      }
      const value = coerce(String(raw), parameter.type);
      if (value === undefined) {
        problems.push(`${where}: ${JSON.stringify(raw)} is not of type ${parameter.type}`);
        continue;
      }
      const rule = Object.fromEntries(
        Object.entries(parameter).filter(([k]) => !['name', 'in', 'required'].includes(k)),
      );
      const validate = this.contract.validator(`${key} ${where}`, rule);
      if (!validate(value)) problems.push(`${where}: ${this.contract.errors(validate)}`);
      if (parameter.in !== 'header') params[parameter.name] = value;
    }
    return problems;
  }

  /** Records a violation for an answer the contract does not allow, and returns it. */
  private checked(key: string, operation: Operation, answer: Reply): Reply {
    const declared = operation.responses[String(answer.status)];
    if (!declared) {
      // Harbor's error middleware answers any operation with an Errors body
      if (answer.status < 400) {
        this.violation(`${key}: answered ${answer.status}, which is not a declared response`);
        return answer;
      }
      const validate = this.contract.validator('Errors', { $ref: '#/definitions/Errors' });
      if (!validate(answer.body)) {
        this.violation(`${key} ${answer.status}: ${this.contract.errors(validate)}`);
      }
      return answer;
    }
    if (answer.status === 201 && LOCATED.has(key) && !answer.headers.Location) {
      this.violation(`${key} ${answer.status}: no Location header`);
    }
    if (!declared.schema) {
      if (answer.body !== undefined) {
        this.violation(`${key} ${answer.status}: a body where the contract declares none`);
      }
      return answer;
    }
    // GET /system/scanAll/schedule answers 200 without a body until a schedule exists
    if (answer.body === undefined) return answer;
    const validate = this.contract.validator(`${key} ${answer.status}`, declared.schema);
    if (!validate(answer.body)) {
      this.violation(`${key} ${answer.status}: ${this.contract.errors(validate)}`);
    }
    return answer;
  }

  private route(key: string, params: Record<string, Json>, body: Json, url: URL): Reply {
    switch (key) {
      case 'GET /health':
        return new Reply(200, {
          status: 'healthy',
          components: ['core', 'database', 'jobservice', 'portal', 'redis', 'registry'].map(
            (name) => ({ name, status: 'healthy' }),
          ),
        });
      case 'GET /ping':
        return new Reply(200, 'Pong', { 'Content-Type': 'text/plain' });
      case 'GET /systeminfo':
        return new Reply(200, {
          harbor_version: 'v2.15.2-fake',
          auth_mode: String(this.configurations.auth_mode),
          project_creation_restriction: String(this.configurations.project_creation_restriction),
          self_registration: Boolean(this.configurations.self_registration),
          has_ca_root: false,
          read_only: Boolean(this.configurations.read_only),
          notification_enable: Boolean(this.configurations.notification_enable),
          primary_auth_mode: false,
          banner_message: '',
          current_time: now(),
          external_url: this.url,
          registry_url: new URL(this.url || 'http://127.0.0.1').host,
        });

      case 'GET /projects':
        return this.list(
          [...this.projects.values()]
            .filter((p) => fuzzy(p.name, url.searchParams.get('name')))
            .filter((p) => matchesQuery({ name: p.name }, url.searchParams.get('q')))
            .map((p) => this.projectView(p)),
          params,
        );
      case 'POST /projects':
        return this.postProject(body);
      case 'GET /projects/{project_name_or_id}':
        return new Reply(200, this.projectView(this.project(params.project_name_or_id)));
      case 'PUT /projects/{project_name_or_id}':
        return this.putProject(this.project(params.project_name_or_id), body);
      case 'GET /projects/{project_name_or_id}/scanner': {
        const project = this.project(params.project_name_or_id);
        const uuid = project.scanner ?? this.defaultScanner()?.uuid;
        const scanner = uuid === undefined ? undefined : this.scanners.get(uuid);
        if (!scanner) return fail(404, 'no scanner is configured');
        return new Reply(200, scannerView(scanner));
      }
      case 'PUT /projects/{project_name_or_id}/scanner': {
        const project = this.project(params.project_name_or_id);
        if (!this.scanners.has(body.uuid)) {
          return fail(400, `scanner registration ${body.uuid} not found`);
        }
        project.scanner = body.uuid;
        return new Reply(200);
      }

      case 'GET /quotas':
        return this.list(
          [...this.quotas.values()].filter(
            (q) =>
              (!url.searchParams.has('reference') ||
                url.searchParams.get('reference') === 'project') &&
              (!url.searchParams.has('reference_id') ||
                url.searchParams.get('reference_id') === String(q.ref.id)),
          ),
          params,
        );
      case 'PUT /quotas/{id}':
        return this.putQuota(params.id, body);

      case 'POST /retentions':
        return this.postRetention(body);
      case 'GET /retentions/{id}': {
        const policy = this.retentions.get(params.id);
        if (!policy) return fail(404, `retention policy ${params.id} not found`);
        return new Reply(200, structuredClone(policy));
      }
      case 'PUT /retentions/{id}':
        return this.putRetention(params.id, body);

      case 'GET /robots':
        return this.listRobots(url, params);
      case 'POST /robots':
        return this.postRobot(body);
      case 'GET /robots/{robot_id}':
        return new Reply(200, robotView(this.robot(params.robot_id)));
      case 'PUT /robots/{robot_id}':
        return this.putRobot(this.robot(params.robot_id), body);
      case 'PATCH /robots/{robot_id}': {
        const robot = this.robot(params.robot_id);
        if (body.secret) {
          if (!ROBOT_SECRET.test(body.secret)) {
            return fail(
              400,
              'the secret must be 8-128, inclusively, characters long with at least 1 ' +
                'uppercase letter, 1 lowercase letter and 1 number',
            );
          }
          robot.secret = body.secret;
          robot.update_time = now();
          return new Reply(200, {});
        }
        robot.secret = newSecret();
        robot.update_time = now();
        return new Reply(200, { secret: robot.secret });
      }
      case 'DELETE /robots/{robot_id}':
        this.robots.delete(this.robot(params.robot_id).id);
        return new Reply(200);

      case 'GET /registries':
        return this.list(
          [...this.registries.values()]
            .filter((r) => fuzzy(r.name, url.searchParams.get('name')))
            .map(registryView),
          params,
        );
      case 'POST /registries':
        return this.created(this.createRegistry(body));
      case 'GET /registries/{id}':
        return new Reply(200, registryView(this.registry(params.id)));
      case 'PUT /registries/{id}':
        return this.putRegistry(this.registry(params.id), body);
      case 'DELETE /registries/{id}': {
        const registry = this.registry(params.id);
        const used = [...this.replicationPolicies.values()].some(
          (p) => p.src_registry?.id === registry.id || p.dest_registry?.id === registry.id,
        );
        if (used) {
          return fail(412, `the registry ${registry.id} is referenced by policies, can not delete`);
        }
        this.registries.delete(registry.id);
        return new Reply(200);
      }

      case 'GET /replication/policies':
        return this.list(
          [...this.replicationPolicies.values()]
            .filter((p) => fuzzy(p.name, url.searchParams.get('name')))
            .map((p) => this.policyView(p)),
          params,
        );
      case 'POST /replication/policies':
        return this.created(this.createPolicy(body));
      case 'GET /replication/policies/{id}':
        return new Reply(200, this.policyView(this.policy(params.id)));
      case 'PUT /replication/policies/{id}':
        return this.putPolicy(this.policy(params.id), body);
      case 'DELETE /replication/policies/{id}':
        this.replicationPolicies.delete(this.policy(params.id).id);
        return new Reply(200);

      case 'GET /scanners':
        return this.list([...this.scanners.values()].map(scannerView), params);
      case 'POST /scanners':
        return this.created(this.createScanner(body));
      case 'GET /scanners/{registration_id}':
        return new Reply(200, scannerView(this.scanner(params.registration_id)));
      case 'PUT /scanners/{registration_id}':
        return this.putScanner(this.scanner(params.registration_id), body);
      case 'PATCH /scanners/{registration_id}': {
        const scanner = this.scanner(params.registration_id);
        if (body.is_default === true) {
          this.scanners.forEach((s) => (s.is_default = s.uuid === scanner.uuid));
        }
        return new Reply(200);
      }
      case 'DELETE /scanners/{registration_id}': {
        const scanner = this.scanner(params.registration_id);
        if (scanner.immutable) {
          return fail(
            403,
            `registration ${scanner.name} is not allowed to delete as it is immutable: ` +
              'scanner API: delete',
          );
        }
        this.scanners.delete(scanner.uuid);
        return new Reply(200, scannerView(scanner));
      }

      case 'GET /system/scanAll/schedule':
        return new Reply(200, this.scanAllSchedule && structuredClone(this.scanAllSchedule));
      case 'POST /system/scanAll/schedule':
        return this.postScanAll(body);
      case 'PUT /system/scanAll/schedule':
        return this.putScanAll(body);

      case 'GET /system/CVEAllowlist':
        return new Reply(200, {
          id: 1,
          project_id: 0,
          ...structuredClone(this.systemCveAllowlist),
        });
      case 'PUT /system/CVEAllowlist':
        this.systemCveAllowlist = {
          items: (body.items ?? []).map((i: Json) => ({ cve_id: i.cve_id })),
          expires_at: body.expires_at ?? null,
        };
        return new Reply(200);

      case 'GET /configurations':
        return new Reply(
          200,
          Object.fromEntries(
            Object.entries(this.configurations)
              .filter(([name]) => !SECRET_CONFIGURATIONS.has(name))
              .map(([name, value]) => [
                name,
                { value: MAP_CONFIGURATIONS.has(name) ? goJson(value) : value, editable: true },
              ]),
          ),
        );
      case 'PUT /configurations':
        return this.putConfigurations(body);
    }
    throw new Error(`the double has no handler for ${key}`);
  }

  // --- paging and lookups

  private list(items: Json[], params: Record<string, Json>): Reply {
    const { page, pageSize } = pageOf(params);
    const slice = items.slice((page - 1) * pageSize, page * pageSize);
    return new Reply(200, slice, { 'X-Total-Count': String(items.length) });
  }

  private project(nameOrId: Json): StoredProject {
    const project = /^\d+$/.test(String(nameOrId))
      ? this.projects.get(Number(nameOrId))
      : this.projectByName(String(nameOrId));
    if (!project) throw fail(404, `project ${nameOrId} not found`);
    return project;
  }

  private robot(id: number): StoredRobot {
    const robot = this.robots.get(id);
    if (!robot) throw fail(404, `robot ${id} not found`);
    return robot;
  }

  private registry(id: number): Json {
    const registry = this.registries.get(id);
    if (!registry) throw fail(404, `registry ${id} not found`);
    return registry;
  }

  private policy(id: number): Json {
    const policy = this.replicationPolicies.get(id);
    if (!policy) throw fail(404, `policy ${id} not found`);
    return policy;
  }

  private scanner(uuid: string): Json {
    const scanner = this.scanners.get(uuid);
    if (!scanner) throw fail(404, `scanner ${uuid} not found`);
    return scanner;
  }

  private defaultScanner(): Json | undefined {
    return [...this.scanners.values()].find((s) => s.is_default);
  }

  private created(id: number | string): Reply {
    // the path of the collection is filled in by `answer`
    return new Reply(201, undefined, { Location: `\0${id}` });
  }

  // --- projects and quotas

  private createProject(name: string, metadata: Record<string, string>, limit?: number): number {
    if (this.projectByName(name)) {
      throw fail(409, `The project named ${name} already exists`);
    }
    const id = this.nextId++;
    const created = now();
    this.projects.set(id, {
      project_id: id,
      name,
      metadata,
      cve_allowlist: { id: this.nextId++, items: [] },
      creation_time: created,
      update_time: created,
    });
    const storage = limit ?? Number(this.configurations.storage_per_project);
    this.quotas.set(this.nextId, {
      id: this.nextId++,
      ref: { id, name, owner_name: 'admin' },
      hard: { storage },
      used: { storage: 0 },
      creation_time: created,
      update_time: created,
    });
    return id;
  }

  private postProject(body: Json): Reply {
    const name = body.project_name ?? '';
    if (!PROJECT_NAME.test(name)) {
      return fail(400, `project name is not in lower case or contains illegal characters`);
    }
    const metadata = definedStrings(body.metadata ?? {});
    if (body.public !== undefined && body.public !== null && metadata.public === undefined) {
      metadata.public = String(body.public);
    }
    metadata.public ??= 'false';
    if (!['true', 'false'].includes(metadata.public)) {
      return fail(400, `metadata.public should only be 'true' or 'false'`);
    }
    delete metadata.retention_id;
    const limit =
      body.storage_limit === undefined || body.storage_limit === null || body.storage_limit === 0
        ? undefined
        : body.storage_limit;
    const id = this.createProject(name, metadata, limit);
    if (body.cve_allowlist) this.setProjectAllowlist(this.projects.get(id)!, body.cve_allowlist);
    return this.created(id);
  }

  private putProject(project: StoredProject, body: Json): Reply {
    if (body.cve_allowlist) {
      const pid = body.cve_allowlist.project_id ?? 0;
      if (pid !== 0 && pid !== project.project_id) {
        return fail(
          400,
          `project_id in cve_allowlist must be ${project.project_id} but it's ${pid}`,
        );
      }
      this.setProjectAllowlist(project, body.cve_allowlist);
    }
    const metadata = { ...project.metadata, ...definedStrings(body.metadata ?? {}) };
    if (
      body.metadata?.retention_id !== undefined &&
      body.metadata.retention_id !== project.metadata.retention_id
    ) {
      return fail(
        400,
        "the retention_id in the request's payload when updating a project should be omitted, " +
          'alternatively passing the one that has already been associated to this project',
      );
    }
    project.metadata = metadata;
    project.update_time = now();
    return new Reply(200);
  }

  private setProjectAllowlist(project: StoredProject, allowlist: Json): void {
    project.cve_allowlist = {
      id: project.cve_allowlist.id,
      items: (allowlist.items ?? []).map((i: Json) => ({ cve_id: i.cve_id })),
      expires_at: allowlist.expires_at ?? null,
    };
  }

  private projectView(project: StoredProject): Json {
    return {
      project_id: project.project_id,
      owner_id: 1,
      name: project.name,
      creation_time: project.creation_time,
      update_time: project.update_time,
      deleted: false,
      owner_name: 'admin',
      togglable: true,
      current_user_role_id: 1,
      current_user_role_ids: [1],
      repo_count: 0,
      metadata: { ...project.metadata },
      cve_allowlist: {
        id: project.cve_allowlist.id,
        project_id: project.project_id,
        items: project.cve_allowlist.items.map((i) => ({ ...i })),
        ...(project.cve_allowlist.expires_at == null
          ? {}
          : { expires_at: project.cve_allowlist.expires_at }),
        creation_time: project.creation_time,
        update_time: project.update_time,
      },
    };
  }

  private putQuota(id: number, body: Json): Reply {
    const quota = this.quotas.get(id);
    if (!quota) return fail(404, `quota ${id} not found`);
    const hard = body.hard ?? {};
    const names = Object.keys(hard);
    if (names.length === 0) return fail(400, 'hard limits are required');
    for (const name of names) {
      if (name !== 'storage') return fail(400, `resource ${name} not support`);
      if (hard[name] !== -1 && hard[name] <= 0) {
        return fail(400, `invalid value ${hard[name]} for resource ${name}`);
      }
    }
    quota.hard = { ...quota.hard, ...hard };
    quota.update_time = now();
    return new Reply(200);
  }

  // --- retention

  private postRetention(body: Json): Reply {
    const problem = retentionProblem(body);
    if (problem) return fail(400, problem);
    const projectId = body.scope?.ref;
    const project = this.projects.get(projectId);
    if (!project) return fail(400, `invalid Project id ${projectId}`);
    if (project.metadata.retention_id !== undefined) {
      return fail(
        400,
        `project ${projectId} already has retention policy ${project.metadata.retention_id}`,
      );
    }
    const id = this.nextId++;
    this.retentions.set(id, normalizedRetention(id, body));
    project.metadata.retention_id = String(id);
    return this.created(id);
  }

  private putRetention(id: number, body: Json): Reply {
    const policy = this.retentions.get(id);
    if (!policy) return fail(404, `retention policy ${id} not found`);
    const problem = retentionProblem(body);
    if (problem) return fail(400, problem);
    this.retentions.set(id, normalizedRetention(id, { ...body, scope: policy.scope }));
    return new Reply(200);
  }

  // --- robots

  private createRobot(robot: {
    name: string;
    description: string;
    level: 'system' | 'project';
    duration: number;
    disable: boolean;
    permissions: StoredRobot['permissions'];
    project?: StoredProject;
  }): StoredRobot {
    const prefix = String(this.configurations.robot_name_prefix);
    const name =
      robot.level === 'project'
        ? `${prefix}${robot.project!.name}+${robot.name}`
        : `${prefix}${robot.name}`;
    if (this.robotByName(name)) throw fail(409, `robot account ${name} already exists`);
    const created = new Date();
    const stored: StoredRobot = {
      id: this.nextId++,
      name,
      description: robot.description,
      level: robot.level,
      duration: robot.duration,
      expires_at: expiry(created, robot.duration),
      disable: robot.disable,
      permissions: structuredClone(robot.permissions),
      secret: newSecret(),
      project_id: robot.project?.project_id ?? 0,
      creation_time: isoOf(created),
      update_time: isoOf(created),
    };
    this.robots.set(stored.id, stored);
    return stored;
  }

  private postRobot(body: Json): Reply {
    const duration = body.duration ?? Number(this.configurations.robot_token_duration);
    const problem = robotProblem(duration, body.level, body.permissions);
    if (problem) return fail(400, problem);
    if (!ROBOT_NAME.test(body.name ?? '')) {
      return fail(400, 'robot name is not in lower case or contains illegal characters');
    }
    let project: StoredProject | undefined;
    if (body.level === 'project') project = this.project(body.permissions[0].namespace);
    const robot = this.createRobot({
      name: body.name,
      description: body.description ?? '',
      level: body.level,
      duration,
      disable: body.disable ?? false,
      permissions: body.permissions,
      project,
    });
    // the secret of the create body is ignored: Harbor always generates one
    return new Reply(
      201,
      {
        id: robot.id,
        name: robot.name,
        secret: robot.secret,
        creation_time: robot.creation_time,
        expires_at: robot.expires_at,
      },
      { Location: `\0${robot.id}` },
    );
  }

  private listRobots(url: URL, params: Record<string, Json>): Reply {
    const keywords = parseQuery(url.searchParams.get('q'));
    const level = keywords.Level?.value ?? 'system';
    if (level !== 'system' && level !== 'project') {
      return fail(400, 'bad request error level input');
    }
    let projectId = 0;
    if (level === 'project') {
      const raw = keywords.ProjectID?.value;
      if (raw === undefined) {
        return fail(400, 'must with project ID when to query project robots');
      }
      projectId = Number(raw);
      if (!/^\d+$/.test(raw) || projectId <= 0) {
        return fail(400, 'ProjectID must be a positive integer');
      }
    }
    const others = Object.entries(keywords).filter(([k]) => k !== 'Level' && k !== 'ProjectID');
    // `q=name=...` matches the name as stored: without the prefix (`ci`, `apps+ci`)
    const prefix = String(this.configurations.robot_name_prefix);
    const field = (robot: StoredRobot, name: string) =>
      name.toLowerCase() === 'name'
        ? robot.name.slice(prefix.length)
        : String((robot as unknown as Record<string, unknown>)[name.toLowerCase()]);
    const robots = [...this.robots.values()]
      .filter((r) => r.project_id === projectId)
      .filter((r) => others.every(([k, v]) => matches(field(r, k), v)))
      .map(robotView);
    return this.list(robots, params);
  }

  private putRobot(robot: StoredRobot, body: Json): Reply {
    const duration = body.duration ?? robot.duration;
    const problem = robotProblem(duration, body.level, body.permissions);
    if (problem) return fail(400, problem);
    if (robot.level !== 'system') {
      const project = this.project(body.permissions[0].namespace);
      if (project.project_id !== robot.project_id) {
        return fail(400, 'cannot update the project id of robot');
      }
    }
    if (body.level !== robot.level || body.name !== robot.name) {
      return fail(400, 'cannot update the level or name of robot');
    }
    if (duration !== robot.duration) {
      robot.duration = duration;
      robot.expires_at = expiry(new Date(robot.creation_time), duration);
    }
    robot.description = body.description ?? '';
    robot.disable = body.disable ?? false;
    robot.permissions = structuredClone(body.permissions);
    robot.update_time = now();
    return new Reply(200);
  }

  // --- registries and replication

  private createRegistry(body: Json): number {
    if (!body.name || !body.url || !body.type) {
      throw fail(400, 'name, type and url of the registry are required');
    }
    if ([...this.registries.values()].some((r) => r.name === body.name)) {
      throw fail(409, `registry ${body.name} already exists`);
    }
    const id = this.nextId++;
    const created = now();
    this.registries.set(id, {
      id,
      name: body.name,
      type: body.type,
      url: body.url.replace(/\/$/, ''),
      description: body.description ?? '',
      insecure: body.insecure ?? false,
      credential: body.credential
        ? {
            type: body.credential.type ?? 'basic',
            access_key: body.credential.access_key ?? '',
            access_secret: body.credential.access_secret ?? '',
          }
        : undefined,
      status: 'healthy',
      creation_time: created,
      update_time: created,
    });
    return id;
  }

  private putRegistry(registry: Json, body: Json): Reply {
    if (body.name != null && body.name !== registry.name) {
      if ([...this.registries.values()].some((r) => r.name === body.name)) {
        return fail(409, `registry ${body.name} already exists`);
      }
      registry.name = body.name;
    }
    if (body.url != null) registry.url = body.url.replace(/\/$/, '');
    if (body.description != null) registry.description = body.description;
    if (body.insecure != null) registry.insecure = body.insecure;
    if (body.credential_type != null || body.access_key != null || body.access_secret != null) {
      registry.credential = {
        type: body.credential_type ?? registry.credential?.type ?? 'basic',
        access_key: body.access_key ?? registry.credential?.access_key ?? '',
        access_secret: body.access_secret ?? registry.credential?.access_secret ?? '',
      };
    }
    registry.update_time = now();
    return new Reply(200);
  }

  private createPolicy(body: Json): number {
    this.checkPolicy(body);
    if ([...this.replicationPolicies.values()].some((p) => p.name === body.name)) {
      throw fail(409, `replication policy ${body.name} already exists`);
    }
    const id = this.nextId++;
    const created = now();
    this.replicationPolicies.set(id, { ...normalizedPolicy(body), id, creation_time: created });
    return id;
  }

  private putPolicy(policy: Json, body: Json): Reply {
    this.checkPolicy(body);
    const clash = [...this.replicationPolicies.values()].some(
      (p) => p.name === body.name && p.id !== policy.id,
    );
    if (clash) return fail(409, `replication policy ${body.name} already exists`);
    this.replicationPolicies.set(policy.id, {
      ...normalizedPolicy(body),
      id: policy.id,
      creation_time: policy.creation_time,
    });
    return new Reply(200);
  }

  private checkPolicy(body: Json): void {
    if (!body.name) throw fail(400, 'name is required');
    const src = body.src_registry?.id ?? 0;
    const dest = body.dest_registry?.id ?? 0;
    if ((src === 0) === (dest === 0)) {
      throw fail(400, 'either src_registry or dest_registry should be empty');
    }
    for (const id of [src, dest]) {
      if (id !== 0 && !this.registries.has(id)) throw fail(400, `registry ${id} not found`);
    }
    if (body.trigger?.type === 'scheduled' && !body.trigger.trigger_settings?.cron) {
      throw fail(400, 'the cron string cannot be empty when the trigger type is scheduled');
    }
  }

  private policyView(policy: Json): Json {
    const view = structuredClone(policy);
    for (const side of ['src_registry', 'dest_registry']) {
      if (view[side]) view[side] = registryView(this.registries.get(view[side].id));
      else delete view[side];
    }
    return view;
  }

  // --- scanners and schedules

  private createScanner(body: Json): string {
    const all = [...this.scanners.values()];
    if (all.some((s) => s.name === body.name || s.url === body.url)) {
      throw fail(409, 'registration name or url already exists');
    }
    const uuid = randomUUID();
    const created = now();
    this.scanners.set(uuid, {
      uuid,
      name: body.name,
      url: body.url,
      description: body.description ?? '',
      auth: body.auth ?? '',
      access_credential: body.access_credential ?? '',
      skip_certVerify: body.skip_certVerify ?? false,
      use_internal_addr: body.use_internal_addr ?? false,
      disabled: body.disabled ?? false,
      is_default: false,
      create_time: created,
      update_time: created,
      adapter: 'Fake',
      vendor: 'Fake',
      version: '1.0',
      health: 'healthy',
      immutable: false,
    });
    return uuid;
  }

  private putScanner(scanner: Json, body: Json): Reply {
    if (scanner.immutable) {
      return fail(
        403,
        `registration ${scanner.name} is not allowed to update as it is immutable: ` +
          'scanner API: update',
      );
    }
    const credential = body.access_credential || scanner.access_credential;
    Object.assign(scanner, {
      name: body.name,
      url: body.url,
      description: body.description ?? '',
      auth: body.auth ?? '',
      access_credential: body.auth ? credential : '',
      skip_certVerify: body.skip_certVerify ?? false,
      use_internal_addr: body.use_internal_addr ?? false,
      disabled: body.disabled ?? false,
      update_time: now(),
    });
    return new Reply(200);
  }

  private putConfigurations(body: Json): Reply {
    const values: Record<string, ConfigurationValue> = {};
    for (const [name, value] of Object.entries(body)) {
      if (value === null) continue;
      if (!MAP_CONFIGURATIONS.has(name)) {
        values[name] = value as ConfigurationValue;
        continue;
      }
      const map = typeof value === 'string' ? stringMap(value) : undefined;
      if (!map) return fail(400, `invalid config value of ${name}: ${JSON.stringify(value)}`);
      values[name] = map;
    }
    Object.assign(this.configurations, values);
    return new Reply(200);
  }

  private postScanAll(body: Json): Reply {
    const type = body.schedule?.type;
    if (type === 'None' || type === 'Manual') return new Reply(201);
    if (this.scanAllSchedule) {
      return fail(
        412,
        'fail to set schedule for scan all as always had one, please delete it firstly then ' +
          'to re-schedule',
      );
    }
    this.scanAllSchedule = this.schedule(type, body.schedule?.cron);
    return new Reply(201);
  }

  private putScanAll(body: Json): Reply {
    const type = body.schedule?.type;
    if (type === 'Manual') {
      return fail(400, `fail to update scan all schedule as wrong schedule type: ${type}`);
    }
    if (type === 'None') {
      this.scanAllSchedule = undefined;
      return new Reply(200);
    }
    this.scanAllSchedule = this.schedule(type, body.schedule?.cron, this.scanAllSchedule);
    return new Reply(200);
  }

  /** Harbor schedules the cron it is sent, whatever the type: it fills in none. */
  private schedule(type: string, cron: string | undefined, previous?: Json): Json {
    const resolved = cron ?? '';
    const problem = cronProblem(resolved);
    if (problem) {
      throw fail(400, `invalid cron string for scheduled scan all: ${resolved}, error: ${problem}`);
    }
    const time = now();
    return {
      id: previous?.id ?? this.nextId++,
      status: 'Scheduled',
      schedule: { type, cron: resolved },
      creation_time: previous?.creation_time ?? time,
      update_time: time,
    };
  }
}

// --- views: what GET shows of stored state

function robotView(robot: StoredRobot): Json {
  return {
    id: robot.id,
    name: robot.name,
    description: robot.description,
    expires_at: robot.expires_at,
    duration: robot.duration,
    level: robot.level,
    disable: robot.disable,
    editable: true,
    creator_type: 'local',
    creator_ref: 1,
    creation_time: robot.creation_time,
    update_time: robot.update_time,
    permissions: structuredClone(robot.permissions),
  };
}

function registryView(registry: Json): Json {
  const view = structuredClone(registry);
  if (view.credential) {
    view.credential.access_secret = view.credential.access_secret ? '*****' : '';
  } else {
    delete view.credential;
  }
  return view;
}

function scannerView(scanner: Json): Json {
  const view = structuredClone(scanner);
  delete view.immutable;
  // GET no longer shows the credential (Harbor 2.15)
  view.access_credential = '';
  return view;
}

// --- Harbor's checks

function robotProblem(duration: number, level: string, permissions: Json[] | undefined) {
  if (!(duration === -1 || (duration > 0 && duration < 2 ** 31 - 1))) {
    return (
      `bad request error duration input: ${duration}, ` +
      'duration must be either -1(Never) or a positive integer'
    );
  }
  if (level !== 'system' && level !== 'project') {
    return `bad request error level input: ${level}`;
  }
  if (!permissions || permissions.length === 0) return 'bad request empty permission';
  for (const permission of permissions) {
    if (!permission?.access?.length) return 'bad request empty access';
    if (permission.kind !== 'system' && permission.kind !== 'project') {
      return `bad request permission level: ${permission.kind}`;
    }
  }
  if (level === 'project' && permissions.length > 1) return 'bad request permission';
  return undefined;
}

function retentionProblem(body: Json): string | undefined {
  if (body.algorithm !== 'or') return `algorithm ${body.algorithm} is not supported`;
  if (body.scope?.level !== 'project') return `scope ${body.scope?.level} is not support`;
  if (!Array.isArray(body.rules)) return 'rules are required';
  if (body.rules.length > 15) return 'only 15 rules are allowed at most';
  const cron = body.trigger?.settings?.cron;
  if (body.trigger?.kind !== 'Schedule') return 'trigger.kind must be Schedule';
  if (cron) {
    const problem = cronProblem(cron);
    if (problem) return `invalid cron ${cron}: ${problem}`;
  }
  return undefined;
}

/** The object of a JSON string of a string-to-string map, as Harbor parses it, or undefined. */
function stringMap(text: string): Record<string, string> | undefined {
  try {
    const parsed = JSON.parse(text);
    const isMap =
      typeof parsed === 'object' &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      Object.values(parsed).every((v) => typeof v === 'string');
    return isMap ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A string map as Go's `json.Marshal` writes it. */
function goJson(value: ConfigurationValue): string {
  const goString = (text: string) =>
    JSON.stringify(text).replace(
      /[<>&\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  const map = value as Record<string, string>;
  const keys = Object.keys(map).sort();
  return `{${keys.map((k) => `${goString(k)}:${goString(map[k])}`).join(',')}}`;
}

/** Harbor's `ValidateCronString`: six fields, the first (seconds) `0`. */
function cronProblem(cron: string): string | undefined {
  if (cron.length === 0) return 'empty cron string is invalid';
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 6) return 'the cron string should have 6 fields';
  if (fields[0] !== '0')
    return 'the 1st field (indicating Seconds of time) of the cron setting must be 0';
  return undefined;
}

function normalizedRetention(id: number, body: Json): Json {
  return {
    id,
    algorithm: body.algorithm,
    rules: (body.rules as Json[]).map((rule, index) => ({
      ...structuredClone(rule),
      id: index + 1,
      priority: 0,
    })),
    trigger: {
      kind: 'Schedule',
      settings: { cron: body.trigger?.settings?.cron ?? '' },
      references: {},
    },
    scope: { level: body.scope.level, ref: body.scope.ref },
  };
}

function normalizedPolicy(body: Json): Json {
  return {
    name: body.name,
    description: body.description ?? '',
    src_registry: body.src_registry?.id ? { id: body.src_registry.id } : undefined,
    dest_registry: body.dest_registry?.id ? { id: body.dest_registry.id } : undefined,
    dest_namespace: body.dest_namespace ?? '',
    dest_namespace_replace_count: body.dest_namespace_replace_count ?? -1,
    trigger: structuredClone(body.trigger ?? { type: 'manual' }),
    filters: structuredClone(body.filters ?? []),
    replicate_deletion: body.replicate_deletion ?? false,
    deletion: body.replicate_deletion ?? false,
    override: body.override ?? false,
    enabled: body.enabled ?? false,
    speed: body.speed ?? 0,
    copy_by_chunk: body.copy_by_chunk ?? false,
    single_active_replication: body.single_active_replication ?? false,
    update_time: now(),
  };
}

// --- small helpers

function coerce(raw: string, type: string | undefined): Json {
  if (type === 'integer') return /^-?\d+$/.test(raw) ? Number(raw) : undefined;
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : undefined;
  return raw;
}

function pageOf(params: Record<string, Json>): Page {
  return { page: params.page ?? 1, pageSize: params.page_size ?? 10 };
}

function fuzzy(value: string, wanted: string | null): boolean {
  return wanted === null || wanted === '' || value.includes(wanted);
}

interface Keyword {
  value: string;
  fuzzy: boolean;
}

/** Harbor's `q` syntax for exact (`k=v`) and fuzzy (`k=~v`) matches, comma-separated. */
function parseQuery(q: string | null): Record<string, Keyword> {
  const keywords: Record<string, Keyword> = {};
  for (const part of (q ?? '').split(',').filter((p) => p.length > 0)) {
    const at = part.indexOf('=');
    if (at < 0) throw fail(400, `invalid query ${part}`);
    const value = part.slice(at + 1);
    keywords[part.slice(0, at)] = value.startsWith('~')
      ? { value: value.slice(1), fuzzy: true }
      : { value, fuzzy: false };
  }
  return keywords;
}

function matches(value: string, wanted: Keyword): boolean {
  return wanted.fuzzy ? value.includes(wanted.value) : value === wanted.value;
}

function matchesQuery(fields: Record<string, string>, q: string | null): boolean {
  return Object.entries(parseQuery(q)).every(
    ([key, wanted]) => fields[key] === undefined || matches(fields[key], wanted),
  );
}

function definedStrings(metadata: Record<string, Json>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(metadata).filter(([, v]) => v !== null && v !== undefined),
  ) as Record<string, string>;
}

function newSecret(): string {
  // upper, lower and digit guaranteed, as Harbor's generated secrets are
  return `Aa1${randomBytes(16).toString('hex')}`;
}

function expiry(created: Date, duration: number): number {
  if (duration === -1) return -1;
  return Math.floor(created.getTime() / 1000) + duration * 86400;
}

function isoOf(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, '.000Z');
}
