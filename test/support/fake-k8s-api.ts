/**
 * An in-process double of the Kubernetes core API, as much of it as our pod scripts use:
 * Secrets (create, get, update) and ConfigMaps (get, create, merge-patch, update), answering with the
 * status codes and Status bodies the real API server sends. Every request is recorded.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import { AddressInfo } from 'net';
import * as path from 'path';

export interface StoredSecret {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  type: string;
  data: Record<string, string>;
}

export interface StoredConfigMap {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    resourceVersion?: string;
  };
  data?: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

/**
 * An HTTP status to answer with, 'reset' to drop the connection without an answer, or
 * 'reset-after-write' to carry out the request and then drop the connection, as when a
 * response is lost on the way back.
 */
export type Failure = number | 'reset' | 'reset-after-write';

export interface TlsFiles {
  key: string;
  cert: string;
}

/** A rule of a Role, as synthesized: requests it does not allow are refused with 403. */
export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

type Resource = 'secrets' | 'configmaps';
type StoredObject = StoredSecret | StoredConfigMap;

const KINDS: Record<Resource, string> = { secrets: 'Secret', configmaps: 'ConfigMap' };

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export class FakeSecretsApi {
  readonly token = randomBytes(24).toString('hex');
  readonly requests: RecordedRequest[] = [];
  /** Called with each request once recorded, before it is answered: to stage a race. */
  onRequest: ((request: RecordedRequest) => void) | undefined;
  /** By resource/namespace/name: the namespace is the request's, as in the real API. */
  private readonly store = new Map<string, StoredObject>();
  private readonly failures: Failure[] = [];
  private readonly forbidden = new Set<string>();
  private readonly echoing = new Set<string>();
  private readonly server: http.Server;
  /**
   * Rules by the namespace of their Role (`*` for a ClusterRole's, which allow everywhere);
   * undefined allows every request.
   */
  private rulesByNamespace: Map<string, PolicyRule[]> | undefined;
  private serviceAccount = 'system:serviceaccount:default:default';
  private version = 1000;

  /** Serves https with these files, for clients that must verify the cluster CA. */
  constructor(private readonly tls?: TlsFiles) {
    const handler: http.RequestListener = (req, res) => this.handle(req, res);
    this.server = tls
      ? https.createServer(
          { key: fs.readFileSync(tls.key), cert: fs.readFileSync(tls.cert) },
          handler,
        )
      : http.createServer(handler);
  }

  /** Listens on a free loopback port; resolves to the base URL. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next `count` requests fail: with that HTTP status, or by dropping the connection. */
  failNext(count: number, how: Failure): void {
    for (let i = 0; i < count; i++) this.failures.push(how);
  }

  /** Creating this Secret is refused as RBAC would (403). */
  forbid(name: string): void {
    this.forbidden.add(name);
  }

  /**
   * Authorizes every request against these Role rules, for this ServiceAccount (as
   * `namespace:name`), answering 403 as RBAC does for anything they do not allow. The rules
   * apply in `namespace` alone, as a Role's do, or everywhere when it is left out.
   */
  authorize(rules: PolicyRule[], serviceAccount: string, namespace = '*'): void {
    this.authorizeRoles([{ namespace, rules }], serviceAccount);
  }

  /** As `authorize`, for several Roles: each allows requests in its own namespace only. */
  authorizeRoles(
    roles: { readonly namespace: string; readonly rules: PolicyRule[] }[],
    serviceAccount: string,
  ): void {
    this.rulesByNamespace = new Map();
    for (const role of roles) {
      const rules = this.rulesByNamespace.get(role.namespace) ?? [];
      this.rulesByNamespace.set(role.namespace, [...rules, ...structuredClone(role.rules)]);
    }
    this.serviceAccount = `system:serviceaccount:${serviceAccount}`;
  }

  /** Creating this Secret fails with a 422 whose message quotes the whole request body. */
  echoBodyOnCreate(name: string): void {
    this.echoing.add(name);
  }

  /** Stores a Secret as if it existed before the run, in its metadata.namespace. */
  seed(secret: StoredSecret): void {
    this.put('secrets', secret.metadata.namespace, secret.metadata.name, secret);
  }

  get(namespace: string, name: string): StoredSecret | undefined {
    return this.read('secrets', namespace, name) as StoredSecret | undefined;
  }

  /** The data of a stored Secret, decoded as UTF-8. */
  data(namespace: string, name: string): Record<string, string> | undefined {
    const secret = this.get(namespace, name);
    if (!secret) return undefined;
    return Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([key, b64]) => [
        key,
        Buffer.from(b64, 'base64').toString('utf8'),
      ]),
    );
  }

  /** Names of the stored Secrets, in every namespace. */
  names(): string[] {
    return this.namesOf('secrets');
  }

  /** Stores a ConfigMap as if it existed before the run, in its metadata.namespace. */
  seedConfigMap(configMap: StoredConfigMap): void {
    const stored = structuredClone(configMap);
    stored.metadata.resourceVersion ??= this.nextVersion();
    this.put('configmaps', configMap.metadata.namespace, configMap.metadata.name, stored);
  }

  configMap(namespace: string, name: string): StoredConfigMap | undefined {
    return this.read('configmaps', namespace, name) as StoredConfigMap | undefined;
  }

  /** Names of the stored ConfigMaps, in every namespace. */
  configMapNames(): string[] {
    return this.namesOf('configmaps');
  }

  /** The requests that could change something: every one but GET. */
  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  /** Every value the client ever sent, decoded, including those of refused creates. */
  sentValues(): string[] {
    return this.requests.flatMap((r) => {
      try {
        const data = (JSON.parse(r.body) as StoredSecret).data ?? {};
        return Object.values(data).map((b64) => Buffer.from(b64, 'base64').toString('utf8'));
      } catch {
        return [];
      }
    });
  }

  private put(resource: Resource, namespace: string, name: string, object: StoredObject) {
    this.store.set(`${resource}/${namespace}/${name}`, structuredClone(object));
  }

  private read(resource: Resource, namespace: string, name: string): StoredObject | undefined {
    const object = this.store.get(`${resource}/${namespace}/${name}`);
    return object && structuredClone(object);
  }

  private namesOf(resource: Resource): string[] {
    return [...this.store.entries()]
      .filter(([id]) => id.startsWith(`${resource}/`))
      .map(([, o]) => o.metadata.name)
      .sort();
  }

  private nextVersion(): string {
    this.version += 1;
    return String(this.version);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      this.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
      });
      this.onRequest?.(this.requests[this.requests.length - 1]);
      this.respond(req, res, body);
    });
  }

  private respond(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const failure = this.failures.shift();
    if (failure === 'reset') {
      req.socket.destroy();
      return;
    }
    if (typeof failure === 'number') {
      sendStatus(res, failure, failureMessage(failure));
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      sendStatus(res, 401, 'Unauthorized');
      return;
    }
    if (failure === 'reset-after-write') {
      // the request is carried out, its answer lost on the way back
      this.route(req, body, () => req.socket.destroy());
      return;
    }
    this.route(req, body, (code, answer) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  }

  private route(
    req: http.IncomingMessage,
    body: string,
    send: (code: number, answer: unknown) => void,
  ): void {
    const status = (code: number, message: string, details?: Record<string, string>) =>
      send(code, statusBody(code, message, details));
    const url = new URL(req.url ?? '/', 'http://fake');
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|configmaps)(?:\/([^/]+))?$/.exec(
      url.pathname,
    );
    const method = req.method ?? '';
    const verb = match && verbOf(method, match[3] !== undefined);
    if (
      !match ||
      !verb ||
      (match[2] === 'secrets' && !['create', 'get', 'update'].includes(verb))
    ) {
      status(405, `${method} ${req.url} is not supported`);
      return;
    }
    const namespace = match[1];
    const resource = match[2] as Resource;
    const kind = KINDS[resource];

    let object: StoredObject | undefined;
    if (body.length > 0) {
      try {
        object = JSON.parse(body) as StoredObject;
      } catch {
        status(400, 'the body of the request is not JSON');
        return;
      }
    }
    const name = match[3] ?? object?.metadata?.name ?? '';
    const refusal = this.refusal(verb, resource, namespace, name, match[3] !== undefined);
    if (refusal) {
      status(403, refusal, { name, kind: resource });
      return;
    }

    const id = `${resource}/${namespace}/${name}`;
    const existing = this.store.get(id);
    const notFound = () => status(404, `${resource} "${name}" not found`, { name, kind: resource });

    if (verb === 'get') {
      if (existing) send(200, existing);
      else notFound();
      return;
    }

    if (verb === 'patch') {
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
      if (type !== 'application/merge-patch+json') {
        status(
          415,
          `the body of the request was in an unknown format - accepted media types include: ` +
            `application/json-patch+json, application/merge-patch+json, ` +
            `application/apply-patch+yaml`,
        );
        return;
      }
      if (!existing) {
        notFound();
        return;
      }
      const patched = mergePatch(structuredClone(existing), object) as StoredConfigMap;
      // the API keeps identity fields whatever the patch says
      patched.apiVersion = 'v1';
      patched.kind = kind;
      patched.metadata = { ...patched.metadata, name, namespace };
      const problem = invalidConfigMap(patched, namespace);
      if (problem) {
        status(422, `ConfigMap "${name}" is invalid: ${problem}`);
        return;
      }
      patched.metadata.resourceVersion = this.nextVersion();
      this.store.set(id, patched);
      send(200, patched);
      return;
    }

    if (!object) {
      status(400, 'the request has no body');
      return;
    }

    if (verb === 'update') {
      if (object.metadata?.name !== name) {
        status(400, 'the name of the object does not match the name on the URL');
        return;
      }
      const problem =
        resource === 'secrets'
          ? invalidSecret(object as StoredSecret, namespace)
          : invalidConfigMap(object as StoredConfigMap, namespace);
      if (problem) {
        status(422, `${kind} "${name}" is invalid: ${problem}`);
      } else if (!existing) {
        notFound();
      } else if (
        resource === 'secrets' &&
        (existing as StoredSecret).type !== (object as StoredSecret).type
      ) {
        status(422, `Secret "${name}" is invalid: type: Invalid value: field is immutable`);
      } else if (
        // an update without a resourceVersion is unconditional, as in the real API
        ![undefined, (existing as StoredConfigMap).metadata.resourceVersion].includes(
          (object as StoredConfigMap).metadata.resourceVersion,
        )
      ) {
        status(
          409,
          `Operation cannot be fulfilled on ${resource} "${name}": the object has been ` +
            `modified; please apply your changes to the latest version and try again`,
          { name, kind: resource },
        );
      } else {
        const updated = structuredClone(object) as StoredConfigMap;
        updated.metadata.namespace = namespace;
        updated.metadata.resourceVersion = this.nextVersion();
        this.store.set(id, updated);
        send(200, updated);
      }
      return;
    }

    // create
    const problem =
      resource === 'secrets'
        ? invalidSecret(object as StoredSecret, namespace)
        : invalidConfigMap(object as StoredConfigMap, namespace);
    if (problem) {
      status(422, problem);
    } else if (resource === 'secrets' && this.echoing.has(name)) {
      status(422, `Secret "${name}" is invalid: ${body}`);
    } else if (existing) {
      status(409, `${resource} "${name}" already exists`, { name, kind: resource });
    } else {
      const created = structuredClone(object);
      created.metadata.namespace = namespace;
      if (resource === 'configmaps') {
        (created as StoredConfigMap).metadata.resourceVersion = this.nextVersion();
      }
      this.store.set(id, created);
      send(201, created);
    }
  }

  /** Why RBAC refuses the request, in the API server's words, or undefined when allowed. */
  private refusal(
    verb: string,
    resource: Resource,
    namespace: string,
    name: string,
    named: boolean,
  ): string | undefined {
    const forbiddenCreate = resource === 'secrets' && verb === 'create' && this.forbidden.has(name);
    const byNamespace = this.rulesByNamespace;
    const rules = byNamespace && [
      ...(byNamespace.get(namespace) ?? []),
      ...(byNamespace.get('*') ?? []),
    ];
    const allowed =
      !forbiddenCreate &&
      (rules === undefined ||
        rules.some(
          (rule) =>
            (rule.apiGroups ?? ['']).some((g) => g === '' || g === '*') &&
            (rule.resources ?? []).some((r) => r === resource || r === '*') &&
            rule.verbs.some((v) => v === verb || v === '*') &&
            // a create carries no name in its URL, so a name-limited rule never allows it
            (!rule.resourceNames?.length || (named && rule.resourceNames.includes(name))),
        ));
    if (allowed) return undefined;
    const user = forbiddenCreate
      ? `system:serviceaccount:${namespace}:ensure-secrets`
      : this.serviceAccount;
    const subject = named ? `${resource} "${name}"` : resource;
    return (
      `${subject} is forbidden: User "${user}" cannot ${verb} resource "${resource}" ` +
      `in API group "" in the namespace "${namespace}"`
    );
  }
}

/** A throw-away self-signed certificate for 127.0.0.1, which is also its own CA, in `dir`. */
export function selfSignedTls(dir: string, commonName = 'kubernetes'): TlsFiles {
  const files = {
    key: path.join(dir, `${commonName}.key`),
    cert: path.join(dir, `${commonName}.crt`),
  };
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      files.key,
      '-out',
      files.cert,
    ],
    { stdio: 'pipe' },
  );
  return files;
}

function verbOf(method: string, named: boolean): string | undefined {
  if (!named) return method === 'POST' ? 'create' : method === 'GET' ? 'list' : undefined;
  return { GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }[method];
}

/** RFC 7386: objects merge key by key, null removes a key, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function invalidSecret(secret: StoredSecret, namespace: string): string | undefined {
  if (secret.apiVersion !== 'v1' || secret.kind !== 'Secret') return 'not a v1 Secret';
  if (!secret.metadata?.name) return 'metadata.name is required';
  if (secret.metadata.namespace && secret.metadata.namespace !== namespace) {
    return 'the namespace of the object does not match the namespace on the request';
  }
  if (secret.type === 'kubernetes.io/dockerconfigjson') {
    // the API server requires the key and parses it as JSON
    const config = secret.data?.['.dockerconfigjson'];
    if (!config) return 'data[.dockerconfigjson]: Required value';
    try {
      JSON.parse(Buffer.from(config, 'base64').toString('utf8'));
    } catch {
      return 'data[.dockerconfigjson]: Invalid value: not valid JSON';
    }
  } else if (secret.type !== 'Opaque') {
    return 'type must be Opaque or kubernetes.io/dockerconfigjson';
  }
  for (const value of Object.values(secret.data ?? {})) {
    if (Buffer.from(value, 'base64').toString('base64') !== value) return 'data is not base64';
  }
  return undefined;
}

function invalidConfigMap(configMap: StoredConfigMap, namespace: string): string | undefined {
  if (configMap.apiVersion !== 'v1' || configMap.kind !== 'ConfigMap') {
    return 'not a v1 ConfigMap';
  }
  if (!configMap.metadata?.name) return 'metadata.name is required';
  if (configMap.metadata.namespace && configMap.metadata.namespace !== namespace) {
    return 'the namespace of the object does not match the namespace on the request';
  }
  for (const [key, value] of Object.entries(configMap.data ?? {})) {
    if (!/^[-._a-zA-Z0-9]+$/.test(key)) return `data[${key}]: a valid config key is required`;
    if (typeof value !== 'string') return `data[${key}]: must be a string`;
  }
  for (const [key, value] of Object.entries(configMap.metadata.labels ?? {})) {
    if (typeof value !== 'string') return `metadata.labels[${key}]: must be a string`;
  }
  return undefined;
}

function failureMessage(code: number): string {
  if (code === 403) return 'forbidden';
  if (code === 429) return 'too many requests, please try again later';
  return 'the server is currently unable to respond';
}

function statusBody(code: number, message: string, details?: Record<string, string>) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: REASONS[code] ?? 'Unknown',
    ...(details ? { details } : {}),
    code,
  };
}

function sendStatus(res: http.ServerResponse, code: number, message: string) {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(statusBody(code, message)));
}
