/**
 * An in-process double of the Kubernetes Secrets API, as much of it as ensure-secrets.py uses:
 * create-only (POST), as the Job's Role allows, answering like the real API server does.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import { AddressInfo } from 'net';

export interface StoredSecret {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  type: string;
  data: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** An HTTP status to answer with, or 'reset' to drop the connection without an answer. */
export type Failure = number | 'reset';

export interface TlsFiles {
  key: string;
  cert: string;
}

export class FakeSecretsApi {
  readonly token = randomBytes(24).toString('hex');
  readonly requests: RecordedRequest[] = [];
  /** By namespace/name: the namespace is the request's, as in the real API. */
  private readonly store = new Map<string, StoredSecret>();
  private readonly failures: Failure[] = [];
  private readonly forbidden = new Set<string>();
  private readonly echoing = new Set<string>();
  private readonly server: http.Server;

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

  /** Creating this Secret fails with a 422 whose message quotes the whole request body. */
  echoBodyOnCreate(name: string): void {
    this.echoing.add(name);
  }

  /** Stores a Secret as if it existed before the run, in its metadata.namespace. */
  seed(secret: StoredSecret): void {
    this.store.set(`${secret.metadata.namespace}/${secret.metadata.name}`, structuredClone(secret));
  }

  get(namespace: string, name: string): StoredSecret | undefined {
    const secret = this.store.get(`${namespace}/${name}`);
    return secret && structuredClone(secret);
  }

  /** The data of a stored Secret, decoded as UTF-8. */
  data(namespace: string, name: string): Record<string, string> | undefined {
    const secret = this.store.get(`${namespace}/${name}`);
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
    return [...this.store.values()].map((s) => s.metadata.name).sort();
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
      this.respond(req, res, body);
    });
  }

  private respond(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const failure = this.failures.shift();
    if (failure === 'reset') {
      req.socket.destroy();
      return;
    }
    if (failure !== undefined) {
      sendStatus(res, failure, 'ServiceUnavailable', 'the server is currently unable to respond');
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/secrets$/.exec(req.url ?? '');
    if (!match || req.method !== 'POST') {
      sendStatus(res, 405, 'MethodNotAllowed', `${req.method} ${req.url} is not supported`);
      return;
    }
    const namespace = match[1];
    let secret: StoredSecret;
    try {
      secret = JSON.parse(body) as StoredSecret;
    } catch {
      sendStatus(res, 400, 'BadRequest', 'body is not JSON');
      return;
    }
    const name = secret.metadata?.name;
    const id = `${namespace}/${name}`;
    const problem = invalidSecret(secret, namespace);
    if (problem) {
      sendStatus(res, 422, 'Invalid', problem);
    } else if (this.forbidden.has(name)) {
      sendStatus(
        res,
        403,
        'Forbidden',
        `secrets is forbidden: User ` +
          `"system:serviceaccount:${namespace}:ensure-secrets" cannot create resource ` +
          `"secrets" in API group "" in the namespace "${namespace}"`,
      );
    } else if (this.echoing.has(name)) {
      sendStatus(res, 422, 'Invalid', `Secret "${name}" is invalid: ${body}`);
    } else if (this.store.has(id)) {
      sendStatus(res, 409, 'AlreadyExists', `secrets "${name}" already exists`);
    } else {
      this.store.set(id, secret);
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(secret));
    }
  }
}

function invalidSecret(secret: StoredSecret, namespace: string): string | undefined {
  if (secret.apiVersion !== 'v1' || secret.kind !== 'Secret') return 'not a v1 Secret';
  if (!secret.metadata?.name) return 'metadata.name is required';
  if (secret.metadata.namespace && secret.metadata.namespace !== namespace) {
    return 'the namespace of the object does not match the namespace on the request';
  }
  if (secret.type !== 'Opaque') return 'type must be Opaque';
  for (const value of Object.values(secret.data ?? {})) {
    if (Buffer.from(value, 'base64').toString('base64') !== value) return 'data is not base64';
  }
  return undefined;
}

function sendStatus(res: http.ServerResponse, code: number, reason: string, message: string) {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(
    JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      message,
      reason,
      code,
    }),
  );
}
