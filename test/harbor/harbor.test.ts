import { Chart, Testing } from 'cdk8s';
import { Harbor, HarborDatabase, HarborRedis, HarborTls } from '../../lib';
import { expectValidObjects } from '../support/schema';
import {
  containerOf,
  envOf,
  find,
  harborOnly,
  mountAt,
  ofKind,
  podSpec,
  synthApp,
} from '../support/synth';

describe('Harbor', () => {
  test('refuses two instances of one name in one namespace', () => {
    const chart = new Chart(Testing.app(), 'test', { namespace: 'harbor' });
    const props = {
      host: 'harbor.example.test',
      tls: HarborTls.fromSecret('tls'),
      registryStorage: { storageClassName: 'nfs-csi', size: '10Gi' },
      database: HarborDatabase.internal({ storage: { storageClassName: 'standard', size: '1Gi' } }),
      redis: HarborRedis.internal({ storage: { storageClassName: 'standard', size: '1Gi' } }),
    };
    new Harbor(chart, 'One', props);
    new Harbor(chart, 'Two', props);

    expect(() => Testing.synth(chart)).toThrow(
      /Deployment harbor\/harbor-core is defined more than once/,
    );
  });

  test('derives the external URL from the host (field failure #1)', () => {
    const { objects } = synthApp({ host: 'registry.example.test' });

    const env = find(objects, 'ConfigMap', 'harbor-core-env');
    const ingress = find(objects, 'Ingress', 'harbor');
    const certificate = find(objects, 'Certificate', 'harbor-tls');

    expect(env.data.EXT_ENDPOINT).toBe('https://registry.example.test');
    expect(ingress.spec.rules.map((r: any) => r.host)).toEqual(['registry.example.test']);
    expect(ingress.spec.tls[0].hosts).toEqual(['registry.example.test']);
    expect(certificate.spec.dnsNames).toEqual(['registry.example.test']);
  });

  test('puts a non-443 port into the external URL', () => {
    const { objects } = synthApp({ host: 'registry.example.test', port: 8443 });

    expect(find(objects, 'ConfigMap', 'harbor-core-env').data.EXT_ENDPOINT).toBe(
      'https://registry.example.test:8443',
    );
  });

  test('has no external URL setting that could disagree with the host', () => {
    expect(() => synthApp({ externalURL: 'https://other.example.test' })).toThrow(
      /externalURL: unknown key/,
    );
  });

  test('rejects an IP address or a malformed host', () => {
    expect(() => synthApp({ host: '192.0.2.10' })).toThrow(/host: "192.0.2.10" is an IP address/);
    expect(() => synthApp({ host: 'Registry_Example' })).toThrow(
      /host: "Registry_Example" is not a DNS name/,
    );
  });

  test('points core at the database and Redis Services it renders (field failure #18)', () => {
    const { objects } = synthApp();

    const env = find(objects, 'ConfigMap', 'harbor-core-env').data;
    const database = find(objects, 'Service', env.POSTGRESQL_HOST);
    const statefulSet = find(objects, 'StatefulSet', 'harbor-database');
    const core = containerOf(find(objects, 'Deployment', 'harbor-core'), 'core');

    expect(database.spec.ports[0].port).toBe(Number(env.POSTGRESQL_PORT));
    expect(database.spec.selector).toEqual(statefulSet.spec.selector.matchLabels);
    expect(envOf(core, '_REDIS_URL_CORE')).toBe(
      'redis://harbor-redis:6379/0?idle_timeout_seconds=30',
    );
    expect(find(objects, 'Service', 'harbor-redis').spec.ports[0].port).toBe(6379);
  });

  test('gives core a startup probe that waits at least five minutes (field failure #18)', () => {
    const { objects } = synthApp();

    const core = containerOf(find(objects, 'Deployment', 'harbor-core'), 'core');
    const startup = core.startupProbe;

    expect(startup.httpGet.path).toBe('/api/v2.0/ping');
    expect(startup.failureThreshold * startup.periodSeconds).toBeGreaterThanOrEqual(300);
    expect(core.livenessProbe.httpGet.path).toBe('/api/v2.0/ping');
  });

  test('every Service selects the pods of exactly one workload', () => {
    const { objects } = synthApp();

    const workloads = [
      ...ofKind(harborOnly(objects), 'Deployment'),
      ...ofKind(harborOnly(objects), 'StatefulSet'),
    ];
    for (const service of ofKind(harborOnly(objects), 'Service')) {
      const selector = service.spec.selector;
      const matching = workloads.filter((w) =>
        Object.entries(selector).every(([k, v]) => w.spec.template.metadata.labels[k] === v),
      );
      expect([service.metadata.name, matching.length]).toEqual([service.metadata.name, 1]);
      const ports = matching[0].spec.template.spec.containers.flatMap((c: any) =>
        (c.ports ?? []).map((p: any) => p.containerPort),
      );
      for (const port of service.spec.ports) expect(ports).toContain(port.targetPort);
    }
  });

  test('keeps PostgreSQL and Redis off NFS by default (field failures #7 #8 #9)', () => {
    const { objects } = synthApp();

    const nfs = ['nfs-csi'];
    expect(nfs).not.toContain(
      find(objects, 'PersistentVolumeClaim', 'harbor-database').spec.storageClassName,
    );
    expect(nfs).not.toContain(
      find(objects, 'PersistentVolumeClaim', 'harbor-redis').spec.storageClassName,
    );
    expect(nfs).not.toContain(
      find(objects, 'PersistentVolumeClaim', 'harbor-trivy').spec.storageClassName,
    );
    expect(find(objects, 'PersistentVolumeClaim', 'harbor-registry').spec).toMatchObject({
      storageClassName: 'nfs-csi',
      accessModes: ['ReadWriteMany'],
    });
  });

  test('refuses PostgreSQL or Redis on an NFS class without an explicit opt-in', () => {
    const nfsStorage = { storageClassName: 'nfs-csi', size: '5Gi' };

    expect(() => synthApp({ database: { storage: nfsStorage } })).toThrow(
      /database\.storage\.storageClassName: "nfs-csi" is an NFS class, and PostgreSQL on NFS/,
    );
    expect(() => synthApp({ redis: { storage: nfsStorage } })).toThrow(
      /redis\.storage\.storageClassName: "nfs-csi" is an NFS class, and the redis volume on NFS/,
    );
    expect(() => synthApp({ database: { storage: nfsStorage, allowNfs: true } })).not.toThrow();
  });

  test('reports every problem between settings at once', () => {
    const nfsStorage = { storageClassName: 'nfs-csi', size: '5Gi' };
    let message = '';
    try {
      synthApp({
        database: { storage: nfsStorage },
        redis: { storage: nfsStorage },
        tls: { duration: '24h', renewBefore: '48h' },
        registryStorage: { accessMode: 'ReadWriteOnce' },
        replicas: { registry: 2 },
      });
    } catch (err) {
      message = (err as Error).message;
    }

    expect(message.split('\n').filter((line) => line.startsWith('  - '))).toHaveLength(4);
    expect(message).toMatch(/database\.storage\.storageClassName:/);
    expect(message).toMatch(/redis\.storage\.storageClassName:/);
    expect(message).toMatch(/tls\.renewBefore:/);
    expect(message).toMatch(/replicas\.registry:/);
  });

  test('mounts the trust bundle where components make TLS calls (field failure #20)', () => {
    const { objects } = synthApp();

    const consumers: Array<[string, string, string]> = [
      ['Deployment', 'harbor-core', 'core'],
      ['Deployment', 'harbor-jobservice', 'jobservice'],
      ['Deployment', 'harbor-registry', 'registry'],
      ['Deployment', 'harbor-registry', 'registryctl'],
      ['StatefulSet', 'harbor-trivy', 'trivy'],
    ];
    for (const [kind, name, containerName] of consumers) {
      const workload = find(objects, kind, name);
      const found = mountAt(
        workload,
        containerOf(workload, containerName),
        '/harbor_cust_cert/custom-ca.crt',
      );
      expect(found?.volume.configMap).toMatchObject({
        name: 'harbor-ca',
        items: [{ key: 'ca.crt', path: 'custom-ca.crt' }],
      });
    }
  });

  test('serves the CA for download from core', () => {
    const { objects } = synthApp();

    const core = find(objects, 'Deployment', 'harbor-core');
    const found = mountAt(core, containerOf(core, 'core'), '/etc/core/ca');

    expect(found?.volume.configMap).toMatchObject({
      name: 'harbor-ca',
      items: [{ key: 'ca.crt', path: 'ca.crt' }],
    });
  });

  test('mounts the self-signed CA Secret when there is no trust bundle', () => {
    const { objects } = synthApp({ tls: { type: 'selfSigned' }, trust: null });

    const core = find(objects, 'Deployment', 'harbor-core');
    const found = mountAt(core, containerOf(core, 'core'), '/harbor_cust_cert/custom-ca.crt');

    expect(found?.volume.secret.secretName).toBe('harbor-ca-root');
  });

  test('trusts a given CA bundle but offers no download for a commercial certificate', () => {
    const { objects } = synthApp({
      tls: { type: 'secret', secretName: 'commercial' },
      caBundle: { name: 'corporate-ca', key: 'ca.crt' },
    });

    const core = find(objects, 'Deployment', 'harbor-core');
    const container = containerOf(core, 'core');

    expect(
      mountAt(core, container, '/harbor_cust_cert/custom-ca.crt')?.volume.secret.secretName,
    ).toBe('corporate-ca');
    expect(mountAt(core, container, '/etc/core/ca')).toBeUndefined();
  });

  test('mounts no CA bundle when a commercial certificate is used without one', () => {
    const { objects } = synthApp({ tls: { type: 'secret', secretName: 'harbor-commercial-tls' } });

    const core = find(objects, 'Deployment', 'harbor-core');
    expect(
      mountAt(core, containerOf(core, 'core'), '/harbor_cust_cert/custom-ca.crt'),
    ).toBeUndefined();
    expect(find(objects, 'Ingress', 'harbor').spec.tls[0].secretName).toBe('harbor-commercial-tls');
    expect(ofKind(objects, 'Issuer').map((i) => i.metadata.name)).toEqual(['harbor-token-issuer']);
  });

  test('runs every Harbor pod as uid 10000 or 999 without privileges', () => {
    const { objects } = synthApp();

    const workloads = [
      ...ofKind(harborOnly(objects), 'Deployment'),
      ...ofKind(harborOnly(objects), 'StatefulSet'),
      ...ofKind(harborOnly(objects), 'Job'),
    ];
    for (const workload of workloads) {
      const pod = podSpec(workload);
      expect([10000, 999]).toContain(pod.securityContext.runAsUser);
      expect(pod.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        expect(container.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          privileged: false,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
          // Harbor's entrypoints write the CA bundle into the image at start
          readOnlyRootFilesystem: false,
        });
      }
    }
  });

  test('pins every image to the Harbor release', () => {
    const { objects } = synthApp();

    const images = [
      ...ofKind(harborOnly(objects), 'Deployment'),
      ...ofKind(harborOnly(objects), 'StatefulSet'),
      ...ofKind(harborOnly(objects), 'Job'),
    ]
      .flatMap((w) => [...podSpec(w).containers, ...(podSpec(w).initContainers ?? [])])
      .map((c) => c.image);
    for (const image of images) expect(image).toMatch(/^docker\.io\/goharbor\/[a-z-]+:v2\.15\.2$/);
    expect(new Set(images)).toEqual(
      new Set([
        'docker.io/goharbor/harbor-core:v2.15.2',
        'docker.io/goharbor/harbor-portal:v2.15.2',
        'docker.io/goharbor/registry-photon:v2.15.2',
        'docker.io/goharbor/harbor-registryctl:v2.15.2',
        'docker.io/goharbor/harbor-jobservice:v2.15.2',
        'docker.io/goharbor/trivy-adapter-photon:v2.15.2',
        'docker.io/goharbor/harbor-db:v2.15.2',
        'docker.io/goharbor/valkey-photon:v2.15.2',
        'docker.io/goharbor/prepare:v2.15.2',
      ]),
    );
  });

  test('rewrites every image to a mirror', () => {
    const { objects } = synthApp({ images: { registry: 'mirror.example.test/harbor' } });

    const all = [...ofKind(objects, 'Deployment'), ...ofKind(objects, 'DaemonSet')].flatMap((w) =>
      podSpec(w).containers.map((c: any) => c.image),
    );
    for (const image of all) expect(image.startsWith('mirror.example.test/harbor/')).toBe(true);

    const images = ofKind(harborOnly(objects), 'Deployment').flatMap((w) =>
      podSpec(w).containers.map((c: any) => c.image),
    );
    for (const image of images)
      expect(image.startsWith('mirror.example.test/harbor/goharbor/')).toBe(true);
  });

  test('every object of several profiles is schema-valid', () => {
    const variants: Record<string, unknown>[] = [
      {},
      { tls: { type: 'secret', secretName: 'commercial' }, port: 8443 },
      { tls: { type: 'issuer', name: 'vault', kind: 'ClusterIssuer' }, trivy: { enabled: false } },
      {
        database: {
          type: 'external',
          host: 'pg.example.test',
          password: { name: 'pg', key: 'password' },
        },
        redis: {
          type: 'external',
          host: 'redis.example.test',
          password: { name: 'redis', key: 'password' },
        },
        replicas: { core: 2, portal: 2, registry: 2, jobservice: 2 },
      },
    ];
    for (const variant of variants) expectValidObjects(synthApp(variant).objects);
  });
});

describe('Harbor with several replicas', () => {
  test('spreads replicas over nodes and keeps one through a drain', () => {
    const { objects } = synthApp({ replicas: { core: 2, portal: 2, registry: 2, jobservice: 2 } });

    for (const name of ['harbor-core', 'harbor-portal', 'harbor-registry', 'harbor-jobservice']) {
      const deployment = find(objects, 'Deployment', name);
      const budget = find(objects, 'PodDisruptionBudget', name);
      const term =
        podSpec(deployment).affinity.podAntiAffinity
          .preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;

      expect(budget.spec.minAvailable).toBe(1);
      expect(budget.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
      expect(term.topologyKey).toBe('kubernetes.io/hostname');
      expect(term.labelSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    }
  });

  test('adds no budget for a single replica, which a drain must be able to move', () => {
    expect(ofKind(synthApp().objects, 'PodDisruptionBudget')).toEqual([]);
  });
});
