import { parse } from 'yaml';
import { containerOf, envOf, find, mountAt, podSpec, synthApp } from '../support/synth';

describe('HarborRegistry', () => {
  test('owns its NFS volume through fsGroup where the export keeps root (field failure #6)', () => {
    const { objects } = synthApp({ nfs: { export: { squash: 'no_root_squash' } } });

    const registry = find(objects, 'Deployment', 'harbor-registry');

    expect(podSpec(registry).securityContext).toMatchObject({
      runAsUser: 10000,
      runAsGroup: 10000,
      fsGroup: 10000,
      fsGroupChangePolicy: 'OnRootMismatch',
    });
  });

  test('leaves ownership to the export where it squashes root (field failures #6 #41)', () => {
    const { objects } = synthApp();

    const registry = find(objects, 'Deployment', 'harbor-registry');
    const storageClass = find(objects, 'StorageClass', 'nfs-csi');

    // the kubelet's chgrp would run as a squashed root and fail the mount
    expect(podSpec(registry).securityContext.fsGroup).toBeUndefined();
    expect(podSpec(registry).securityContext.runAsUser).toBe(10000);
    expect(storageClass.parameters.mountPermissions).toBe('0777');
  });

  test('keeps fsGroup on a class the app does not manage', () => {
    const { objects } = synthApp({ nfs: { type: 'none' }, nfsStorageClasses: ['nfs-csi'] });

    expect(podSpec(find(objects, 'Deployment', 'harbor-registry')).securityContext.fsGroup).toBe(
      10000,
    );
  });

  test('shares one volume and one config between registry and registryctl', () => {
    const { objects } = synthApp();

    const registry = find(objects, 'Deployment', 'harbor-registry');
    for (const name of ['registry', 'registryctl']) {
      const container = containerOf(registry, name);
      expect(mountAt(registry, container, '/storage')?.volume.persistentVolumeClaim.claimName).toBe(
        'harbor-registry',
      );
      expect(mountAt(registry, container, '/etc/registry/config.yml')?.volume.configMap.name).toBe(
        'harbor-registry',
      );
      expect(envOf(container, 'REGISTRY_HTTP_SECRET')).toEqual({
        name: 'harbor-registry-http-secret',
        key: 'secret',
      });
    }
  });

  test('checks basic auth against the generated htpasswd line', () => {
    const { objects } = synthApp();

    const registry = find(objects, 'Deployment', 'harbor-registry');
    const found = mountAt(registry, containerOf(registry, 'registry'), '/etc/registry/passwd');
    const config = parse(find(objects, 'ConfigMap', 'harbor-registry').data['config.yml']);
    const core = containerOf(find(objects, 'Deployment', 'harbor-core'), 'core');

    expect(config.auth.htpasswd.path).toBe('/etc/registry/passwd');
    expect(found?.volume.secret.secretName).toBe('harbor-registry-credentials');
    expect(envOf(core, 'REGISTRY_CREDENTIAL_PASSWORD')).toEqual({
      name: 'harbor-registry-credentials',
      key: 'REGISTRY_PASSWD',
    });
  });

  test('recreates its pod on a ReadWriteOnce volume and rolls on ReadWriteMany', () => {
    const rwo = synthApp({ registryStorage: { accessMode: 'ReadWriteOnce' } }).objects;
    const rwx = synthApp({ replicas: { registry: 3 } }).objects;

    expect(find(rwo, 'Deployment', 'harbor-registry').spec.strategy.type).toBe('Recreate');
    expect(find(rwx, 'Deployment', 'harbor-registry').spec).toMatchObject({
      replicas: 3,
      strategy: { type: 'RollingUpdate' },
    });
  });

  test('refuses several replicas on a ReadWriteOnce volume', () => {
    expect(() =>
      synthApp({ registryStorage: { accessMode: 'ReadWriteOnce' }, replicas: { registry: 2 } }),
    ).toThrow(/replicas\.registry: 2 replicas share one volume, which needs registryStorage/);
  });

  test('points the layer cache at Redis database 2', () => {
    const config = parse(
      find(synthApp().objects, 'ConfigMap', 'harbor-registry').data['config.yml'],
    );

    expect(config.redis).toMatchObject({ addr: 'harbor-redis:6379', db: 2 });
    expect(config.storage.filesystem.rootdirectory).toBe('/storage');
    expect(config.http.secret).toBeUndefined();
  });

  test('reads an external Redis password from a Secret, never from the config', () => {
    const { objects } = synthApp({
      redis: {
        type: 'external',
        host: 'redis.example.test',
        password: { name: 'redis-auth', key: 'pw' },
      },
    });

    const registry = find(objects, 'Deployment', 'harbor-registry');
    const configText = find(objects, 'ConfigMap', 'harbor-registry').data['config.yml'];

    expect(envOf(containerOf(registry, 'registry'), 'REGISTRY_REDIS_PASSWORD')).toEqual({
      name: 'redis-auth',
      key: 'pw',
    });
    expect(parse(configText).redis.password).toBeUndefined();
  });
});
