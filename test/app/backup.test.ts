import { find, ofKind, synthApp } from '../support/synth';

describe('the database backup', () => {
  test('dumps nightly to a ReadWriteMany claim on the NFS class by default', () => {
    const { objects } = synthApp();

    const cronJob = find(objects, 'CronJob', 'harbor-database-backup');
    const claim = find(objects, 'PersistentVolumeClaim', 'harbor-database-backup');
    const env = cronJob.spec.jobTemplate.spec.template.spec.containers[0].env;

    expect(cronJob.spec).toMatchObject({ schedule: '30 2 * * *', concurrencyPolicy: 'Forbid' });
    expect(claim.spec).toMatchObject({
      storageClassName: 'nfs-csi',
      accessModes: ['ReadWriteMany'],
    });
    expect(env).toEqual(
      expect.arrayContaining([
        { name: 'PGHOST', value: 'harbor-database' },
        { name: 'RETAIN', value: '14' },
        {
          name: 'PGPASSWORD',
          valueFrom: { secretKeyRef: { name: 'harbor-database-password', key: 'password' } },
        },
      ]),
    );
  });

  test('dumps an external database with its own credentials', () => {
    const { objects } = synthApp({
      database: {
        type: 'external',
        host: 'pg.example.test',
        username: 'harbor',
        password: { name: 'pg', key: 'password' },
      },
    });

    const env = find(objects, 'CronJob', 'harbor-database-backup').spec.jobTemplate.spec.template
      .spec.containers[0].env;
    expect(env).toEqual(
      expect.arrayContaining([
        { name: 'PGHOST', value: 'pg.example.test' },
        { name: 'PGUSER', value: 'harbor' },
      ]),
    );
  });

  test('asks no chgrp of a squashed root, like the registry (field failure #41)', () => {
    const podOf = (objects: any[]) =>
      find(objects, 'CronJob', 'harbor-database-backup').spec.jobTemplate.spec.template.spec;

    expect(podOf(synthApp().objects).securityContext.fsGroup).toBeUndefined();
    expect(
      podOf(synthApp({ nfs: { export: { squash: 'no_root_squash' } } }).objects).securityContext
        .fsGroup,
    ).toBe(999);
  });

  test('can be turned off', () => {
    expect(ofKind(synthApp({ backup: { enabled: false } }).objects, 'CronJob')).toEqual([]);
  });

  test('names a wrong schedule or retention under backup', () => {
    expect(() => synthApp({ backup: { schedule: 'nightly', retain: 0 } })).toThrow(
      /backup\.schedule: "nightly"[\s\S]*backup\.retain: 0/,
    );
  });
});
