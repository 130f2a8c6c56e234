import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { parse, stringify } from 'yaml';
import {
  Harbor,
  HarborDatabase,
  HarborProps,
  HarborRedis,
  HarborServiceMonitor,
  HarborTls,
  METRICS_PORT,
} from '../../lib';
import { Daemon, freePort, run, startDaemon, stopDaemon, waitUntil } from '../support/processes';
import { expectValidObjects } from '../support/schema';
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
const MONITORED = { metrics: { enabled: true, serviceMonitor: {} } };

/** The text of a file a container mounts from one key of a ConfigMap. */
function configFile(objects: K8sObject[], workload: K8sObject, container: string, at: string) {
  const mount = containerOf(workload, container).volumeMounts.find(
    (m: K8sObject) => m.mountPath === at,
  );
  const volume = podSpec(workload).volumes.find((v: K8sObject) => v.name === mount.name);
  return find(objects, 'ConfigMap', volume.configMap.name).data[mount.subPath] as string;
}

/** Whether a label selector (matchLabels and matchExpressions) matches a set of labels. */
function selects(selector: K8sObject, labels: Record<string, string>): boolean {
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpression = (selector.matchExpressions ?? []).every((e: K8sObject) => {
    if (e.operator === 'In') return e.values.includes(labels[e.key]);
    if (e.operator === 'NotIn') return !e.values.includes(labels[e.key]);
    if (e.operator === 'Exists') return e.key in labels;
    if (e.operator === 'DoesNotExist') return !(e.key in labels);
    throw new Error(`unknown operator ${e.operator}`);
  });
  return byLabel && byExpression;
}

const metricsPort = (service: K8sObject) =>
  service.spec.ports.find((p: K8sObject) => p.name === 'http-metrics');

/** Every port number of every container and Service. */
function portsOf(objects: K8sObject[]): number[] {
  const workloads = [...ofKind(objects, 'Deployment'), ...ofKind(objects, 'StatefulSet')];
  return [
    ...workloads.flatMap((w) =>
      podSpec(w).containers.flatMap((c: K8sObject) =>
        (c.ports ?? []).map((p: K8sObject) => p.containerPort),
      ),
    ),
    ...ofKind(objects, 'Service').flatMap((s) => s.spec.ports.map((p: K8sObject) => p.port)),
  ];
}

function harborProps(overrides: Partial<HarborProps> = {}): HarborProps {
  return {
    host: 'harbor.example.test',
    tls: HarborTls.fromSecret('tls'),
    registryStorage: { storageClassName: 'nfs-csi', size: '10Gi' },
    database: HarborDatabase.internal({ storage: { storageClassName: 'standard', size: '1Gi' } }),
    redis: HarborRedis.internal({ storage: { storageClassName: 'standard', size: '1Gi' } }),
    ...overrides,
  };
}

describe('metrics off', () => {
  test('leaves no metrics port, exporter or ServiceMonitor', () => {
    const { objects } = synthApp();

    expect(portsOf(objects)).not.toContain(METRICS_PORT);
    expect(ofKind(objects, 'Deployment').map((d) => d.metadata.name)).not.toContain(
      'harbor-exporter',
    );
    expect(ofKind(objects, 'ServiceMonitor')).toEqual([]);
  });

  test('keeps every component from serving metrics', () => {
    const { objects } = synthApp();

    const registry = find(objects, 'Deployment', 'harbor-registry');
    const jobservice = find(objects, 'Deployment', 'harbor-jobservice');

    expect(find(objects, 'ConfigMap', 'harbor-core-env').data.METRIC_ENABLE).toBe('false');
    expect(
      parse(configFile(objects, jobservice, 'jobservice', '/etc/jobservice/config.yml')),
    ).toMatchObject({ metric: { enabled: false } });
    expect(
      parse(configFile(objects, registry, 'registry', '/etc/registry/config.yml')).http.debug,
    ).toEqual({ addr: 'localhost:5001' });
  });
});

describe('metrics on', () => {
  test('core reads every metrics setting from its env ConfigMap', () => {
    const { objects } = synthApp(METRICS);

    const env = find(objects, 'ConfigMap', 'harbor-core-env').data;

    expect(env).toMatchObject({
      METRIC_ENABLE: 'true',
      METRIC_PATH: '/metrics',
      METRIC_PORT: '8001',
      METRIC_NAMESPACE: 'harbor',
      METRIC_SUBSYSTEM: 'core',
    });
  });

  test('jobservice enables metrics in its config file and names them in env', () => {
    const { objects } = synthApp(METRICS);

    const jobservice = find(objects, 'Deployment', 'harbor-jobservice');
    const config = parse(
      configFile(objects, jobservice, 'jobservice', '/etc/jobservice/config.yml'),
    );
    const container = containerOf(jobservice, 'jobservice');

    expect(config.metric).toEqual({ enabled: true, path: '/metrics', port: 8001 });
    expect(envOf(container, 'METRIC_NAMESPACE')).toBe('harbor');
    expect(envOf(container, 'METRIC_SUBSYSTEM')).toBe('jobservice');
  });

  test('the registry config file parses and serves Prometheus on the debug address', () => {
    const { objects } = synthApp(METRICS);

    const registry = find(objects, 'Deployment', 'harbor-registry');
    const config = parse(configFile(objects, registry, 'registry', '/etc/registry/config.yml'));

    expect(config.http.debug).toEqual({
      addr: ':8001',
      prometheus: { enabled: true, path: '/metrics' },
    });
    // registryctl reads the same file but serves no metrics of its own
    expect(configFile(objects, registry, 'registryctl', '/etc/registry/config.yml')).toBe(
      configFile(objects, registry, 'registry', '/etc/registry/config.yml'),
    );
  });

  test.each([
    ['harbor-core', 'core'],
    ['harbor-jobservice', 'jobservice'],
    ['harbor-registry', 'registry'],
    ['harbor-exporter', 'exporter'],
  ])('%s serves http-metrics from container %s on 8001', (name, container) => {
    const { objects } = synthApp(METRICS);

    const workload = find(objects, 'Deployment', name);
    const service = find(objects, 'Service', name);
    const port = metricsPort(service);
    const owners = podSpec(workload).containers.filter((c: K8sObject) =>
      (c.ports ?? []).some((p: K8sObject) => p.containerPort === METRICS_PORT),
    );

    expect(port).toMatchObject({ port: 8001, targetPort: 8001 });
    expect(owners.map((c: K8sObject) => c.name)).toEqual([container]);
    expect(
      selects({ matchLabels: service.spec.selector }, workload.spec.template.metadata.labels),
    ).toBe(true);
  });

  test('the portal, Trivy, the database and Redis gain no metrics port', () => {
    const { objects } = synthApp(METRICS);

    for (const name of ['harbor-portal', 'harbor-trivy', 'harbor-database', 'harbor-redis']) {
      expect(metricsPort(find(objects, 'Service', name))).toBeUndefined();
    }
  });
});

describe('ServiceMonitor', () => {
  test('selects exactly the Services that carry http-metrics', () => {
    const { objects } = synthApp(MONITORED);

    const monitor = find(objects, 'ServiceMonitor', 'harbor');
    const services = ofKind(harborOnly(objects), 'Service');
    const selected = services.filter((s) => selects(monitor.spec.selector, s.metadata.labels));
    const scraped = services.filter((s) => metricsPort(s) !== undefined);

    expect(selected.map((s) => s.metadata.name).sort()).toEqual(
      scraped.map((s) => s.metadata.name).sort(),
    );
    expect(scraped).toHaveLength(4);
    expect(monitor.metadata.namespace).toBe('harbor');
    expect(monitor.spec.namespaceSelector).toBeUndefined();
    expect(monitor.spec.endpoints).toEqual([
      { port: 'http-metrics', path: '/metrics', scheme: 'http' },
    ]);
  });

  test('selects no Service of another Harbor instance', () => {
    const chart = new Chart(Testing.app(), 'test', { namespace: 'harbor' });
    const metrics = { enabled: true, serviceMonitor: {} };
    new Harbor(chart, 'One', harborProps({ metrics }));
    new Harbor(chart, 'Two', harborProps({ instance: 'other', host: 'other.example.test' }));

    const objects = Testing.synth(chart);
    const monitor = find(objects, 'ServiceMonitor', 'harbor');
    const selected = ofKind(objects, 'Service').filter((s) =>
      selects(monitor.spec.selector, s.metadata.labels),
    );

    expect(selected.every((s) => s.metadata.name.startsWith('harbor-'))).toBe(true);
    expect(selected).toHaveLength(4);
    expectValidObjects(objects);
  });

  test('lives in the monitoring namespace with its labels and interval when asked', () => {
    const { objects } = synthApp({
      metrics: {
        enabled: true,
        serviceMonitor: {
          namespace: 'monitoring',
          labels: { release: 'prometheus' },
          interval: '1m30s',
        },
      },
    });

    const monitor = find(objects, 'ServiceMonitor', 'harbor');

    expect(monitor.metadata.namespace).toBe('monitoring');
    expect(monitor.metadata.labels).toMatchObject({
      release: 'prometheus',
      'app.kubernetes.io/instance': 'harbor',
    });
    expect(monitor.spec.namespaceSelector).toEqual({ matchNames: ['harbor'] });
    expect(monitor.spec.endpoints[0].interval).toBe('1m30s');
  });

  test('is left out while serviceMonitor.enabled is false', () => {
    const { objects } = synthApp({
      metrics: { enabled: true, serviceMonitor: { enabled: false } },
    });

    expect(ofKind(objects, 'ServiceMonitor')).toEqual([]);
    expect(find(objects, 'Service', 'harbor-exporter')).toBeDefined();
  });

  test('is synced by an Argo CD Application that skips the dry run of missing CRDs', () => {
    const { stack } = synthApp(MONITORED);

    const applications = stack.argocd!.charts.flatMap((chart) => chart.toJson());
    const harbor = find(applications, 'Application', 'harbor');

    expect(harbor.spec.source.directory.include).toContain('*-harbor.k8s.yaml');
    expect(harbor.spec.syncPolicy.syncOptions).toContain('SkipDryRunOnMissingResource=true');
    // and so does the ServiceMonitor itself, as every custom resource we emit
    const monitor = find(
      stack.app.charts.flatMap((chart) => chart.toJson()),
      'ServiceMonitor',
      'harbor',
    );
    expect(monitor.metadata.annotations['argocd.argoproj.io/sync-options'].split(',')).toContain(
      'SkipDryRunOnMissingResource=true',
    );
  });
});

describe('metrics errors', () => {
  const problemsOf = (metrics: HarborProps['metrics']) =>
    Harbor.check(harborProps({ metrics })).join('\n');

  test('throws when the ServiceMonitor is on while metrics are off', () => {
    expect(() => synthApp({ metrics: { enabled: false, serviceMonitor: {} } })).toThrow(
      'metrics.serviceMonitor.enabled: true has nothing to scrape while metrics.enabled is false',
    );
  });

  test('throws when the interval is not a Prometheus duration', () => {
    expect(problemsOf({ enabled: true, serviceMonitor: { interval: '30' } })).toContain(
      'metrics.serviceMonitor.interval: "30" is not a Prometheus duration',
    );
    expect(problemsOf({ enabled: true, serviceMonitor: { interval: '0s' } })).toContain(
      'metrics.serviceMonitor.interval: "0s" is not a Prometheus duration',
    );
  });

  test('throws when a label key is malformed', () => {
    expect(problemsOf({ enabled: true, serviceMonitor: { labels: { 'bad key': 'x' } } })).toContain(
      'metrics.serviceMonitor.labels: "bad key" is not a label key',
    );
  });

  test('throws when a label value is malformed', () => {
    expect(
      problemsOf({ enabled: true, serviceMonitor: { labels: { release: 'kube prometheus' } } }),
    ).toContain('metrics.serviceMonitor.labels.release: "kube prometheus" is not a label value');
  });

  test('throws when the namespace is not a DNS label', () => {
    expect(problemsOf({ enabled: true, serviceMonitor: { namespace: 'Monitoring' } })).toContain(
      'metrics.serviceMonitor.namespace: "Monitoring" is not a DNS label',
    );
  });

  test("throws when the ServiceMonitor is elsewhere and Harbor's chart has no namespace", () => {
    const chart = new Chart(Testing.app(), 'test');
    const props = { instance: 'harbor', version: 'v2.15.2', namespace: 'monitoring' };

    expect(() => new HarborServiceMonitor(chart, 'Monitor', props)).toThrow(
      'metrics.serviceMonitor.namespace: "monitoring" needs Harbor\'s namespace',
    );
  });

  test('throws when the exporter resources are malformed', () => {
    expect(
      problemsOf({ enabled: true, exporterResources: { cpu: 'lots', memory: '64Mi' } }),
    ).toContain('metrics.exporterResources.cpu: "lots" is not a CPU amount');
  });

  test('reports every problem of the section together', () => {
    expect(() =>
      synthApp({
        metrics: {
          enabled: false,
          serviceMonitor: { interval: 'often', labels: { 'a b': 'c' } },
        },
      }),
    ).toThrow(
      /serviceMonitor\.enabled: true has nothing[\s\S]*interval: "often"[\s\S]*"a b" is not a label key/,
    );
  });

  test('refuses an unknown key in the configuration section', () => {
    expect(() => synthApp({ metrics: { enabled: true, port: 9000 } })).toThrow(
      'metrics.port: unknown key',
    );
  });
});

/**
 * The real distribution registry (Debian's `docker-registry`) with the synthesized config.yml,
 * only paths and addresses changed for this machine, scraped on its debug address.
 */
describe('docker-registry with the synthesized config', () => {
  const STARTUP_MS = 15_000;
  let workDir: string;
  let registry: Daemon | undefined;
  let redis: Daemon | undefined;
  let apiUrl: string;
  let metricsUrl: string;
  let config: K8sObject;

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'registry-metrics-test-'));
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: workDir };
    const { objects } = synthApp(METRICS);
    const deployment = find(objects, 'Deployment', 'harbor-registry');
    config = parse(configFile(objects, deployment, 'registry', '/etc/registry/config.yml'));

    const redisPort = await freePort();
    redis = startDaemon(
      'redis-server',
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--dir', workDir],
      { env },
    );
    const htpasswd = await run('htpasswd', ['-Bbn', 'harbor_registry_user', 'test'], {
      env,
      timeoutMs: 10_000,
    });
    const passwd = path.join(workDir, 'passwd');
    fs.writeFileSync(passwd, htpasswd.stdout, { mode: 0o600 });

    const apiPort = await freePort();
    const debugPort = await freePort();
    const local = parse(stringify(config));
    local.storage.filesystem.rootdirectory = path.join(workDir, 'storage');
    local.http.addr = `127.0.0.1:${apiPort}`;
    local.http.debug.addr = `127.0.0.1:${debugPort}`;
    local.redis.addr = `127.0.0.1:${redisPort}`;
    local.auth.htpasswd.path = passwd;
    const file = path.join(workDir, 'config.yml');
    fs.writeFileSync(file, stringify(local));

    apiUrl = `http://127.0.0.1:${apiPort}`;
    metricsUrl = `http://127.0.0.1:${debugPort}${config.http.debug.prometheus.path}`;
    registry = startDaemon('docker-registry', 'docker-registry', ['serve', file], {
      env: { ...env, REGISTRY_HTTP_SECRET: 'test-secret' },
    });
    await waitUntil(
      registry,
      async () => (await fetch(`${apiUrl}/`, { signal: AbortSignal.timeout(1_000) })).ok,
      { timeoutMs: STARTUP_MS },
    );
  });

  afterAll(async () => {
    await stopDaemon(registry);
    await stopDaemon(redis);
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  test('listens for metrics on the port the Service targets', () => {
    expect(config.http.debug.addr).toBe(`:${METRICS_PORT}`);
  });

  test('serves the registry request metrics in Prometheus text format', async () => {
    await fetch(`${apiUrl}/v2/`, { signal: AbortSignal.timeout(2_000) });

    const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) });
    const text = await response.text();

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(text).toMatch(/^registry_http_requests_total\{[^}]*handler="base"[^}]*\} 1$/m);
    expect(text).toMatch(/^# TYPE registry_http_request_duration_seconds histogram$/m);
  });
});
