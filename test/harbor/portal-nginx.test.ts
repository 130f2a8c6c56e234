/**
 * Checks the portal's nginx.conf with the real nginx (Debian package `nginx`): `nginx -t` on
 * it, then a real server on a free port that serves a temp root the way the portal image
 * serves the single-page application.
 *
 * The config logs to stderr and /dev/stdout, so nginx gets regular files as stdout and stderr
 * here, as a pod's container gets a FIFO or file: it cannot reopen /dev/stdout on the Unix
 * socket of a Node pipe. Nothing is written under /var/log, so root is not needed.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { gunzipSync } from 'zlib';
import { PORTAL_PORT, portalNginxConf } from '../../lib/harbor/portal';
import {
  Daemon,
  OutputFiles,
  RunResult,
  freePort,
  run,
  startDaemon,
  stopDaemon,
  waitUntil,
} from '../support/processes';
import { find, synthApp } from '../support/synth';

const STARTUP_MS = 10_000;
const INDEX = '<!doctype html><html><body><app-root>portal index</app-root></body></html>\n';
const SWAGGER = '<!doctype html><html><body>swagger ui</body></html>\n';
// above gzip_min_length, so compression is observable
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4000))});\n`;
const NO_STORE = 'no-store, no-cache, must-revalidate';

function nginxBinary(): string {
  // Debian puts nginx in /usr/sbin, which a non-root PATH often lacks
  const dirs = (process.env.PATH ?? '').split(path.delimiter).concat('/usr/sbin');
  for (const dir of dirs) {
    const candidate = path.join(dir, 'nginx');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new Error('these tests need the real nginx: apt-get install nginx');
}

/** Paths outside the prefix that the config makes nginx create: its pid and temp dirs. */
function fixedPaths(conf: string): string[] {
  return [...conf.matchAll(/^\s*(?:pid|\w+_temp_path)\s+(\/\S+);/gm)].map((m) => m[1]);
}

/** Files in `dir` to take nginx's stdout and stderr. */
function outputFilesIn(dir: string): OutputFiles {
  return { stdout: path.join(dir, 'stdout'), stderr: path.join(dir, 'stderr') };
}

function nginxTest(conf: string): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(workDir, 'check-'));
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf);
  const args = ['-t', '-p', `${dir}/`, '-c', file, '-e', path.join(dir, 'error.log')];
  // -t opens the logs too, so /dev/stdout must be a file here as well
  return run(nginx, args, { timeoutMs: 10_000, outputFiles: outputFilesIn(dir) });
}

/** Replaces each match of `pattern`, failing unless there were exactly `count`. */
function rewrite(text: string, pattern: RegExp, replacement: string, count: number): string {
  const found = text.match(pattern)?.length ?? 0;
  if (found !== count) {
    throw new Error(`expected ${count} of ${pattern} in nginx.conf, got ${found}`);
  }
  return text.replace(pattern, replacement);
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(host: string, port: number, urlPath: string, headers = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // no keep-alive: a lingering socket would outlive the server it belongs to
    const req = http.get(
      { host, port, path: urlPath, headers, agent: false, timeout: 5_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

class Server {
  private daemon?: Daemon;
  private files?: OutputFiles;
  private errorLog = '';
  port = 0;

  constructor(private readonly conf: string) {}

  /** Starts nginx as the image does (`-g 'daemon off;'`), in its own process group. */
  async start(): Promise<void> {
    // '::' is dual-stack here, so the port is free for both listen lines of the ipv6 variant
    this.port = await freePort('::');
    const dir = fs.mkdtempSync(path.join(workDir, 'serve-'));
    const root = path.join(dir, 'html');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'index.html'), INDEX);
    fs.writeFileSync(path.join(root, 'swagger-ui-index.html'), SWAGGER);
    fs.writeFileSync(path.join(root, 'main.js'), SCRIPT);
    // run by root, the master hands requests to workers running as nobody
    for (const p of [workDir, dir, root]) fs.chmodSync(p, 0o755);

    // only what must differ here: the port, and a root we can fill instead of the image's
    let conf = rewrite(
      this.conf,
      new RegExp(`(listen\\s+(?:\\[::\\]:)?)${PORTAL_PORT};`, 'g'),
      `$1${this.port};`,
      (this.conf.match(/^\s*listen\s/gm) ?? []).length,
    );
    conf = rewrite(conf, /^(\s*root\s+)\S+;/gm, `$1${root};`, 1);
    const file = path.join(dir, 'nginx.conf');
    fs.writeFileSync(file, conf);
    this.errorLog = path.join(dir, 'error.log');
    this.files = outputFilesIn(dir);

    const args = ['-p', `${dir}/`, '-c', file, '-e', this.errorLog, '-g', 'daemon off;'];
    this.daemon = startDaemon('nginx', nginx, args, { outputFiles: this.files });
    await waitUntil(this.daemon, () => get('127.0.0.1', this.port, '/').then(() => true), {
      timeoutMs: STARTUP_MS,
      intervalMs: 50,
    });
  }

  /** What nginx wrote to its stdout: the access log. */
  stdout(): string {
    return this.read(this.files?.stdout);
  }

  /** What nginx wrote to its stderr: the error log from the config on. */
  stderr(): string {
    return this.read(this.files?.stderr);
  }

  /** The stdout once it matches `pattern`, or after a few seconds: log lines follow replies. */
  async stdoutOnceMatching(pattern: RegExp): Promise<string> {
    if (this.daemon) {
      await waitUntil(this.daemon, async () => pattern.test(this.stdout()), {
        timeoutMs: 5_000,
        intervalMs: 20,
      }).catch(() => undefined);
    }
    return this.stdout();
  }

  /** Everything nginx logged: its output and the error log it used until the config took over. */
  log(): string {
    return (this.daemon?.output() ?? '') + this.read(this.errorLog);
  }

  async stop(): Promise<void> {
    await stopDaemon(this.daemon);
  }

  private read(file: string | undefined): string {
    return file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  }
}

let nginx: string;
let workDir: string;
let synthesized: string;
let leftovers: string[] = [];

beforeAll(() => {
  nginx = nginxBinary();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portal-nginx-test-'));
  synthesized = find(synthApp().objects, 'ConfigMap', 'harbor-portal').data['nginx.conf'];
  // the config puts these in /tmp as the pod needs; remove afterwards only what we caused
  leftovers = fixedPaths(portalNginxConf(true)).filter((p) => !fs.existsSync(p));
});

afterAll(() => {
  for (const p of leftovers) fs.rmSync(p, { recursive: true, force: true });
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

const variants: Array<[string, () => string, boolean]> = [
  ['the synthesized config', () => synthesized, false],
  ['the ipv6 variant', () => portalNginxConf(true), true],
];

describe.each(variants)('%s', (_label, conf, ipv6) => {
  test('passes nginx -t without warnings', async () => {
    const result = await nginxTest(conf());

    expect(result.stderr).toContain('test is successful');
    expect(result.stderr).not.toMatch(/\[(warn|emerg|alert|crit|error)\]/);
    expect(result.code).toBe(0);
  });

  describe('when served', () => {
    let server: Server;

    beforeAll(async () => {
      server = new Server(conf());
      await server.start();
    });

    afterAll(async () => {
      await server?.stop();
    });

    const local = (urlPath: string, headers = {}) =>
      get('127.0.0.1', server.port, urlPath, headers);

    test('answers / with the index, never cached', async () => {
      const reply = await local('/');

      expect(reply.status).toBe(200);
      expect(reply.body.toString('utf8')).toBe(INDEX);
      expect(reply.headers['cache-control']).toBe(NO_STORE);
    });

    test('falls back to the index for a client-side route', async () => {
      const reply = await local('/harbor/projects/1/repositories');

      expect(reply.status).toBe(200);
      expect(reply.body.toString('utf8')).toBe(INDEX);
      expect(reply.headers['content-type']).toMatch(/^text\/html/);
      expect(reply.headers['cache-control']).toBe(NO_STORE);
    });

    test('/index.html carries cache-control no-store', async () => {
      const reply = await local('/index.html');

      expect(reply.status).toBe(200);
      expect(reply.body.toString('utf8')).toBe(INDEX);
      expect(reply.headers['cache-control']).toBe(NO_STORE);
    });

    test('serves an asset as itself, cacheable, with its mime type and gzip', async () => {
      const plain = await local('/main.js');
      const zipped = await local('/main.js', { 'Accept-Encoding': 'gzip' });

      expect(plain.status).toBe(200);
      expect(plain.body.toString('utf8')).toBe(SCRIPT);
      expect(plain.headers['content-type']).toBe('application/javascript');
      expect(plain.headers['cache-control']).toBeUndefined();
      expect(zipped.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(zipped.body).toString('utf8')).toBe(SCRIPT);
    });

    test('falls back to the swagger ui under /devcenter-api-2.0', async () => {
      const reply = await local('/devcenter-api-2.0/some/page');

      expect(reply.status).toBe(200);
      expect(reply.body.toString('utf8')).toBe(SWAGGER);
    });

    test(`${ipv6 ? 'answers' : 'does not answer'} on ipv6 loopback`, async () => {
      const reply = get('::1', server.port, '/');

      if (ipv6) expect((await reply).body.toString('utf8')).toBe(INDEX);
      else await expect(reply).rejects.toThrow(/ECONNREFUSED/);
    });

    test('does not reveal its version', async () => {
      expect((await local('/')).headers.server).toBe('nginx');
    });

    test('logs a served request to stdout, and no error to stderr', async () => {
      // a unique user agent picks out this request among the readiness probes' ones
      const agent = `portal-nginx-test/${randomBytes(6).toString('hex')}`;
      const reply = await local('/', { 'User-Agent': agent });
      // nginx's default "combined" format
      const line = new RegExp(
        `^127\\.0\\.0\\.1 - - \\[[^\\]]+\\] "GET / HTTP/1\\.1" 200 ` +
          `${Buffer.byteLength(INDEX)} "-" "${agent}"$`,
        'm',
      );

      expect(reply.status).toBe(200);
      expect(await server.stdoutOnceMatching(line)).toMatch(line);
      expect(server.stderr()).not.toContain(agent);
      expect(server.stderr()).not.toMatch(/\[(error|emerg)\]/);
    });

    test('logs no error while serving', () => {
      expect(server.log()).not.toMatch(/\[(warn|emerg|alert|crit|error)\]/);
    });
  });
});

test('nginx -t rejects a broken copy, so the checks above can fail', async () => {
  const result = await nginxTest(`${synthesized}bogus_directive on;\n`);

  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain('unknown directive "bogus_directive"');
});

test('the synthesized config listens on ipv4 only; the ipv6 variant adds [::]', () => {
  expect(synthesized).toBe(portalNginxConf(false));
  expect(portalNginxConf(true)).toContain(`listen [::]:${PORTAL_PORT};`);
});
