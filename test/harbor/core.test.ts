import { CONFIG_DIGEST } from '../../lib/private/component';
import { containerOf, envOf, find, mountAt, synthApp } from '../support/synth';

const digestOf = (objects: any[], name: string) =>
  find(objects, 'Deployment', name).spec.template.metadata.annotations[CONFIG_DIGEST];

describe('HarborCore', () => {
  test('offers every replication and proxy-cache endpoint type', () => {
    const env = find(synthApp().objects, 'ConfigMap', 'harbor-core-env').data;

    expect(env.REPLICATION_ADAPTER_WHITELIST.split(',')).toEqual(
      expect.arrayContaining(['harbor', 'docker-hub', 'docker-registry', 'aws-ecr']),
    );
    expect(env.PERMITTED_REGISTRY_TYPES_FOR_PROXY_CACHE.split(',')).toEqual(
      expect.arrayContaining(['harbor', 'docker-hub', 'github-ghcr']),
    );
  });

  test('reaches the other components through their Services', () => {
    const env = find(synthApp().objects, 'ConfigMap', 'harbor-core-env').data;

    expect(env).toMatchObject({
      CORE_URL: 'http://harbor-core:80',
      JOBSERVICE_URL: 'http://harbor-jobservice',
      REGISTRY_URL: 'http://harbor-registry:5000',
      REGISTRY_CONTROLLER_URL: 'http://harbor-registry:8080',
      PORTAL_URL: 'http://harbor-portal',
      TRIVY_ADAPTER_URL: 'http://harbor-trivy:8080',
      WITH_TRIVY: 'true',
    });
  });

  test('turns the scanner off with Trivy', () => {
    const env = find(
      synthApp({ trivy: { enabled: false } }).objects,
      'ConfigMap',
      'harbor-core-env',
    ).data;

    expect(env.WITH_TRIVY).toBe('false');
    expect(env.TRIVY_ADAPTER_URL).toBeUndefined();
  });

  test('keeps file settings out of its env ConfigMap', () => {
    const { objects } = synthApp();

    const core = find(objects, 'Deployment', 'harbor-core');
    const container = containerOf(core, 'core');

    expect(container.envFrom).toEqual([{ configMapRef: { name: 'harbor-core-env' } }]);
    expect(
      Object.keys(find(objects, 'ConfigMap', 'harbor-core-env').data).every((k) =>
        /^[A-Z_]+$/.test(k),
      ),
    ).toBe(true);
    expect(mountAt(core, container, '/etc/core/app.conf')?.volume.configMap.name).toBe(
      'harbor-core',
    );
  });

  test('reads every shared secret from a Secret reference', () => {
    const core = containerOf(find(synthApp().objects, 'Deployment', 'harbor-core'), 'core');

    expect(envOf(core, 'CORE_SECRET')).toEqual({ name: 'harbor-core-secret', key: 'secret' });
    expect(envOf(core, 'JOBSERVICE_SECRET')).toEqual({
      name: 'harbor-jobservice-secret',
      key: 'secret',
    });
    expect(envOf(core, 'CSRF_KEY')).toEqual({ name: 'harbor-csrf-key', key: 'CSRF_KEY' });
    expect(envOf(core, 'HARBOR_ADMIN_PASSWORD')).toEqual({
      name: 'harbor-admin-password',
      key: 'HARBOR_ADMIN_PASSWORD',
    });
    expect(envOf(core, 'POSTGRESQL_PASSWORD')).toEqual({
      name: 'harbor-database-password',
      key: 'password',
    });
  });

  test('defines the Redis password before the URLs that expand it', () => {
    const { objects } = synthApp({
      redis: {
        type: 'external',
        host: 'redis.example.test',
        port: 6380,
        tls: true,
        password: { name: 'r', key: 'p' },
      },
    });

    const core = containerOf(find(objects, 'Deployment', 'harbor-core'), 'core');
    const names = core.env.map((e: any) => e.name);

    expect(envOf(core, '_REDIS_URL_CORE')).toBe(
      'rediss://:$(HARBOR_REDIS_PASSWORD)@redis.example.test:6380/0?idle_timeout_seconds=30',
    );
    expect(names.indexOf('HARBOR_REDIS_PASSWORD')).toBeLessThan(names.indexOf('_REDIS_URL_CORE'));
    expect(JSON.stringify(find(objects, 'ConfigMap', 'harbor-core-env'))).not.toMatch(/REDIS/);
  });

  test('listens on 8080 as app.conf says', () => {
    const { objects } = synthApp();

    const appConf = find(objects, 'ConfigMap', 'harbor-core').data['app.conf'];
    const service = find(objects, 'Service', 'harbor-core');

    expect(appConf).toMatch(/^httpport = 8080$/m);
    expect(service.spec.ports).toEqual([{ name: 'http-web', port: 80, targetPort: 8080 }]);
  });

  test('rolls its pods when a setting changes, and only then', () => {
    const before = synthApp().objects;
    const same = synthApp().objects;
    const after = synthApp({ logLevel: 'debug' }).objects;

    expect(digestOf(same, 'harbor-core')).toBe(digestOf(before, 'harbor-core'));
    expect(digestOf(after, 'harbor-core')).not.toBe(digestOf(before, 'harbor-core'));
    expect(digestOf(after, 'harbor-registry')).not.toBe(digestOf(before, 'harbor-registry'));
    expect(digestOf(before, 'harbor-core')).toMatch(/^[0-9a-f]{16}$/);
  });
});
