import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { DatabaseBackupOptions, HarborDatabaseBackup, cronSchedule } from '../../lib/harbor/backup';
import { DatabaseConnection } from '../../lib/harbor/common';
import { DatabaseSslMode } from '../../lib/harbor/database';
import { HarborImages } from '../../lib/harbor/images';
import { AccessMode } from '../../lib/harbor/persistence';
import { expectValidObjects } from '../support/schema';
import { K8sObject, containerOf, envOf, find, mountAt } from '../support/synth';

const SCRIPTS = path.join(__dirname, '..', '..', 'lib', 'harbor', 'scripts');

const internal: DatabaseConnection = {
  host: 'harbor-database',
  port: 5432,
  database: 'registry',
  username: 'postgres',
  sslMode: DatabaseSslMode.DISABLE,
  password: { name: 'harbor-database-password', key: 'password' },
  maxOpenConnections: 900,
  maxIdleConnections: 100,
};

interface Built {
  readonly backup: HarborDatabaseBackup;
  readonly objects: K8sObject[];
}

function build(
  options: Partial<DatabaseBackupOptions> = {},
  connection: DatabaseConnection = internal,
): Built {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'harbor' });
  const backup = new HarborDatabaseBackup(chart, 'Backup', {
    instance: 'harbor',
    images: new HarborImages(),
    connection,
    storage: { storageClassName: 'nfs-csi', size: '20Gi' },
    ...options,
  });
  const objects = chart.toJson();
  expectValidObjects(objects);
  return { backup, objects };
}

const cronJobOf = (objects: K8sObject[]) => find(objects, 'CronJob', 'harbor-database-backup');
const podOf = (cronJob: K8sObject) => cronJob.spec.jobTemplate.spec.template;

/** Mimics the synth helpers' `mountAt` for a CronJob's deeper pod template. */
function mountIn(cronJob: K8sObject, mountPath: string) {
  const asWorkload = { spec: { template: podOf(cronJob) } };
  return mountAt(asWorkload, containerOf(asWorkload, 'backup'), mountPath);
}

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('HarborDatabaseBackup', () => {
  test('runs nightly at 02:30 UTC, never two at once, within bounded retries', () => {
    const { objects } = build();

    const spec = cronJobOf(objects).spec;

    expect(spec).toMatchObject({
      schedule: '30 2 * * *',
      timeZone: 'Etc/UTC',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 3600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      suspend: false,
    });
    expect(spec.jobTemplate.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 10800 });
    expect(podOf(cronJobOf(objects)).spec.restartPolicy).toBe('Never');
  });

  test('takes a schedule, time zone and retention', () => {
    const { objects } = build({
      schedule: '0  */6 * *  MON-FRI',
      timeZone: 'Europe/Berlin',
      retain: 30,
    });

    const cronJob = cronJobOf(objects);

    expect(cronJob.spec.schedule).toBe('0 */6 * * MON-FRI');
    expect(cronJob.spec.timeZone).toBe('Europe/Berlin');
    expect(envOf(containerOf({ spec: { template: podOf(cronJob) } }, 'backup'), 'RETAIN')).toBe(
      '30',
    );
  });

  test('runs the backup script of the database image as postgres (uid 999), restricted', () => {
    const { objects } = build();

    const pod = podOf(cronJobOf(objects)).spec;
    const container = pod.containers[0];

    expect(container.image).toBe('docker.io/goharbor/harbor-db:v2.15.2');
    expect(container.command).toEqual(['/bin/sh', '/scripts/backup-database.sh']);
    expect(pod.securityContext).toMatchObject({
      runAsUser: 999,
      runAsGroup: 999,
      runAsNonRoot: true,
      fsGroup: 999,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toMatchObject({
      runAsUser: 999,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(podOf(cronJobOf(objects)).metadata.labels).toEqual(cronJobOf(objects).metadata.labels);
  });

  test('hands libpq the connection, with the password from the Secret', () => {
    const { objects } = build();

    const container = containerOf({ spec: { template: podOf(cronJobOf(objects)) } }, 'backup');

    expect(envOf(container, 'PGHOST')).toBe('harbor-database');
    expect(envOf(container, 'PGPORT')).toBe('5432');
    expect(envOf(container, 'PGDATABASE')).toBe('registry');
    expect(envOf(container, 'PGUSER')).toBe('postgres');
    expect(envOf(container, 'PGSSLMODE')).toBe('disable');
    expect(envOf(container, 'PGPASSWORD')).toEqual({
      name: 'harbor-database-password',
      key: 'password',
    });
    expect(envOf(container, 'BACKUP_DIR')).toBe('/backup');
    expect(envOf(container, 'RETAIN')).toBe('14');
    expect(JSON.stringify(objects)).not.toMatch(/password=|:\/\/[^/]*:[^@]*@/);
  });

  test('keeps the dumps on a ReadWriteMany claim of the given class, mounted at /backup', () => {
    const { objects } = build();

    const claim = find(objects, 'PersistentVolumeClaim', 'harbor-database-backup');

    expect(claim.spec).toMatchObject({
      storageClassName: 'nfs-csi',
      accessModes: ['ReadWriteMany'],
      resources: { requests: { storage: '20Gi' } },
    });
    expect(claim.metadata.annotations['argocd.argoproj.io/sync-options']).toBe(
      'Prune=false,Delete=false',
    );
    expect(mountIn(cronJobOf(objects), '/backup')?.volume.persistentVolumeClaim.claimName).toBe(
      'harbor-database-backup',
    );
  });

  test('keeps an access mode that is given, and leaves fsGroup off when asked', () => {
    const { objects } = build({
      storage: {
        storageClassName: 'local',
        size: '5Gi',
        accessMode: AccessMode.READ_WRITE_ONCE,
        fsGroup: false,
      },
    });

    const claim = find(objects, 'PersistentVolumeClaim', 'harbor-database-backup');

    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(podOf(cronJobOf(objects)).spec.securityContext.fsGroup).toBeUndefined();
  });

  test('ships both scripts unchanged, in a ConfigMap named by their content', () => {
    const { objects } = build();

    const mounted = mountIn(cronJobOf(objects), '/scripts');
    const configMap = find(objects, 'ConfigMap', mounted?.volume.configMap.name);

    expect(configMap.metadata.name).toMatch(/^harbor-database-backup-scripts-[0-9a-f]{8}$/);
    expect(mounted?.mount.readOnly).toBe(true);
    for (const script of ['backup-database.sh', 'restore-database.sh']) {
      expect(configMap.data[script]).toBe(fs.readFileSync(path.join(SCRIPTS, script), 'utf8'));
    }
  });

  test('ships scripts that pass shellcheck as POSIX sh', () => {
    const scripts = ['backup-database.sh', 'restore-database.sh'].map((s) => path.join(SCRIPTS, s));

    // shellcheck exits non-zero and prints each finding when a script has one
    expect(() =>
      execFileSync('shellcheck', ['--severity=style', '--shell=sh', ...scripts], {
        encoding: 'utf-8',
      }),
    ).not.toThrow();
  });

  test('mounts a CA bundle for an external server that is verified', () => {
    const external = {
      ...internal,
      host: 'pg.example.test',
      sslMode: DatabaseSslMode.VERIFY_FULL,
      password: { name: 'harbor-db', key: 'pw' },
    };
    const { objects } = build({ caBundle: { name: 'db-ca', key: 'ca.crt' } }, external);

    const cronJob = cronJobOf(objects);
    const container = containerOf({ spec: { template: podOf(cronJob) } }, 'backup');

    expect(envOf(container, 'PGSSLMODE')).toBe('verify-full');
    expect(envOf(container, 'PGSSLROOTCERT')).toBe('/etc/database-backup/ca.crt');
    expect(mountIn(cronJob, '/etc/database-backup/ca.crt')?.volume.secret).toMatchObject({
      secretName: 'db-ca',
      items: [{ key: 'ca.crt', path: 'ca.crt' }],
    });
  });

  test('describes a restore Job with the same image, environment and claim', () => {
    const { backup, objects } = build();

    const job = backup.restoreJob('registry-20250102T023000Z.dump');
    const backupContainer = podOf(cronJobOf(objects)).spec.containers[0];
    const container = job.spec.template.spec.containers[0];

    expectValidObjects([job]);
    expect(job.metadata).toMatchObject({ name: 'harbor-database-restore', namespace: 'harbor' });
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 21600 });
    expect(container.command).toEqual([
      '/bin/sh',
      '/scripts/restore-database.sh',
      'registry-20250102T023000Z.dump',
    ]);
    expect(container.image).toBe(backupContainer.image);
    const sameEnv = (env: K8sObject[]) =>
      env.filter((e) => !['PGAPPNAME', 'RETAIN'].includes(e.name));
    expect(sameEnv(container.env)).toEqual(sameEnv(backupContainer.env));
    expect(envOf(container, 'PGAPPNAME')).toBe('harbor-database-restore');
    expect(envOf(container, 'RETAIN')).toBeUndefined();
    expect(container.volumeMounts).toEqual(backupContainer.volumeMounts);
    expect(container.securityContext).toEqual(backupContainer.securityContext);
    expect(job.spec.template.spec.volumes).toEqual(podOf(cronJobOf(objects)).spec.volumes);
    expect(job.spec.template.metadata.labels['app.kubernetes.io/component']).toBe(
      'database-restore',
    );
    // the Job is printed on demand; the chart must never run a restore by itself
    expect(objects.filter((o) => o.kind === 'Job')).toEqual([]);
  });

  test('restores the newest dump by name latest, and names what to stop', () => {
    const { backup } = build();

    expect(backup.restoreJob('latest').spec.template.spec.containers[0].command[2]).toBe('latest');
    expect(backup.writers).toEqual(['harbor-core', 'harbor-jobservice', 'harbor-registry']);
  });

  test('refuses a dump name that is a path or an option', () => {
    const { backup } = build();

    for (const dump of ['../etc/passwd', '/backup/x.dump', '--clean', 'registry.sql', '']) {
      expect(errorOf(() => backup.restoreJob(dump))).toMatch(/^dump: .* is not a dump file name/);
    }
  });

  test.each([
    ['a word', 'daily'],
    ['six fields', '0 30 2 * * *'],
    ['four fields', '30 2 * *'],
    ['a macro', '@daily'],
    ['an hour of 24', '0 24 * * *'],
    ['a minute of 60', '60 2 * * *'],
    ['a day of month 0', '0 2 0 * *'],
    ['a backwards range', '0 5-2 * * *'],
    ['a step of 0', '*/0 * * * *'],
    ['a day of week 7', '0 2 * * 7'],
    ['a time zone prefix', 'CRON_TZ=UTC 0 2 * * *'],
    ['a ? in the hour', '0 ? * * *'],
  ])('throws for a schedule with %s', (_, schedule) => {
    const message = errorOf(() => build({ schedule }));

    expect(message).toContain('invalid database backup');
    expect(message).toContain(`schedule: ${JSON.stringify(schedule)}`);
  });

  test.each([
    '30 2 * * *',
    '*/15 * * * *',
    '0 1-5/2 1,15 * ?',
    '0 3 * JAN-MAR sun',
    '5 4 ? * 1-5',
    '0 0 31 12 6',
  ])('accepts the schedule %s', (schedule) => {
    expect(cronSchedule(schedule)).toBeUndefined();
  });

  test('reports every problem at once, naming the prop and the value', () => {
    const message = errorOf(() =>
      build({
        schedule: '0 25 * * *',
        retain: 0,
        timeZone: 'Mars/Olympus',
        storage: { storageClassName: 'NFS', size: '20GB' },
      }),
    );

    expect(message).toContain('schedule: "0 25 * * *" has "25" as its hour');
    expect(message).toContain('retain: 0 is not a number of dumps to keep; use a whole number');
    expect(message).toContain('timeZone: "Mars/Olympus" is not an IANA time zone');
    expect(message).toContain('storage.storageClassName: "NFS"');
    expect(message).toContain('storage.size: "20GB"');
  });

  test.each([366, 1.5, -1])('throws for retain %s', (retain) => {
    expect(errorOf(() => build({ retain }))).toContain(`retain: ${retain} is not a number`);
  });

  test('throws for the controller-local time zone', () => {
    expect(errorOf(() => build({ timeZone: 'Local' }))).toContain(
      `timeZone: "Local" is the controller's own zone`,
    );
  });

  test('throws when a verified connection has no CA bundle', () => {
    const message = errorOf(() => build({}, { ...internal, sslMode: DatabaseSslMode.VERIFY_CA }));

    expect(message).toContain('caBundle: is not set, but connection.sslMode "verify-ca"');
  });

  test('throws for a database name that cannot name a file', () => {
    expect(errorOf(() => build({}, { ...internal, database: '../registry' }))).toContain(
      'connection.database: "../registry" cannot name a dump file',
    );
  });

  test('throws when the instance name makes the CronJob name too long', () => {
    const chart = new Chart(Testing.app(), 'test', { namespace: 'harbor' });

    const message = errorOf(
      () =>
        new HarborDatabaseBackup(chart, 'Backup', {
          instance: 'a'.repeat(40),
          images: new HarborImages(),
          connection: internal,
          storage: { storageClassName: 'nfs-csi', size: '20Gi' },
        }),
    );

    expect(message).toContain('longer than 52 characters');
  });
});
