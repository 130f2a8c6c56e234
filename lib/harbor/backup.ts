import { createHash } from 'crypto';
import { ApiObject, Cron, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { CaBundleRef, DatabaseConnection, keyFileVolume, secretEnv } from './common';
import { DatabaseSslMode } from './database';
import { HarborImages } from './images';
import { AccessMode, PersistenceProps, checkPersistence, dataClaim } from './persistence';
import { ComponentResources, checkResources, resourcesOf } from './resources';
import { readAsset } from '../private/assets';
import { Component, harborContainer, labelsOf } from '../private/component';
import { Check, port } from '../private/checks';
import { podSecurity } from '../private/workload';
import { Problems, show } from '../private/validation';

/** What a user chooses about database backups; the rest comes from the Harbor instance. */
export interface DatabaseBackupOptions {
  /**
   * Where the dumps are kept: a claim on a shared (NFS) class, so that the dumps live apart
   * from the database's own block volume. The access mode defaults to ReadWriteMany here, not
   * to the ReadWriteOnce other components default to, so that a restore pod can mount the
   * claim on any node, even while a backup pod holds it.
   */
  readonly storage: PersistenceProps;

  /**
   * When to dump, as five cron fields: minute, hour, day of month, month, day of week.
   * @default '30 2 * * *'
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#schedule-syntax
   */
  readonly schedule?: string;

  /**
   * How many dumps to keep; each run removes the oldest beyond this count. From 1 to 365.
   * @default 14
   */
  readonly retain?: number;

  /**
   * The IANA time zone `schedule` is read in.
   * @default 'Etc/UTC'
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones
   */
  readonly timeZone?: string;

  /**
   * A Secret key with the PEM CA certificates that signed the database server's certificate.
   * Needed when `connection.sslMode` is `verify-ca` or `verify-full`: libpq checks the server
   * against this file and knows no other trust store.
   * @default - no CA file; only `disable` and `require` work
   */
  readonly caBundle?: CaBundleRef;

  /** @default - 50m CPU, 128Mi memory, limited to 1Gi */
  readonly resources?: ComponentResources;
}

export interface HarborDatabaseBackupProps extends DatabaseBackupOptions {
  /** Name of the Harbor instance; every object's name starts with it. */
  readonly instance: string;
  /** The `database` image provides the PostgreSQL client tools of the internal server. */
  readonly images: HarborImages;
  /** The database to dump: the internal one's connection, or an external one's. */
  readonly connection: DatabaseConnection;
}

/** The harbor-db image's `postgres` user. */
const POSTGRES_UID = 999;
const BACKUP_DIR = '/backup';
const SCRIPTS_DIR = '/scripts';
const CA_FILE = '/etc/database-backup/ca.crt';
/** Kubernetes appends an 11-character suffix to a CronJob's name for each Job. */
const MAX_CRONJOB_NAME = 52;
const RESTORE_DEADLINE = Duration.hours(6);

/**
 * Nightly `pg_dump` of Harbor's database onto a volume of its own, with a fixed number kept.
 *
 * A CronJob runs `backup-database.sh` from the `harbor-db` image as uid 999, so the dump tool
 * is the internal server's own PostgreSQL release; an external server must not be of a newer
 * major version than that image's client tools. The script waits for the server, writes a
 * custom-format dump under a temporary name, reads it back to its end with `pg_restore`,
 * renames it to `<database>-<UTC time>.dump` (e.g. `registry-20250102T023000Z.dump`) and then
 * removes the oldest dumps beyond `retain`; files named otherwise are never removed. The
 * password reaches libpq through `PGPASSWORD` from the Secret and is never printed. Each run's
 * log names the dump it wrote.
 *
 * Only the database is backed up. Image blobs stay on the registry volume, and the Secrets
 * must be kept apart from the dumps: above all `secretKey`, which encrypts the credentials
 * stored in the database, so that a restored database is of little use without it.
 *
 * Restoring, in the namespace of the Harbor instance (`harbor` and instance `harbor` here):
 *
 * 1. If Argo CD or another tool syncs the manifests automatically, pause it first; it would
 *    scale the workloads straight back up.
 * 2. Stop everything that writes to the database or the registry (`writers`):
 *    `kubectl -n harbor scale deployment harbor-core harbor-jobservice harbor-registry
 *    --replicas=0`.
 * 3. Print the Job that `restoreJob('<dump>')` returns as YAML (or `restoreJob('latest')` for
 *    the newest dump), create it and follow it:
 *    `kubectl create -f restore-job.yaml`, then
 *    `kubectl -n harbor logs -f job/harbor-database-restore --pod-running-timeout=5m` and
 *    `kubectl -n harbor get job harbor-database-restore` (Complete, or Failed).
 *    The Job runs `restore-database.sh` from the same image, with the same environment and the
 *    same claim as the backup. It waits up to five minutes for the last sessions of core and
 *    jobservice to end, then restores in one transaction with `pg_restore --clean --if-exists
 *    --no-owner`: either every object in the dump is replaced, or nothing changes. It never
 *    retries by itself. A missing dump file fails it with a list of the dumps there are.
 * 4. Delete the Job (`kubectl -n harbor delete job harbor-database-restore`), then re-apply the
 *    manifests or resume the sync, which scales the workloads back to their declared replicas.
 *
 * Restore a dump with the Harbor version that wrote it: core migrates the schema at start,
 * and the restore leaves in place any object that a newer version added and the dump lacks.
 */
export class HarborDatabaseBackup extends Construct {
  /** The command a pod runs to restore one dump: a file name in the claim, or `latest`. */
  public static restoreCommand(dump: string): string[] {
    checkDumpName(dump);
    return ['/bin/sh', `${SCRIPTS_DIR}/restore-database.sh`, dump];
  }

  public readonly cronJob: kplus.CronJob;
  public readonly claim: kplus.PersistentVolumeClaim;
  /** The ConfigMap with both scripts; its name changes with their content. */
  public readonly scripts: kplus.ConfigMap;
  /** The Deployments to scale to zero before a restore, and back afterwards. */
  public readonly writers: readonly string[];

  private readonly instance: string;
  private readonly labels: Record<string, string>;

  public constructor(scope: Construct, id: string, props: HarborDatabaseBackupProps) {
    super(scope, id);

    const problems = new Problems();
    checkDatabaseBackup(problems, '', props);
    checkConnection(problems, props.connection, props.caBundle);
    const name = `${props.instance}-database-backup`;
    problems.check(
      name.length <= MAX_CRONJOB_NAME,
      'instance',
      `${show(props.instance)} makes the CronJob name ${show(name)} longer than` +
        ` ${MAX_CRONJOB_NAME} characters, which Kubernetes refuses; use a shorter instance name`,
    );
    problems.throwIfAny('database backup');

    const schedule = props.schedule ?? '30 2 * * *';
    const storage: PersistenceProps = {
      ...props.storage,
      accessMode: props.storage.accessMode ?? AccessMode.READ_WRITE_MANY,
    };
    const component: Component = {
      instance: props.instance,
      component: 'database-backup',
      version: props.images.version,
      uid: POSTGRES_UID,
      fsGroup: storage.fsGroup ?? true,
    };
    this.instance = props.instance;
    this.labels = labelsOf(component);
    this.writers = ['core', 'jobservice', 'registry'].map((c) => `${props.instance}-${c}`);

    this.claim = dataClaim(this, name, this.labels, storage, 'storage');
    const backupScript = readAsset('lib/harbor/scripts/backup-database.sh');
    const restoreScript = readAsset('lib/harbor/scripts/restore-database.sh');
    // a new name for new content: pods started from the old CronJob keep the scripts they had
    const digest = createHash('sha256')
      .update(backupScript)
      .update(restoreScript)
      .digest('hex')
      .slice(0, 8);
    this.scripts = new kplus.ConfigMap(this, 'Scripts', {
      metadata: { name: `${name}-scripts-${digest}`, labels: this.labels },
      data: { 'backup-database.sh': backupScript, 'restore-database.sh': restoreScript },
    });

    const [minute, hour, day, month, weekDay] = schedule.trim().split(/\s+/);
    this.cronJob = new kplus.CronJob(this, 'Resource', {
      metadata: { name, labels: this.labels },
      podMetadata: { labels: this.labels },
      schedule: Cron.schedule({ minute, hour, day, month, weekDay }),
      timeZone: props.timeZone ?? 'Etc/UTC',
      concurrencyPolicy: kplus.ConcurrencyPolicy.FORBID,
      // a controller that was down at the scheduled time still runs the backup within the hour
      startingDeadline: Duration.hours(1),
      successfulJobsRetained: 3,
      failedJobsRetained: 3,
      backoffLimit: 2,
      activeDeadline: Duration.hours(3),
      automountServiceAccountToken: false,
      securityContext: podSecurity(POSTGRES_UID, POSTGRES_UID, component.fsGroup),
      containers: [this.container(component, props, props.retain ?? 14)],
    });
    restrictCronJob(this.cronJob);
  }

  /**
   * A one-off Job that restores `dump` (a file name from a backup's log, or `latest`) with the
   * backup's image, environment and claim. It is not part of the synthesized manifests: print
   * it as YAML and `kubectl create` it when a restore is wanted; see the class documentation.
   */
  public restoreJob(dump: string): Record<string, any> {
    const command = HarborDatabaseBackup.restoreCommand(dump);
    const cronJob = ApiObject.of(this.cronJob).toJson();
    const template = structuredClone(cronJob.spec.jobTemplate.spec.template);
    const name = `${this.instance}-database-restore`;
    const labels = () => ({ ...this.labels, 'app.kubernetes.io/component': 'database-restore' });
    const container = template.spec.containers[0];
    template.metadata = { ...template.metadata, labels: labels() };
    template.spec.containers[0] = {
      ...container,
      name: 'restore',
      command,
      env: container.env
        .filter((e: any) => e.name !== 'RETAIN')
        .map((e: any) => (e.name === 'PGAPPNAME' ? { name: e.name, value: name } : e)),
    };

    const metadata: Record<string, any> = { name, labels: labels() };
    if (cronJob.metadata.namespace) metadata.namespace = cronJob.metadata.namespace;
    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata,
      spec: {
        // one transaction: a failed restore changed nothing, and retrying would fail alike
        backoffLimit: 0,
        activeDeadlineSeconds: RESTORE_DEADLINE.toSeconds(),
        template,
      },
    };
  }

  private container(
    component: Component,
    props: HarborDatabaseBackupProps,
    retain: number,
  ): kplus.ContainerProps {
    const connection = props.connection;
    const value = (v: string | number) => kplus.EnvValue.fromValue(String(v));
    const env: Record<string, kplus.EnvValue> = {
      PGHOST: value(connection.host),
      PGPORT: value(connection.port),
      PGDATABASE: value(connection.database),
      PGUSER: value(connection.username),
      PGSSLMODE: value(connection.sslMode),
      PGPASSWORD: secretEnv(this, connection.password),
      PGCONNECT_TIMEOUT: value(10),
      PGAPPNAME: value('harbor-database-backup'),
      BACKUP_DIR: value(BACKUP_DIR),
      RETAIN: value(retain),
    };
    const data = kplus.Volume.fromPersistentVolumeClaim(this, 'Data', this.claim, {
      name: 'backup',
    });
    const scripts = kplus.Volume.fromConfigMap(this, 'ScriptsVolume', this.scripts, {
      name: 'scripts',
    });
    const mounts: kplus.VolumeMount[] = [
      { volume: data, path: BACKUP_DIR },
      { volume: scripts, path: SCRIPTS_DIR, readOnly: true },
    ];
    if (props.caBundle) {
      env.PGSSLROOTCERT = value(CA_FILE);
      const ca = keyFileVolume(this, 'database-ca', props.caBundle, 'ca.crt');
      mounts.push({ volume: ca, path: CA_FILE, subPath: 'ca.crt', readOnly: true });
    }

    return harborContainer(component, {
      name: 'backup',
      image: props.images.database,
      command: ['/bin/sh', `${SCRIPTS_DIR}/backup-database.sh`],
      resources: resourcesOf(
        props.resources ?? { cpu: '50m', memory: '128Mi', memoryLimit: '1Gi' },
      ),
      envVariables: env,
      volumeMounts: mounts,
    });
  }
}

/** Records what is wrong with the backup options, under `field` (empty for the props). */
export function checkDatabaseBackup(
  problems: Problems,
  field: string,
  options: DatabaseBackupOptions,
): void {
  const at = (name: string) => (field ? `${field}.${name}` : name);
  problems.value(at('schedule'), options.schedule, cronSchedule);
  problems.value(at('retain'), options.retain, (n: number) =>
    Number.isInteger(n) && n >= 1 && n <= 365
      ? undefined
      : 'is not a number of dumps to keep; use a whole number from 1 to 365',
  );
  problems.value(at('timeZone'), options.timeZone, timeZone);
  checkPersistence(problems, at('storage'), options.storage);
  checkResources(problems, at('resources'), options.resources);
}

function checkConnection(
  problems: Problems,
  connection: DatabaseConnection,
  caBundle: CaBundleRef | undefined,
): void {
  problems.value('connection.port', connection.port, port);
  problems.value('connection.database', connection.database, dumpBase);
  problems.check(
    !VERIFIES.includes(connection.sslMode) || caBundle !== undefined,
    'caBundle',
    `is not set, but connection.sslMode ${show(connection.sslMode)} checks the server's` +
      ' certificate against a CA file; give the CA bundle or use sslMode "require"',
  );
}

const VERIFIES = [DatabaseSslMode.VERIFY_CA, DatabaseSslMode.VERIFY_FULL] as string[];

const dumpBase = (name: string) =>
  /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/.test(name)
    ? undefined
    : "cannot name a dump file; use letters, digits, '_', '.' and '-'";

/**
 * Records, under `field`, what an external database's settings contradict in its backup: a
 * name the dump files cannot carry, and a certificate check without a CA to check against.
 */
export function checkBackupSource(
  problems: Problems,
  field: string,
  options: { readonly database?: string; readonly sslMode?: string },
  caBundle: CaBundleRef | undefined,
): void {
  problems.value(`${field}.database`, options.database, dumpBase);
  problems.check(
    !VERIFIES.includes(options.sslMode ?? '') || caBundle !== undefined,
    `${field}.sslMode`,
    `${show(options.sslMode)} checks the server's certificate, and the backup Job has no CA` +
      ' file to check it against; set caBundle (or keep trust on), or use sslMode "require"',
  );
}

function checkDumpName(dump: string): void {
  if (dump === 'latest' || /^[A-Za-z0-9_][A-Za-z0-9_.-]*\.dump$/.test(dump)) return;
  throw new Error(
    `dump: ${show(dump)} is not a dump file name; give a name from a backup's log, such as` +
      ' "registry-20250102T023000Z.dump", or "latest"',
  );
}

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Three-letter names, for the value `min` onwards. */
  readonly names?: readonly string[];
  /** Accepts `?`, as Kubernetes's parser does for the day fields. */
  readonly any?: boolean;
}

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31, any: true },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  {
    name: 'day of week',
    min: 0,
    max: 6,
    names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
    any: true,
  },
];

/** A five-field cron schedule as the CronJob controller parses it. */
export const cronSchedule: Check<string> = (value) => {
  const fields = value.trim().split(/\s+/);
  if (fields.length !== 5 || fields[0] === '') {
    return (
      'is not a cron schedule of five fields (minute, hour, day of month, month, day of' +
      ' week); use e.g. "30 2 * * *" for 02:30 every day'
    );
  }
  for (const [i, text] of fields.entries()) {
    const field = CRON_FIELDS[i];
    const problem = text
      .split(',')
      .map((item) => cronItem(item, field))
      .find((p) => p);
    if (problem) {
      return `has ${show(text)} as its ${field.name}, where ${problem}`;
    }
  }
  return undefined;
};

function cronItem(item: string, field: CronField): string | undefined {
  const allowed = `use ${field.min}-${field.max}, ranges, lists and steps like "*/15"`;
  const match = /^([^/]+)(?:\/(\d+))?$/.exec(item);
  if (!match) return allowed;
  const [, range, step] = match;
  if (step !== undefined && Number(step) < 1) return 'a step must be at least 1';
  if (range === '*' || (range === '?' && field.any)) return undefined;

  const bounds = range.split('-');
  if (bounds.length > 2) return allowed;
  const values = bounds.map((bound) => cronValue(bound, field));
  if (values.some((v) => v === undefined)) return allowed;
  const [low, high] = values as number[];
  if (high !== undefined && low > high) return `the range ${range} runs backwards`;
  return undefined;
}

function cronValue(text: string, field: CronField): number | undefined {
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return field.min + named;
  if (!/^\d{1,2}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= field.min && n <= field.max ? n : undefined;
}

/** An IANA zone name the API server can load; `Local` would mean the controller's zone. */
const timeZone: Check<string> = (value) => {
  if (/^local$/i.test(value)) {
    return (
      "is the controller's own zone, which differs between clusters; name a zone like" +
      ' "Etc/UTC"'
    );
  }
  const known =
    /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(value) &&
    (() => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: value });
        return true;
      } catch {
        return false;
      }
    })();
  return known ? undefined : 'is not an IANA time zone; use e.g. "Etc/UTC" or "Europe/Berlin"';
};

/**
 * What `restrictPod` does for the other workloads, at the CronJob's deeper pod template: Pod
 * Security "restricted" wants every capability dropped and the default seccomp profile, and
 * the construct-path label cdk8s-plus adds would change with every code refactoring.
 */
function restrictCronJob(cronJob: kplus.CronJob): void {
  const apiObject = ApiObject.of(cronJob);
  const template = '/spec/jobTemplate/spec/template';
  apiObject.addJsonPatch(JsonPatch.remove(`${template}/metadata/labels/cdk8s.io~1metadata.addr`));
  apiObject.addJsonPatch(
    JsonPatch.add(`${template}/spec/securityContext/seccompProfile`, { type: 'RuntimeDefault' }),
  );
  cronJob.containers.forEach((_, i) =>
    apiObject.addJsonPatch(
      JsonPatch.add(`${template}/spec/containers/${i}/securityContext/capabilities`, {
        drop: ['ALL'],
      }),
    ),
  );
}
