import { parse } from 'yaml';
import { HarborImages } from '../../lib';
import { imagesOf } from '../../lib/app/output';
import { REDIS_PASSWORD_ENV } from '../../lib/harbor/common';
import {
  K8sObject,
  containerOf,
  envOf,
  find,
  harborOnly,
  ofKind,
  podSpec,
  synthApp,
} from '../support/synth';

const METRICS = { metrics: { enabled: true } };
const EXTERNAL_REDIS = {
  redis: {
    type: 'external',
    host: 'redis.example.test',
    username: 'harbor',
    password: { name: 'redis-auth', key: 'password' },
  },
};

/** Every setting the exporter reads (viper, prefix HARBOR_), as its main.go lists them. */
const EXPORTER_KEYS = [
  'HARBOR_DATABASE_HOST',
  'HARBOR_DATABASE_PORT',
  'HARBOR_DATABASE_USERNAME',
  'HARBOR_DATABASE_PASSWORD',
  'HARBOR_DATABASE_DBNAME',
  'HARBOR_DATABASE_SSLMODE',
  'HARBOR_DATABASE_MAX_IDLE_CONNS',
  'HARBOR_DATABASE_MAX_OPEN_CONNS',
  'HARBOR_SERVICE_SCHEME',
  'HARBOR_SERVICE_HOST',
  'HARBOR_SERVICE_PORT',
  'HARBOR_REDIS_URL',
  'HARBOR_REDIS_NAMESPACE',
  'HARBOR_REDIS_TIMEOUT',
  'HARBOR_EXPORTER_PORT',
  'HARBOR_EXPORTER_METRICS_PATH',
  'HARBOR_EXPORTER_METRICS_ENABLED',
  'HARBOR_EXPORTER_CACHE_TIME',
  'HARBOR_EXPORTER_CACHE_CLEAN_INTERVAL',
];

/** The exporter's settings as the process sees them: envFrom ConfigMaps, then its own env. */
function exporterEnv(objects: K8sObject[]): Record<string, unknown> {
  const container = containerOf(find(objects, 'Deployment', 'harbor-exporter'), 'exporter');
  const fromMaps = (container.envFrom ?? []).map(
    (source: K8sObject) => find(objects, 'ConfigMap', source.configMapRef.name).data,
  );
  const own = Object.fromEntries(
    (container.env ?? []).map((e: K8sObject) => [e.name, envOf(container, e.name)]),
  );
  return Object.assign({}, ...fromMaps, own);
}

describe('HarborExporter', () => {
  test('is given every setting the exporter reads', () => {
    const env = exporterEnv(synthApp(METRICS).objects);

    for (const key of EXPORTER_KEYS) expect(env).toHaveProperty(key);
    expect(env).toMatchObject({
      HARBOR_EXPORTER_PORT: '8001',
      HARBOR_EXPORTER_METRICS_PATH: '/metrics',
      HARBOR_EXPORTER_METRICS_ENABLED: 'true',
      HARBOR_METRIC_NAMESPACE: 'harbor',
      HARBOR_METRIC_SUBSYSTEM: 'exporter',
    });
  });

  test('reads the database core reads, with the same password Secret', () => {
    const { objects } = synthApp(METRICS);

    const env = exporterEnv(objects);
    const coreEnv = find(objects, 'ConfigMap', 'harbor-core-env').data;
    const core = containerOf(find(objects, 'Deployment', 'harbor-core'), 'core');

    expect(env).toMatchObject({
      HARBOR_DATABASE_HOST: coreEnv.POSTGRESQL_HOST,
      HARBOR_DATABASE_PORT: coreEnv.POSTGRESQL_PORT,
      HARBOR_DATABASE_USERNAME: coreEnv.POSTGRESQL_USERNAME,
      HARBOR_DATABASE_DBNAME: coreEnv.POSTGRESQL_DATABASE,
      HARBOR_DATABASE_SSLMODE: coreEnv.POSTGRESQL_SSLMODE,
    });
    expect(env.HARBOR_DATABASE_PASSWORD).toEqual(envOf(core, 'POSTGRESQL_PASSWORD'));
    expect(env.HARBOR_DATABASE_PASSWORD).toEqual({
      name: 'harbor-database-password',
      key: 'password',
    });
  });

  test("watches jobservice's queues: its Redis database and namespace", () => {
    const { objects } = synthApp(METRICS);

    const env = exporterEnv(objects);
    const jobservice = find(objects, 'Deployment', 'harbor-jobservice');
    const container = containerOf(jobservice, 'jobservice');
    const configMap = find(objects, 'ConfigMap', 'harbor-jobservice');
    const pool = parse(configMap.data['config.yml']).worker_pool.redis_pool;

    expect(env.HARBOR_REDIS_URL).toBe(envOf(container, 'JOB_SERVICE_POOL_REDIS_URL'));
    expect(env.HARBOR_REDIS_URL).toBe('redis://harbor-redis:6379/1');
    expect(env.HARBOR_REDIS_NAMESPACE).toBe(pool.namespace);
  });

  test("asks core's Service on a port it serves", () => {
    const { objects } = synthApp(METRICS);

    const env = exporterEnv(objects);
    const service = find(objects, 'Service', env.HARBOR_SERVICE_HOST as string);

    expect(env.HARBOR_SERVICE_SCHEME).toBe('http');
    expect(service.spec.ports.map((p: K8sObject) => String(p.port))).toContain(
      env.HARBOR_SERVICE_PORT,
    );
  });

  test("calls core over HTTPS and trusts core's CA with internal TLS", () => {
    const { objects } = synthApp({ ...METRICS, internalTls: { enabled: true } });

    const env = exporterEnv(objects);
    const deployment = find(objects, 'Deployment', 'harbor-exporter');
    const container = containerOf(deployment, 'exporter');
    const service = find(objects, 'Service', env.HARBOR_SERVICE_HOST as string);
    const mount = container.volumeMounts.find(
      (m: K8sObject) => m.mountPath === '/etc/harbor/ssl/core/ca.crt',
    );
    const volume = podSpec(deployment).volumes.find((v: K8sObject) => v.name === mount.name);

    expect(env.HARBOR_SERVICE_SCHEME).toBe('https');
    expect(
      service.spec.ports.find((p: K8sObject) => String(p.port) === env.HARBOR_SERVICE_PORT).name,
    ).toMatch(/^https-/);
    expect(volume.secret.secretName).toBe('harbor-core-internal-tls');
    expect(volume.secret.items).toEqual([{ key: 'ca.crt', path: 'ca.crt' }]);
  });

  test('expands the Redis password from a Secret, declared before the URL', () => {
    const { objects } = synthApp({ ...METRICS, ...EXTERNAL_REDIS });

    const container = containerOf(find(objects, 'Deployment', 'harbor-exporter'), 'exporter');
    const names = container.env.map((e: K8sObject) => e.name);

    expect(envOf(container, REDIS_PASSWORD_ENV)).toEqual({ name: 'redis-auth', key: 'password' });
    expect(envOf(container, 'HARBOR_REDIS_URL')).toBe(
      `redis://harbor:$(${REDIS_PASSWORD_ENV})@redis.example.test:6379/1`,
    );
    expect(names.indexOf(REDIS_PASSWORD_ENV)).toBeLessThan(names.indexOf('HARBOR_REDIS_URL'));
  });

  test('keeps every password out of its ConfigMap', () => {
    const { objects } = synthApp({ ...METRICS, ...EXTERNAL_REDIS });

    const data = find(objects, 'ConfigMap', 'harbor-exporter-env').data;

    expect(Object.keys(data).filter((key) => /PASSWORD|SECRET|TOKEN/.test(key))).toEqual([]);
    expect(Object.values(data).some((value) => /redis:|@/.test(String(value)))).toBe(false);
  });

  test('runs restricted, with resources and probes on its metrics port', () => {
    const { objects } = synthApp(METRICS);

    const deployment = find(objects, 'Deployment', 'harbor-exporter');
    const pod = podSpec(deployment);
    const container = containerOf(deployment, 'exporter');

    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      privileged: false,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.resources.requests).toMatchObject({ cpu: '50m', memory: '64Mi' });
    expect(container.resources.limits).toMatchObject({ memory: '512Mi' });
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      expect(container[probe].httpGet).toMatchObject({ path: '/', port: 8001 });
    }
  });

  test('takes the resources it is given', () => {
    const { objects } = synthApp({
      metrics: { enabled: true, exporterResources: { cpu: '200m', memory: '256Mi' } },
    });

    const container = containerOf(find(objects, 'Deployment', 'harbor-exporter'), 'exporter');

    expect(container.resources.requests).toMatchObject({ cpu: '200m', memory: '256Mi' });
  });

  test('trusts the CA bundle the other components trust', () => {
    const { objects } = synthApp(METRICS);

    const mounts = (name: string, container: string) =>
      containerOf(find(objects, 'Deployment', name), container).volumeMounts.filter(
        (m: K8sObject) => m.mountPath === '/harbor_cust_cert/custom-ca.crt',
      );

    expect(mounts('harbor-exporter', 'exporter')).toHaveLength(1);
    expect(mounts('harbor-exporter', 'exporter')).toEqual(mounts('harbor-core', 'core'));
  });

  test('its Service selects its pods on port http-metrics', () => {
    const { objects } = synthApp(METRICS);

    const service = find(objects, 'Service', 'harbor-exporter');
    const deployment = find(objects, 'Deployment', 'harbor-exporter');

    expect(service.spec.ports).toEqual([{ name: 'http-metrics', port: 8001, targetPort: 8001 }]);
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(
      ofKind(harborOnly(objects), 'Deployment').filter((d) =>
        Object.entries(service.spec.selector).every(
          ([k, v]) => d.spec.template.metadata.labels[k] === v,
        ),
      ),
    ).toHaveLength(1);
  });

  test('runs the pinned exporter image of the Harbor release, from the mirror if any', () => {
    const images = new HarborImages({ registry: 'mirror.example.test/harbor' });
    const { objects } = synthApp({
      ...METRICS,
      images: { version: 'v2.15.2', registry: 'mirror.example.test/harbor' },
    });

    const container = containerOf(find(objects, 'Deployment', 'harbor-exporter'), 'exporter');

    expect(new HarborImages().exporter).toBe('docker.io/goharbor/harbor-exporter:v2.15.2');
    expect(container.image).toBe(images.exporter);
    expect(container.image).toBe('mirror.example.test/harbor/goharbor/harbor-exporter:v2.15.2');
  });

  test('is in the images list to mirror only while metrics are on', () => {
    const image = 'docker.io/goharbor/harbor-exporter:v2.15.2';

    expect(imagesOf(synthApp(METRICS).objects)).toContain(image);
    expect(imagesOf(synthApp().objects)).not.toContain(image);
  });
});
