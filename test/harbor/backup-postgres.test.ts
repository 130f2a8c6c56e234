/**
 * Runs the real backup-database.sh and restore-database.sh, taken from the synthesized
 * ConfigMap, against a real PostgreSQL server in a throwaway cluster, with the environment
 * the synthesized CronJob and restore Job give their pods (only the address of the server and
 * the backup directory are changed). The database is modelled on Harbor's `registry` schema.
 *
 * Debian package: postgresql (server and client tools). Debian 12 ships PostgreSQL 15; the
 * harbor-db image of Harbor v2.15.2 ships PostgreSQL 18. The scripts use only options both
 * versions share, and a custom-format dump is read by the pg_restore of the same release that
 * wrote it, which holds here as in the pod.
 *
 * When the test runs as root, the server and the scripts run as the `postgres` user, as the
 * pod runs them as uid 999: PostgreSQL refuses root, and the backup directory must be
 * writable by a user that is not its owner's root.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { HarborDatabaseBackup } from '../../lib/harbor/backup';
import { DatabaseConnection } from '../../lib/harbor/common';
import { DatabaseSslMode } from '../../lib/harbor/database';
import { HarborImages } from '../../lib/harbor/images';
import {
  Daemon,
  RunResult,
  freePort,
  run,
  startDaemon,
  stopDaemon,
  waitUntil,
} from '../support/processes';
import { K8sObject, find } from '../support/synth';

const RETAIN = 3;
const STARTUP_MS = 30_000;
const COMMAND_MS = 60_000;
const DUMP_NAME = /^registry-\d{8}T\d{6}Z\.dump$/;

// ---------------------------------------------------------------------------------------------
// The server and the user everything runs as

/** The newest PostgreSQL installed from Debian's packages. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(`no PostgreSQL under ${root}; install the Debian package postgresql`);
  }
  return path.join(root, versions[0], 'bin');
}

interface Account {
  readonly uid: number;
  readonly gid: number;
}

/** The user the server runs as: ourselves, or `postgres` when we are root. */
function account(): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

/** A command line that runs as `user`, which setpriv enters without a process of its own. */
function as(user: Account | undefined, command: string[]): [string, string[]] {
  if (!user) return [command[0], command.slice(1)];
  const ids = [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'];
  return ['setpriv', [...ids, '--', ...command]];
}

function makeDir(dir: string, user: Account | undefined, mode = 0o700): string {
  fs.mkdirSync(dir, { recursive: true, mode });
  if (user) fs.chownSync(dir, user.uid, user.gid);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// A registry database modelled on Harbor's

const SCHEMA = `
CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);
INSERT INTO schema_migrations VALUES (150, false);

CREATE TABLE project (
  project_id serial PRIMARY KEY,
  owner_id integer NOT NULL,
  name varchar(255) NOT NULL UNIQUE,
  creation_time timestamp NOT NULL DEFAULT '2025-01-02 03:04:05',
  deleted boolean NOT NULL DEFAULT false
);
CREATE TABLE project_metadata (
  id serial PRIMARY KEY,
  project_id integer NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
  name varchar(255) NOT NULL,
  value varchar(255),
  UNIQUE (project_id, name)
);
CREATE TABLE repository (
  repository_id serial PRIMARY KEY,
  name varchar(255) NOT NULL UNIQUE,
  project_id integer NOT NULL REFERENCES project (project_id),
  description text,
  pull_count integer NOT NULL DEFAULT 0
);
CREATE TABLE artifact (
  id serial PRIMARY KEY,
  repository_id integer NOT NULL REFERENCES repository (repository_id),
  digest varchar(255) NOT NULL,
  media_type varchar(255) NOT NULL,
  size bigint,
  extra_attrs jsonb,
  icon bytea,
  UNIQUE (repository_id, digest)
);
CREATE INDEX artifact_repository ON artifact (repository_id);
CREATE SEQUENCE audit_log_id_seq START 1000;
CREATE VIEW artifact_count AS
  SELECT repository_id, count(*) AS artifacts FROM artifact GROUP BY repository_id;

INSERT INTO project (owner_id, name) SELECT 1, 'project-' || i FROM generate_series(1, 4) i;
INSERT INTO project_metadata (project_id, name, value)
  SELECT p, 'public', CASE WHEN p % 2 = 0 THEN 'true' ELSE 'false' END
  FROM generate_series(1, 4) p;
INSERT INTO repository (name, project_id, description)
  SELECT 'project-' || (1 + i % 4) || '/app-' || i, 1 + i % 4, 'Ünïcode – ' || i
  FROM generate_series(1, 25) i;
INSERT INTO artifact (repository_id, digest, media_type, size, extra_attrs, icon)
  SELECT 1 + i % 25,
    'sha256:' || encode(sha256(int4send(i)), 'hex'),
    'application/vnd.oci.image.manifest.v1+json',
    1000000 + i * 7,
    jsonb_build_object('arch', 'amd64', 'layers', i % 5, 'labels', jsonb_build_object('n', i)),
    CASE WHEN i % 3 = 0 THEN '\\x00ff00ee'::bytea || sha256(int4send(i)) END
  FROM generate_series(1, 300) i;
-- gaps, as a registry that deleted artifacts has, so a reset sequence would collide
DELETE FROM artifact WHERE id % 10 = 0;
SELECT setval('audit_log_id_seq', 4242);
`;

/** Tables and views with the column that orders their rows. */
const RELATIONS: Record<string, string> = {
  schema_migrations: 'version',
  project: 'project_id',
  project_metadata: 'id',
  repository: 'repository_id',
  artifact: 'id',
  artifact_count: 'repository_id',
};

/** Everything a restore must bring back, as JSON that compares exactly; null for a lost table. */
function stateQuery(present: Set<string>): string {
  const rows = Object.entries(RELATIONS).map(([name, order]) =>
    present.has(name)
      ? `'${name}', (SELECT json_agg(x ORDER BY ${order}) FROM ${name} x)`
      : `'${name}', NULL`,
  );
  return `
SELECT json_build_object(
  ${rows.join(',\n  ')},
  'sequences', (SELECT json_agg(json_build_object('name', sequencename, 'last', last_value)
    ORDER BY sequencename) FROM pg_sequences WHERE schemaname = 'public'),
  'foreignKeys', (SELECT json_agg(conrelid::regclass || ' ' || pg_get_constraintdef(oid)
    ORDER BY conrelid::regclass::text, conname) FROM pg_constraint WHERE contype = 'f'),
  'indexes', (SELECT json_agg(indexdef ORDER BY indexname) FROM pg_indexes
    WHERE schemaname = 'public')
)`;
}

// ---------------------------------------------------------------------------------------------

let workDir: string;
let bin: string;
let user: Account | undefined;
let server: Daemon | undefined;
let holder: Daemon | undefined;
let pgPort: number;
let password: string;
let backupDir: string;
let scriptsDir: string;
let backup: HarborDatabaseBackup;
let cronJobEnv: Record<string, string>;
const outputs: string[] = [];

/** Env of the synthesized pod's first container, with the Secret resolved to the password. */
function podEnv(template: K8sObject, passwordSecret: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of template.spec.containers[0].env) {
    const ref = entry.valueFrom?.secretKeyRef;
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (ref?.name === passwordSecret) env[entry.name] = password;
    else throw new Error(`env ${entry.name} has a source this test does not resolve`);
  }
  return env;
}

/** The pod's env pointed at the test server and directory, and nothing from our own env. */
function scriptEnv(pod: Record<string, string>, extra: Record<string, string> = {}) {
  return {
    ...pod,
    PGHOST: '127.0.0.1',
    PGPORT: String(pgPort),
    BACKUP_DIR: backupDir,
    PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: workDir,
    ...extra,
  };
}

async function runScript(
  command: string[],
  env: Record<string, string>,
  pathPrefix?: string,
): Promise<RunResult> {
  // the pod mounts the ConfigMap at /scripts; here it is written to a directory of ours
  const local = command.map((arg) => arg.replace(/^\/scripts\//, `${scriptsDir}/`));
  const fullEnv = pathPrefix ? { ...env, PATH: `${pathPrefix}:${env.PATH}` } : env;
  const [program, args] = as(user, local);
  const result = await run(program, args, { env: fullEnv, timeoutMs: COMMAND_MS });
  outputs.push(result.stdout, result.stderr);
  return result;
}

const runBackup = (extra: Record<string, string> = {}, pathPrefix?: string) =>
  runScript(['/bin/sh', '/scripts/backup-database.sh'], scriptEnv(cronJobEnv, extra), pathPrefix);

async function runRestore(dump: string, extra: Record<string, string> = {}): Promise<RunResult> {
  const job = backup.restoreJob(dump);
  const env = podEnv(job.spec.template, 'harbor-database-password');
  return runScript(job.spec.template.spec.containers[0].command, scriptEnv(env, extra));
}

async function psql(sql: string, database = 'registry'): Promise<RunResult> {
  const file = path.join(workDir, `query-${randomBytes(4).toString('hex')}.sql`);
  fs.writeFileSync(file, sql);
  try {
    const args = ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1'];
    return await run(
      path.join(bin, 'psql'),
      [...args, '-p', String(pgPort), '-U', 'postgres', '-d', database, '-f', file],
      { env: { PGPASSWORD: password, HOME: workDir, PATH: process.env.PATH }, timeoutMs: 30_000 },
    );
  } finally {
    fs.rmSync(file, { force: true });
  }
}

async function sql(text: string, database = 'registry'): Promise<string> {
  const result = await psql(text, database);
  if (result.code !== 0) throw new Error(`psql failed: ${result.stderr}`);
  return result.stdout.trim();
}

async function state(): Promise<any> {
  const names = await sql(
    "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace",
  );
  return JSON.parse(await sql(stateQuery(new Set(names.split('\n')))));
}

const dumps = () =>
  fs
    .readdirSync(backupDir)
    .filter((f) => DUMP_NAME.test(f))
    .sort();
const wroteName = (result: RunResult) => /wrote (\S+):/.exec(result.stdout)?.[1];

beforeAll(async () => {
  bin = postgresBin();
  user = account();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-backup-test-'));
  if (user) fs.chownSync(workDir, user.uid, user.gid);
  const dataDir = path.join(workDir, 'data');
  const socketDir = makeDir(path.join(workDir, 'socket'), user);
  backupDir = makeDir(path.join(workDir, 'backup'), user);
  scriptsDir = makeDir(path.join(workDir, 'scripts'), user, 0o755);
  password = randomBytes(18).toString('base64url');

  const chart = new Chart(Testing.app(), 'test', { namespace: 'harbor' });
  const connection: DatabaseConnection = {
    host: 'harbor-database',
    port: 5432,
    database: 'registry',
    username: 'postgres',
    sslMode: DatabaseSslMode.DISABLE,
    password: { name: 'harbor-database-password', key: 'password' },
    maxOpenConnections: 900,
    maxIdleConnections: 100,
  };
  backup = new HarborDatabaseBackup(chart, 'Backup', {
    instance: 'harbor',
    images: new HarborImages(),
    connection,
    storage: { storageClassName: 'nfs-csi', size: '20Gi' },
    retain: RETAIN,
  });
  const objects = chart.toJson();
  const cronJob = find(objects, 'CronJob', 'harbor-database-backup');
  const template = cronJob.spec.jobTemplate.spec.template;
  const scriptsVolume = template.spec.volumes.find((v: K8sObject) => v.name === 'scripts');
  const configMap = find(objects, 'ConfigMap', scriptsVolume.configMap.name);
  for (const [name, text] of Object.entries<string>(configMap.data)) {
    fs.writeFileSync(path.join(scriptsDir, name), text, { mode: 0o644 });
  }
  cronJobEnv = podEnv(template, 'harbor-database-password');
  expect(cronJobEnv).toMatchObject({ BACKUP_DIR: '/backup', RETAIN: String(RETAIN) });

  const pwfile = path.join(workDir, 'pwfile');
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) fs.chownSync(pwfile, user.uid, user.gid);
  const serverEnv = { PATH: process.env.PATH, HOME: workDir, LC_ALL: 'C' };
  const initdb = as(user, [
    path.join(bin, 'initdb'),
    ...['-D', dataDir, '-U', 'postgres', '-A', 'scram-sha-256', `--pwfile=${pwfile}`],
    ...['-E', 'UTF8', '--locale=C', '--no-sync'],
  ]);
  const init = await run(initdb[0], initdb[1], { env: serverEnv, timeoutMs: COMMAND_MS });
  expect(init).toMatchObject({ code: 0 });

  pgPort = await freePort();
  const postgres = as(user, [
    path.join(bin, 'postgres'),
    ...['-D', dataDir, '-p', String(pgPort), '-k', socketDir],
    ...['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=20'],
  ]);
  server = startDaemon('postgres', postgres[0], postgres[1], { env: serverEnv });
  const isReady = path.join(bin, 'pg_isready');
  await waitUntil(
    server,
    async () =>
      (await run(isReady, ['-q', '-h', '127.0.0.1', '-p', String(pgPort)], { timeoutMs: 5_000 }))
        .code === 0,
    { timeoutMs: STARTUP_MS, intervalMs: 200 },
  );

  await sql('CREATE DATABASE registry', 'postgres');
  await sql(SCHEMA);
}, 90_000);

afterAll(async () => {
  await stopDaemon(holder);
  await stopDaemon(server);
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('database backup against PostgreSQL', () => {
  let newest: string;
  let original: any;

  test('writes verified dumps and keeps only the newest RETAIN', async () => {
    // what an earlier run killed by its deadline left, and files an operator put there
    fs.writeFileSync(path.join(backupDir, '.registry-20000101T000000Z.dump.partial'), 'half');
    fs.writeFileSync(path.join(backupDir, 'registry-before-upgrade.dump'), 'kept');
    fs.writeFileSync(path.join(backupDir, 'notes.txt'), 'kept');
    const written: string[] = [];

    for (let i = 1; i <= RETAIN + 2; i++) {
      // the last dump carries a change the earlier ones lack, so restoring it is provable
      if (i === RETAIN + 2) await sql("INSERT INTO project (owner_id, name) VALUES (2, 'last')");
      const result = await runBackup();
      expect(result).toMatchObject({ code: 0, stderr: '' });
      written.push(wroteName(result) ?? '');
      expect(dumps()).toHaveLength(Math.min(i, RETAIN));
    }
    newest = written[written.length - 1];
    original = await state();

    expect(written.every((name) => DUMP_NAME.test(name))).toBe(true);
    expect(new Set(written).size).toBe(written.length);
    expect(dumps()).toEqual(written.slice(-RETAIN));
    expect(fs.readdirSync(backupDir).sort()).toEqual(
      ['notes.txt', 'registry-before-upgrade.dump', ...written.slice(-RETAIN)].sort(),
    );
    expect(original.artifact).toHaveLength(270);
    expect(original.project.map((p: any) => p.name)).toContain('last');
    expect(original.foreignKeys).toHaveLength(3);
  });

  test('never prints the password', () => {
    expect(outputs.join('\n')).not.toContain(password);
  });

  test('never counts a dump that pg_restore cannot read back', async () => {
    // a pg_dump that stops halfway but exits 0, as a full volume under some NFS clients does
    const shim = makeDir(path.join(workDir, 'shim'), user, 0o755);
    fs.writeFileSync(
      path.join(shim, 'pg_dump'),
      [
        '#!/bin/sh',
        `"${bin}/pg_dump" "$@" || exit`,
        'for arg; do case "$arg" in --file=*) file="${arg#--file=}" ;; esac; done',
        'size=$(wc -c <"$file")',
        'head -c "$((size / 2))" "$file" >"$file.cut" && mv "$file.cut" "$file"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const before = dumps();

    const result = await runBackup({}, shim);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('pg_restore cannot read back');
    expect(dumps()).toEqual(before);
    expect(fs.readdirSync(backupDir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  test('gives up on a server that does not answer, within its bound', async () => {
    const closed = await freePort();
    const before = dumps();
    const started = Date.now();

    const result = await runBackup({ PGPORT: String(closed), READY_TIMEOUT_SECONDS: '2' });

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`127.0.0.1:${closed} does not accept connections after 2s`);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(dumps()).toEqual(before);
  });

  test('refuses a dump that does not exist, listing the dumps there are', async () => {
    const result = await runRestore('registry-19990101T000000Z.dump');

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('registry-19990101T000000Z.dump does not exist');
    expect(result.stderr).toContain(newest);
    const empty = makeDir(path.join(workDir, 'empty'), user);
    const none = await runRestore('latest', { BACKUP_DIR: empty });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain(`no dump of registry in ${empty}`);
    expect(await state()).toEqual(original);
  });

  test('refuses to restore while another session uses the database', async () => {
    const psqlBin = path.join(bin, 'psql');
    const args = ['-X', '-h', '127.0.0.1', '-p', String(pgPort), '-U', 'postgres', '-d'];
    holder = startDaemon('psql', psqlBin, [...args, 'registry', '-c', 'SELECT pg_sleep(60)'], {
      env: { PGPASSWORD: password, HOME: workDir, PATH: process.env.PATH },
    });
    await waitUntil(
      holder,
      async () =>
        (await sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'")) ===
        '1',
      { timeoutMs: 10_000 },
    );

    const result = await runRestore(newest, { QUIET_TIMEOUT_SECONDS: '2' });
    await stopDaemon(holder);
    // the server notices a vanished client only when the sleep ends; end the session now
    await sql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'",
    );

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('1 other sessions still use registry after 2s');
    expect(result.stderr).toContain('scale Harbor core and jobservice to 0 replicas first');
  });

  test('changes nothing when a restore fails halfway', async () => {
    await sql(`
      DELETE FROM artifact WHERE repository_id < 10;
      UPDATE repository SET description = 'damaged';
      DROP TABLE project_metadata;
      SELECT setval('artifact_id_seq', 1);
      SELECT setval('audit_log_id_seq', 1);
    `);
    const damaged = await state();
    const dump = fs.readFileSync(path.join(backupDir, newest));
    const cut = 'registry-truncated.dump';
    fs.writeFileSync(path.join(backupDir, cut), dump.subarray(0, Math.floor(dump.length * 0.6)));
    if (user) fs.chownSync(path.join(backupDir, cut), user.uid, user.gid);

    const result = await runRestore(cut);
    fs.rmSync(path.join(backupDir, cut));

    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain(`restoring ${cut} into database registry`);
    expect(result.stderr).toContain('its transaction was rolled back and registry is unchanged');
    expect(damaged.project_metadata).toBeNull();
    expect(await state()).toEqual(damaged);
  });

  test('restores every row, sequence, view and foreign key of the newest dump', async () => {
    const result = await runRestore('latest', { QUIET_TIMEOUT_SECONDS: '10' });

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`restored ${newest} into registry`);
    expect(await state()).toEqual(original);
    // the sequence continues after the highest id instead of colliding with it
    const insert = "INSERT INTO artifact (repository_id, digest, media_type) VALUES (1, 'x', 'y')";
    expect(await sql(`${insert} RETURNING id`)).toBe('301');
    const orphan = await psql(
      "INSERT INTO artifact (repository_id, digest, media_type) VALUES (99999, 'z', 'y')",
    );
    expect(orphan.code).not.toBe(0);
    expect(orphan.stderr).toContain('violates foreign key constraint');
    expect(await sql("SELECT nextval('audit_log_id_seq')")).toBe('4243');
  });
});
