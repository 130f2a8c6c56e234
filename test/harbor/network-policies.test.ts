import { Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { HarborNetworkPolicies, cidr } from '../../lib/harbor/network-policies';
import { Endpoint, isAllowed, podsOf } from '../support/network-policy';
import { expectValidObjects } from '../support/schema';
import { K8sObject, find, ofKind, synthApp } from '../support/synth';

const ON = { enabled: true };
// addresses from the documentation ranges: a control plane, a replication target, the internet
const API_SERVER = '192.0.2.1';
const PARTNER = '198.51.100.7';
const INTERNET = '203.0.113.10';

const OUTSIDE: Endpoint[] = [
  {
    name: 'ingress',
    namespace: 'ingress-nginx',
    labels: { 'app.kubernetes.io/name': 'ingress-nginx' },
  },
  { name: 'ingress-other', namespace: 'ingress-nginx', labels: { app: 'default-backend' } },
  { name: 'dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
  { name: 'monitoring', namespace: 'monitoring', labels: { app: 'prometheus' } },
  { name: 'apps', namespace: 'apps', labels: { app: 'shop' } },
  { name: 'apiserver', ip: API_SERVER },
  { name: 'partner', ip: PARTNER },
  { name: 'internet', ip: INTERNET },
];

const PROBES: Array<[number, 'TCP' | 'UDP']> = [
  [53, 'UDP'],
  [53, 'TCP'],
  [443, 'TCP'],
  [5000, 'TCP'],
  [5432, 'TCP'],
  [6379, 'TCP'],
  [6443, 'TCP'],
  [8001, 'TCP'],
  [8080, 'TCP'],
  [8089, 'TCP'],
];

/** Harbor's pods under short names (`core`, `database-backup`), from the synthesized labels. */
function harborPods(objects: K8sObject[], extra: Endpoint[] = []): Endpoint[] {
  return [...podsOf(objects), ...extra]
    .filter((pod) => pod.namespace === 'harbor')
    .map((pod) => ({
      ...pod,
      name: pod.labels?.['app.kubernetes.io/component'] ?? pod.name,
    }));
}

/** Every allowed connection that has a Harbor pod on at least one end, as `a -> b:port/proto`. */
function matrix(objects: K8sObject[], pods: Endpoint[]): string[] {
  const policies = ofKind(objects, 'NetworkPolicy');
  const all = [...pods, ...OUTSIDE];
  const allowed: string[] = [];
  for (const from of all) {
    for (const to of all) {
      if (from === to || (!pods.includes(from) && !pods.includes(to))) continue;
      for (const [port, protocol] of PROBES) {
        if (isAllowed(policies, { from, to, port, protocol })) {
          allowed.push(`${from.name} -> ${to.name}:${port}${protocol === 'UDP' ? '/udp' : ''}`);
        }
      }
    }
  }
  return allowed.sort();
}

const DNS = (name: string) => [`${name} -> dns:53`, `${name} -> dns:53/udp`];

describe('HarborNetworkPolicies', () => {
  test('allows exactly the documented flows', () => {
    const { stack, objects } = synthApp({
      metrics: { enabled: true },
      // an HTTP-01 challenge brings cert-manager's solver pods into the namespace
      tls: {
        type: 'acme',
        server: 'https://acme.example.test/directory',
        email: 'ops@example.test',
        http01: {},
      },
      networkPolicies: {
        ...ON,
        kubernetesApi: { cidrs: [`${API_SERVER}/32`], ports: [6443] },
        externalEgress: [{ cidrs: ['198.51.100.0/24'], ports: [443] }],
      },
    });
    const restore = stack.harbor.backup!.restoreJob('latest');
    const solver: Endpoint = {
      name: 'acme-solver',
      namespace: 'harbor',
      labels: { 'acme.cert-manager.io/http01-solver': 'true' },
    };
    const pods = harborPods(objects, [...podsOf([restore]), solver]);

    expect(pods.map((pod) => pod.name).sort()).toEqual([
      'acme-solver',
      'core',
      'database',
      'database-backup',
      'database-restore',
      'exporter',
      'jobservice',
      'portal',
      'redis',
      'registry',
      'secrets',
      'settings',
      'trivy',
    ]);
    expect(matrix(objects, pods)).toEqual(
      [
        'ingress -> core:8080',
        'ingress -> portal:8080',
        'ingress -> acme-solver:8089',
        'core -> registry:5000',
        'core -> registry:8080',
        'core -> jobservice:8080',
        'core -> trivy:8080',
        'core -> portal:8080',
        'core -> database:5432',
        'core -> redis:6379',
        'core -> partner:443',
        'jobservice -> core:8080',
        'jobservice -> registry:5000',
        'jobservice -> registry:8080',
        'jobservice -> trivy:8080',
        'jobservice -> database:5432',
        'jobservice -> redis:6379',
        'jobservice -> partner:443',
        'trivy -> core:8080',
        'trivy -> redis:6379',
        // the vulnerability database download: any address on 443
        'trivy -> apiserver:443',
        'trivy -> partner:443',
        'trivy -> internet:443',
        'registry -> redis:6379',
        'exporter -> core:8080',
        'exporter -> database:5432',
        'exporter -> redis:6379',
        'database-backup -> database:5432',
        'database-restore -> database:5432',
        'secrets -> apiserver:6443',
        'settings -> core:8080',
        'settings -> apiserver:6443',
        'monitoring -> core:8001',
        'monitoring -> registry:8001',
        'monitoring -> jobservice:8001',
        'monitoring -> exporter:8001',
        ...[
          'core',
          'portal',
          'registry',
          'jobservice',
          'trivy',
          'database',
          'redis',
          'exporter',
          'database-backup',
          'database-restore',
          'secrets',
          'settings',
        ].flatMap(DNS),
      ].sort(),
    );
  });

  test('opens nothing to ACME solvers unless an HTTP-01 challenge needs them', () => {
    const names = (override: Record<string, unknown>) =>
      ofKind(synthApp({ networkPolicies: ON, ...override }).objects, 'NetworkPolicy').map(
        (p) => p.metadata.name,
      );
    const acme = { type: 'acme', server: 'https://acme.example.test/directory', email: 'a@b.c' };

    expect(names({})).not.toContain('harbor-acme-http01-solver');
    expect(names({ tls: { ...acme, http01: {} } })).toContain('harbor-acme-http01-solver');
    expect(
      names({ tls: { ...acme, dns01: { rfc2136: { nameserver: '192.0.2.53' } } } }),
    ).not.toContain('harbor-acme-http01-solver');
    // through a Gateway, cert-manager starts the solver in the Gateway's namespace
    const gateway = (namespace: string) => ({
      tls: { ...acme, issuerKind: 'ClusterIssuer', http01: {} },
      exposure: { type: 'gatewayApi', gateway: { name: 'web', namespace } },
      networkPolicies: {
        ...ON,
        ingressController: { namespace, podLabels: { app: 'gateway' } },
      },
    });
    expect(names(gateway('gateway-system'))).not.toContain('harbor-acme-http01-solver');
    expect(names(gateway('harbor'))).toContain('harbor-acme-http01-solver');
  });

  test('refuses settings that call servers outside the cluster with no way out', () => {
    expect(() =>
      synthApp({
        networkPolicies: ON,
        settings: {
          registries: [{ name: 'dr', type: 'harbor', url: 'https://dr.example.test' }],
        },
      }),
    ).toThrow(
      /networkPolicies\.externalEgress: is empty, so core and jobservice cannot reach settings\.registries\[0\] \(https:\/\/dr\.example\.test\)/,
    );
    expect(() =>
      synthApp({
        networkPolicies: {
          ...ON,
          externalEgress: [{ cidrs: ['203.0.113.0/24'], ports: [443] }],
        },
        settings: {
          registries: [{ name: 'dr', type: 'harbor', url: 'https://dr.example.test' }],
        },
      }),
    ).not.toThrow();
  });

  test('denies what Harbor never needs', () => {
    const { objects } = synthApp({ networkPolicies: ON });
    const policies = ofKind(objects, 'NetworkPolicy');
    const pods = harborPods(objects);
    const pod = (name: string) => [...pods, ...OUTSIDE].find((p) => p.name === name)!;
    const allowed = (from: string, to: string, port: number) =>
      isAllowed(policies, { from: pod(from), to: pod(to), port });

    expect(allowed('portal', 'database', 5432)).toBe(false);
    expect(allowed('trivy', 'database', 5432)).toBe(false);
    expect(allowed('registry', 'database', 5432)).toBe(false);
    expect(allowed('registry', 'core', 8080)).toBe(false);
    expect(allowed('portal', 'core', 8080)).toBe(false);
    expect(allowed('ingress', 'registry', 5000)).toBe(false);
    expect(allowed('ingress', 'database', 5432)).toBe(false);
    expect(allowed('ingress', 'jobservice', 8080)).toBe(false);
    expect(allowed('ingress-other', 'core', 8080)).toBe(false);
    expect(allowed('apps', 'redis', 6379)).toBe(false);
    expect(allowed('apps', 'core', 8080)).toBe(false);
    expect(allowed('monitoring', 'core', 8080)).toBe(false);
    expect(allowed('secrets', 'core', 8080)).toBe(false);
    // nothing leaves the cluster unless listed
    expect(allowed('core', 'internet', 443)).toBe(false);
    expect(allowed('jobservice', 'internet', 443)).toBe(false);
    expect(allowed('portal', 'internet', 443)).toBe(false);
    expect(allowed('database-backup', 'internet', 443)).toBe(false);
  });

  test('isolates every pod of the namespace in both directions', () => {
    const { objects } = synthApp({ networkPolicies: ON });

    const deny = find(objects, 'NetworkPolicy', 'harbor-default-deny');

    expect(deny.metadata.namespace).toBe('harbor');
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    for (const policy of ofKind(objects, 'NetworkPolicy')) {
      expect(policy.metadata.namespace).toBe('harbor');
      // a rule without ports would admit every port
      for (const rule of [...(policy.spec.ingress ?? []), ...(policy.spec.egress ?? [])]) {
        expect(rule.ports.length).toBeGreaterThan(0);
        for (const p of rule.ports) expect(typeof p.port).toBe('number');
      }
    }
  });

  test('emits no policy unless asked', () => {
    const { objects } = synthApp();

    expect(ofKind(objects, 'NetworkPolicy')).toEqual([]);
  });

  test('lets the Jobs reach the API server on any address by default', () => {
    const { objects } = synthApp({ networkPolicies: ON });
    const policies = ofKind(objects, 'NetworkPolicy');
    const secrets = harborPods(objects).find((p) => p.name === 'secrets')!;
    const api = (ip: string, port: number) =>
      isAllowed(policies, { from: secrets, to: { name: 'api', ip }, port });

    expect(api('10.96.0.1', 443)).toBe(true);
    expect(api('172.18.0.2', 6443)).toBe(true);
    expect(api('2001:db8::1', 443)).toBe(true);
    expect(api('172.18.0.2', 8443)).toBe(false);
  });

  test('follows the configured ingress controller and DNS', () => {
    const { objects } = synthApp({
      networkPolicies: {
        ...ON,
        ingressController: {
          namespace: 'traefik',
          podLabels: { 'app.kubernetes.io/name': 'traefik' },
        },
        dns: { namespace: 'kube-system', podLabels: { 'k8s-app': 'node-local-dns' } },
      },
    });
    const policies = ofKind(objects, 'NetworkPolicy');
    const core = harborPods(objects).find((p) => p.name === 'core')!;
    const traefik = {
      name: 'traefik',
      namespace: 'traefik',
      labels: { 'app.kubernetes.io/name': 'traefik' },
    };
    const nodeDns = {
      name: 'dns',
      namespace: 'kube-system',
      labels: { 'k8s-app': 'node-local-dns' },
    };

    expect(isAllowed(policies, { from: traefik, to: core, port: 8080 })).toBe(true);
    expect(isAllowed(policies, { from: OUTSIDE[0], to: core, port: 8080 })).toBe(false);
    expect(isAllowed(policies, { from: core, to: nodeDns, port: 53, protocol: 'UDP' })).toBe(true);
    expect(isAllowed(policies, { from: core, to: OUTSIDE[2], port: 53, protocol: 'UDP' })).toBe(
      false,
    );
  });

  test('reaches an external database and Redis on their ports only', () => {
    const { objects } = synthApp({
      database: {
        type: 'external',
        host: 'postgres.example.test',
        port: 5433,
        password: { name: 'harbor-db', key: 'password' },
      },
      redis: { type: 'external', host: 'redis.example.test', port: 6380 },
      backup: { enabled: false },
      networkPolicies: { ...ON, database: { cidrs: ['10.20.0.0/16'] } },
    });
    const policies = ofKind(objects, 'NetworkPolicy');
    const pods = harborPods(objects);
    const pod = (name: string) => pods.find((p) => p.name === name)!;
    const reaches = (from: string, ip: string, port: number) =>
      isAllowed(policies, { from: pod(from), to: { name: 'server', ip }, port });

    expect(policies.map((p) => p.metadata.name)).not.toContain('harbor-database');
    expect(policies.map((p) => p.metadata.name)).not.toContain('harbor-redis');
    expect(reaches('core', '10.20.1.5', 5433)).toBe(true);
    expect(reaches('jobservice', '10.20.1.5', 5433)).toBe(true);
    expect(reaches('core', '10.30.1.5', 5433)).toBe(false);
    expect(reaches('core', '10.20.1.5', 5432)).toBe(false);
    expect(reaches('trivy', '10.20.1.5', 5433)).toBe(false);
    expect(reaches('registry', INTERNET, 6380)).toBe(true);
    expect(reaches('trivy', INTERNET, 6380)).toBe(true);
    expect(reaches('portal', INTERNET, 6380)).toBe(false);
  });

  test('keeps an air-gapped scanner inside the cluster', () => {
    const { objects } = synthApp({
      trivy: { airGapped: true, dbPreloaded: true },
      networkPolicies: ON,
    });
    const trivy = find(objects, 'NetworkPolicy', 'harbor-trivy');

    expect(trivy.spec.egress.flatMap((r: K8sObject) => r.to)).not.toContainEqual({
      ipBlock: { cidr: '0.0.0.0/0' },
    });
  });

  test('lets the Vault setup Job in Harbor namespace reach Vault and the API server', () => {
    const { objects } = synthApp({
      tls: {
        type: 'vault',
        server: 'https://vault.example.test:8200',
        serverCa: { name: 'vault-ca', key: 'ca.crt' },
        setup: { credentials: { name: 'vault-setup-token', key: 'token' } },
        inClusterServer: null,
      },
      networkPolicies: { ...ON, vault: { cidrs: ['192.0.2.80/28'] } },
    });
    const policies = ofKind(objects, 'NetworkPolicy');
    const job = podsOf(objects).find((p) => p.name.startsWith('Job/harbor-vault-pki-setup'))!;
    const reaches = (ip: string, port: number) =>
      isAllowed(policies, { from: job, to: { name: 'server', ip }, port });

    expect(job.namespace).toBe('harbor');
    expect(find(objects, 'NetworkPolicy', 'harbor-vault-pki-setup')).toBeDefined();
    expect(reaches('192.0.2.81', 8200)).toBe(true);
    expect(reaches('192.0.2.81', 443)).toBe(true);
    expect(reaches(INTERNET, 8200)).toBe(false);
    expect(reaches('192.0.2.81', 5432)).toBe(false);
  });

  test('reads ports from the Services, so a TLS port or a new Service follows', () => {
    const chart = Testing.chart();
    const service = (name: string, ports: kplus.ServicePort[]) =>
      new kplus.Service(chart, name, { ports });
    const policies = new HarborNetworkPolicies(chart, 'Policies', {
      instance: 'harbor',
      version: 'v2.15.2',
      services: {
        core: service('core', [{ name: 'https-web', port: 443, targetPort: 8443 }]),
        portal: service('portal', [{ port: 443, targetPort: 8443 }]),
        registry: service('registry', [{ port: 5443 }, { port: 8443 }]),
        jobservice: service('jobservice', [{ port: 443, targetPort: 8443 }]),
      },
    });
    policies.allowWorkload(
      'settings',
      { job: 'settings' },
      { calls: ['core'], kubernetesApi: true },
    );

    const objects = Testing.synth(chart);
    expectValidObjects(objects);
    const settings = { name: 'settings', namespace: undefined as any, labels: { job: 'settings' } };
    const coreLabels = {
      'app.kubernetes.io/name': 'harbor',
      'app.kubernetes.io/instance': 'harbor',
      'app.kubernetes.io/component': 'core',
    };
    const netpols = objects
      .filter((o) => o.kind === 'NetworkPolicy')
      .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: 'harbor' } }));
    const inHarbor = (e: Endpoint) => ({ ...e, namespace: 'harbor' });
    const core = inHarbor({ name: 'core', labels: coreLabels });

    expect(isAllowed(netpols, { from: inHarbor(settings), to: core, port: 8443 })).toBe(true);
    expect(isAllowed(netpols, { from: inHarbor(settings), to: core, port: 8080 })).toBe(false);
    expect(find(objects, 'NetworkPolicy', 'harbor-registry').spec.ingress[0].ports).toEqual([
      { protocol: 'TCP', port: 5443 },
      { protocol: 'TCP', port: 8443 },
    ]);
  });

  test('refuses a call to a component Harbor does not have', () => {
    const chart = new Chart(Testing.app(), 'test');
    const policies = new HarborNetworkPolicies(chart, 'Policies', {
      instance: 'harbor',
      version: 'v2.15.2',
      services: {},
    });

    expect(() => policies.allowWorkload('job', { job: 'x' }, { calls: ['cor'] })).toThrow(
      /job calls "cor", which is no component of this Harbor; name one of core, database, jobservice, portal, redis, registry, trivy/,
    );
  });
});

describe('the policy evaluator of the tests', () => {
  const policy = (name: string, spec: K8sObject) => ({
    kind: 'NetworkPolicy',
    metadata: { name, namespace: 'ns' },
    spec,
  });
  const a = { name: 'a', namespace: 'ns', labels: { app: 'a' } };
  const b = { name: 'b', namespace: 'ns', labels: { app: 'b' } };

  test('admits everything to and from pods no policy selects', () => {
    const only = [policy('c', { podSelector: { matchLabels: { app: 'c' } }, ingress: [] })];

    expect(isAllowed(only, { from: a, to: b, port: 80 })).toBe(true);
  });

  test('isolates only the directions a policy names, and adds policies up', () => {
    const ingressOnly = policy('deny-in', { podSelector: {}, policyTypes: ['Ingress'] });
    const allowB = policy('b', {
      podSelector: { matchLabels: { app: 'b' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 80 }] }],
    });

    expect(isAllowed([ingressOnly], { from: a, to: b, port: 80 })).toBe(false);
    expect(isAllowed([ingressOnly, allowB], { from: a, to: b, port: 80 })).toBe(true);
    expect(isAllowed([ingressOnly, allowB], { from: a, to: b, port: 81 })).toBe(false);
    expect(isAllowed([ingressOnly, allowB], { from: b, to: a, port: 80 })).toBe(false);
    expect(
      isAllowed([ingressOnly, allowB], { from: b, to: { name: 'x', ip: INTERNET }, port: 1 }),
    ).toBe(true);
  });
});

describe('network policy options', () => {
  const errorOf = (networkPolicies: Record<string, unknown>, override = {}) => {
    try {
      synthApp({ ...override, networkPolicies: { ...ON, ...networkPolicies } });
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected synthesis to fail');
  };

  test('rejects a malformed CIDR block', () => {
    expect(errorOf({ externalEgress: [{ cidrs: ['10.0.0.0'], ports: [443] }] })).toMatch(
      /networkPolicies\.externalEgress\[0\]\.cidrs\[0\]: "10\.0\.0\.0" is not a CIDR block/,
    );
    expect(errorOf({ kubernetesApi: { cidrs: ['10.0.0.0/33'], ports: [443] } })).toMatch(
      /networkPolicies\.kubernetesApi\.cidrs\[0\]: "10\.0\.0\.0\/33" is not a CIDR block/,
    );
  });

  test('rejects a block with host bits set', () => {
    expect(errorOf({ database: { cidrs: ['10.20.1.5/16'] } }, EXTERNAL_DB)).toMatch(
      /networkPolicies\.database\.cidrs\[0\]: "10\.20\.1\.5\/16" has bits set after the \/16/,
    );
  });

  test('rejects an empty list of blocks', () => {
    expect(errorOf({ trivyEgress: [{ cidrs: [], ports: [443] }] })).toMatch(
      /networkPolicies\.trivyEgress\[0\]\.cidrs: \[\] is empty; list the address blocks/,
    );
  });

  test('rejects an empty list of ports, which would mean every port', () => {
    expect(errorOf({ externalEgress: [{ cidrs: ['0.0.0.0/0'], ports: [] }] })).toMatch(
      /networkPolicies\.externalEgress\[0\]\.ports: \[\] is empty, which a policy reads as every/,
    );
  });

  test('rejects a port out of range', () => {
    expect(errorOf({ kubernetesApi: { cidrs: ['0.0.0.0/0'], ports: [70000] } })).toMatch(
      /networkPolicies\.kubernetesApi\.ports\[0\]: 70000 is not a TCP port/,
    );
  });

  test('rejects a namespace that is no DNS label', () => {
    expect(errorOf({ ingressController: { namespace: 'Ingress_Nginx' } })).toMatch(
      /networkPolicies\.ingressController\.namespace: "Ingress_Nginx" is not a DNS label/,
    );
  });

  test('rejects a malformed label key and value', () => {
    const message = errorOf({
      metricsScrapers: { namespace: 'monitoring', podLabels: { 'bad key': 'x', app: 'a b' } },
    });

    expect(message).toMatch(
      /networkPolicies\.metricsScrapers\.podLabels: "bad key" is not a label key/,
    );
    expect(message).toMatch(
      /networkPolicies\.metricsScrapers\.podLabels\.app: "a b" is not a label value/,
    );
  });

  test('rejects scanner egress without a scanner', () => {
    expect(
      errorOf(
        { trivyEgress: [{ cidrs: ['0.0.0.0/0'], ports: [443] }] },
        { trivy: { enabled: false } },
      ),
    ).toMatch(/networkPolicies\.trivyEgress: is set, but there is no scanner/);
  });

  test('rejects addresses of a database or Redis that is built in', () => {
    const message = errorOf({
      database: { cidrs: ['10.0.0.0/8'] },
      redis: { cidrs: ['10.0.0.0/8'] },
    });

    expect(message).toMatch(
      /networkPolicies\.database: names where an external database lives, but database\.type/,
    );
    expect(message).toMatch(
      /networkPolicies\.redis: names where an external redis lives, but redis\.type is internal/,
    );
  });

  test('rejects an unknown key', () => {
    expect(errorOf({ egress: [] })).toMatch(/networkPolicies\.egress: unknown key/);
  });

  test('checks CIDR blocks of both families', () => {
    expect(cidr('0.0.0.0/0')).toBeUndefined();
    expect(cidr('::/0')).toBeUndefined();
    expect(cidr('2001:db8::/32')).toBeUndefined();
    expect(cidr('::ffff:192.0.2.0/120')).toBeUndefined();
    expect(cidr('2001:db8::1/64')).toMatch(/has bits set after the \/64 prefix/);
    expect(cidr('2001:db8::/129')).toMatch(/is not a CIDR block/);
    expect(cidr('vault.example.test/32')).toMatch(/is not a CIDR block/);
  });
});

const EXTERNAL_DB = {
  database: {
    type: 'external',
    host: 'postgres.example.test',
    password: { name: 'harbor-db', key: 'password' },
  },
};
