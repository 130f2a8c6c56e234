/**
 * Internal TLS: the certificates cert-manager is asked for, the Secrets each pod mounts, the
 * URLs and ports that switch to HTTPS, and, with the real openssl and nginx (Debian packages
 * `openssl`, `nginx`), that certificates with the requested names verify for the names
 * Harbor's components call each other by and that the synthesized portal config serves them.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { Harbor, HarborProps } from '../../lib/harbor/harbor';
import { HarborDatabase } from '../../lib/harbor/database';
import { HarborTls } from '../../lib/harbor/ingress';
import { HarborRedis } from '../../lib/harbor/redis';
import { IssuerKind } from '../../lib/pki/issuer-ref';
import { TestPki } from '../support/certificates';
import { freePort, run, startDaemon, stopDaemon, waitUntil } from '../support/processes';
import { expectValidObjects } from '../support/schema';
import {
  K8sObject,
  containerOf,
  envOf,
  find,
  harborOnly,
  mountAt,
  ofKind,
  podSpec,
  synthApp,
} from '../support/synth';

const ON = { internalTls: { enabled: true } };
const COMPONENTS = ['core', 'jobservice', 'portal', 'registry', 'trivy'] as const;

/** The workload and containers that serve with a component's certificate. */
const SERVERS: Record<(typeof COMPONENTS)[number], [string, string, string[]]> = {
  core: ['Deployment', 'harbor-core', ['core']],
  jobservice: ['Deployment', 'harbor-jobservice', ['jobservice']],
  portal: ['Deployment', 'harbor-portal', ['portal']],
  registry: ['Deployment', 'harbor-registry', ['registry', 'registryctl']],
  trivy: ['StatefulSet', 'harbor-trivy', ['trivy']],
};

const errorOf = (override: Record<string, unknown>): string => {
  try {
    synthApp(override);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('synthesis succeeded');
};

/** Every URL in the env and ConfigMaps of Harbor's namespace that names a component. */
function internalUrls(objects: K8sObject[]): Array<{ where: string; url: URL }> {
  const services = new Set(ofKind(objects, 'Service').map((s) => s.metadata.name));
  const found: Array<{ where: string; url: URL }> = [];
  const consider = (where: string, value: unknown) => {
    if (typeof value !== 'string' || !/^https?:\/\//.test(value)) return;
    const url = new URL(value);
    if (services.has(url.hostname) || url.hostname === '127.0.0.1') found.push({ where, url });
  };
  for (const configMap of ofKind(objects, 'ConfigMap')) {
    for (const [key, value] of Object.entries(configMap.data ?? {})) {
      consider(`ConfigMap ${configMap.metadata.name} ${key}`, value);
    }
  }
  for (const workload of objects.filter((o) => o.spec?.template?.spec)) {
    for (const container of podSpec(workload).containers) {
      for (const entry of container.env ?? []) {
        consider(`${workload.metadata.name}/${container.name} ${entry.name}`, entry.value);
      }
    }
  }
  return found;
}

/** The container ports of the pods a Service selects. */
function podPorts(objects: K8sObject[], service: K8sObject): number[] {
  const selector = service.spec.selector as Record<string, string>;
  return objects
    .filter((o) => o.spec?.template?.metadata?.labels)
    .filter((o) =>
      Object.entries(selector).every(([k, v]) => o.spec.template.metadata.labels[k] === v),
    )
    .flatMap((o) => podSpec(o).containers.flatMap((c: K8sObject) => c.ports ?? []))
    .map((p: K8sObject) => p.containerPort);
}

describe('internal TLS', () => {
  let objects: K8sObject[];

  beforeAll(() => {
    objects = harborOnly(synthApp({ ...ON, metrics: { enabled: true } }).objects);
  });

  test('changes nothing when it is off', () => {
    const plain = synthApp().objects;

    expect(synthApp({ internalTls: { enabled: false } }).objects).toEqual(plain);
    expect(plain.filter((o) => /internal-(tls|ca)/.test(o.metadata.name))).toEqual([]);
    expect(find(plain, 'ConfigMap', 'harbor-core-env').data.CORE_URL).toBe('http://harbor-core:80');
  });

  test.each(COMPONENTS)(
    'gives %s a certificate for its Service name, mounted where Harbor reads it',
    (component) => {
      const certificate = find(objects, 'Certificate', `harbor-${component}-internal-tls`);
      const [kind, name, containers] = SERVERS[component];
      const workload = find(objects, kind, name);
      const service = find(objects, 'Service', `harbor-${component}`);

      expect(certificate.spec.commonName).toBe(service.metadata.name);
      expect(certificate.spec.dnsNames[0]).toBe(service.metadata.name);
      expect(certificate.spec.usages).toEqual(
        expect.arrayContaining(['server auth', 'client auth']),
      );
      for (const containerName of containers) {
        const mounted = mountAt(
          workload,
          containerOf(workload, containerName),
          `/etc/harbor/ssl/${component}`,
        );
        expect(mounted?.volume.secret.secretName).toBe(certificate.spec.secretName);
        expect(mounted?.mount.subPath).toBeUndefined();
      }
    },
  );

  test('lets core call itself on localhost and 127.0.0.1', () => {
    const certificate = find(objects, 'Certificate', 'harbor-core-internal-tls');

    expect(certificate.spec.dnsNames).toEqual(['harbor-core', 'localhost']);
    expect(certificate.spec.ipAddresses).toEqual(['127.0.0.1']);
    expect(find(objects, 'ConfigMap', 'harbor-core-env').data.CORE_LOCAL_URL).toBe(
      'https://127.0.0.1:8443',
    );
  });

  test('signs every certificate with a CA of its own, in Harbor namespace', () => {
    const issuer = find(objects, 'Issuer', 'harbor-internal-ca');
    const ca = find(objects, 'Certificate', 'harbor-internal-ca-root');

    expect(issuer.spec.ca.secretName).toBe(ca.spec.secretName);
    expect(ca.spec.isCA).toBe(true);
    for (const component of COMPONENTS) {
      expect(
        find(objects, 'Certificate', `harbor-${component}-internal-tls`).spec.issuerRef,
      ).toEqual({
        group: 'cert-manager.io',
        kind: 'Issuer',
        name: 'harbor-internal-ca',
      });
    }
  });

  test('switches every internal URL to https on a port its Service has', () => {
    const urls = internalUrls(objects);

    expect(urls.map((u) => u.where)).toEqual(
      expect.arrayContaining([
        'ConfigMap harbor-core-env CORE_URL',
        'ConfigMap harbor-core-env TRIVY_ADAPTER_URL',
        'harbor-jobservice/jobservice REGISTRY_CONTROLLER_URL',
      ]),
    );
    for (const { where, url } of urls) {
      expect(`${where} ${url.protocol}`).toBe(`${where} https:`);
      const port = Number(url.port || 443);
      if (url.hostname === '127.0.0.1') {
        expect(podPorts(objects, find(objects, 'Service', 'harbor-core'))).toContain(port);
        continue;
      }
      const service = find(objects, 'Service', url.hostname);
      const servicePort = service.spec.ports.find((p: K8sObject) => p.port === port);
      expect(`${where} -> ${servicePort?.port}`).toBe(`${where} -> ${port}`);
      expect(podPorts(objects, service)).toContain(servicePort.targetPort);
    }
  });

  test('sends the exporter to core over https, trusting the internal CA', () => {
    const exporter = find(objects, 'Deployment', 'harbor-exporter');
    const env = find(objects, 'ConfigMap', 'harbor-exporter-env').data;
    const ca = mountAt(exporter, containerOf(exporter, 'exporter'), '/etc/harbor/ssl/core/ca.crt');

    expect([env.HARBOR_SERVICE_SCHEME, env.HARBOR_SERVICE_PORT]).toEqual(['https', '443']);
    expect(ca?.volume.secret).toMatchObject({
      secretName: 'harbor-core-internal-tls',
      items: [{ key: 'ca.crt', path: 'ca.crt' }],
    });
  });

  test('probes every server over HTTPS on the port it listens on', () => {
    for (const [kind, name, containers] of Object.values(SERVERS)) {
      const workload = find(objects, kind, name);
      for (const containerName of containers) {
        const container = containerOf(workload, containerName);
        const ports = container.ports.map((p: K8sObject) => p.containerPort);
        for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
          expect(container[probe].httpGet.scheme).toBe('HTTPS');
          expect(ports).toContain(container[probe].httpGet.port);
        }
      }
    }
  });

  test('configures each server for TLS with the mounted files', () => {
    const registry = find(objects, 'ConfigMap', 'harbor-registry').data;
    const jobservice = find(objects, 'ConfigMap', 'harbor-jobservice').data['config.yml'];
    const trivy = containerOf(find(objects, 'StatefulSet', 'harbor-trivy'), 'trivy');
    const portal = find(objects, 'ConfigMap', 'harbor-portal').data['nginx.conf'];

    expect(registry['config.yml']).toContain(
      [
        'http:',
        '  addr: :5443',
        '  relativeurls: false',
        '  tls:',
        '    certificate: /etc/harbor/ssl/registry/tls.crt',
        '    key: /etc/harbor/ssl/registry/tls.key',
        '    minimumtls: tls1.2',
      ].join('\n'),
    );
    expect(registry['ctl-config.yml']).toMatch(
      /protocol: https\nport: 8443\nhttps_config:\n {2}cert: \/etc\/harbor\/ssl\/registry\/tls.crt\n {2}key: \/etc\/harbor\/ssl\/registry\/tls.key/,
    );
    expect(jobservice).toMatch(
      /protocol: https\nport: 8443\nhttps_config:\n {2}cert: \/etc\/harbor\/ssl\/jobservice\/tls.crt/,
    );
    expect(envOf(trivy, 'SCANNER_API_SERVER_ADDR')).toBe(':8443');
    expect(envOf(trivy, 'SCANNER_API_SERVER_TLS_CERTIFICATE')).toBe(
      '/etc/harbor/ssl/trivy/tls.crt',
    );
    expect(envOf(trivy, 'SCANNER_API_SERVER_TLS_KEY')).toBe('/etc/harbor/ssl/trivy/tls.key');
    expect(portal).toContain('listen 8443 ssl;');
    expect(portal).toContain('ssl_certificate_key /etc/harbor/ssl/portal/tls.key;');
  });

  test.each([
    ['harbor-core', 'core', 'core'],
    ['harbor-jobservice', 'jobservice', 'jobservice'],
    ['harbor-registry', 'registry', 'registry'],
    ['harbor-registry', 'registryctl', 'registry'],
  ])('points %s/%s at its key pair with INTERNAL_TLS_*', (name, containerName, component) => {
    const container = containerOf(find(objects, 'Deployment', name), containerName);
    const dir = `/etc/harbor/ssl/${component}`;

    expect(envOf(container, 'INTERNAL_TLS_ENABLED')).toBe('true');
    expect(envOf(container, 'INTERNAL_TLS_CERT_PATH')).toBe(`${dir}/tls.crt`);
    expect(envOf(container, 'INTERNAL_TLS_KEY_PATH')).toBe(`${dir}/tls.key`);
    expect(envOf(container, 'INTERNAL_TLS_TRUST_CA_PATH')).toBe(`${dir}/ca.crt`);
  });

  test('has ingress-nginx speak HTTPS to port 443 of core and the portal', () => {
    const ingress = find(objects, 'Ingress', 'harbor');
    const backends = ingress.spec.rules[0].http.paths.map((p: K8sObject) => p.backend.service);

    expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/backend-protocol']).toBe(
      'HTTPS',
    );
    expect(new Set(backends.map((b: K8sObject) => b.name))).toEqual(
      new Set(['harbor-core', 'harbor-portal']),
    );
    for (const backend of backends) {
      expect(backend.port.number).toBe(443);
      const service = find(objects, 'Service', backend.name);
      expect(service.spec.ports.map((p: K8sObject) => p.port)).toContain(443);
    }
  });

  test('has Traefik verify core and the portal against the internal CA', () => {
    const traefik = harborOnly(synthApp({ ...ON, exposure: { type: 'traefik' } }).objects);

    for (const component of ['core', 'portal']) {
      const service = find(traefik, 'Service', `harbor-${component}`);
      const transport = find(traefik, 'ServersTransport', `harbor-${component}`);
      const certificate = find(traefik, 'Certificate', `harbor-${component}-internal-tls`);

      expect(service.metadata.annotations).toMatchObject({
        'traefik.ingress.kubernetes.io/service.serversscheme': 'https',
        'traefik.ingress.kubernetes.io/service.serverstransport': `harbor-harbor-${component}@kubernetescrd`,
      });
      expect(transport.spec).toEqual({
        serverName: certificate.spec.dnsNames[0],
        rootCAs: [{ secret: certificate.spec.secretName }],
      });
    }
  });

  test('signs with the issuer given, without a CA of its own', () => {
    const given = harborOnly(
      synthApp({
        internalTls: { enabled: true, issuer: { name: 'vault-internal', kind: 'ClusterIssuer' } },
      }).objects,
    );

    expect(ofKind(given, 'Issuer').filter((i) => /internal/.test(i.metadata.name))).toEqual([]);
    expect(find(given, 'Certificate', 'harbor-registry-internal-tls').spec.issuerRef).toEqual({
      group: 'cert-manager.io',
      kind: 'ClusterIssuer',
      name: 'vault-internal',
    });
  });

  test('asks for the lifetime and renewal window given', () => {
    const spec = find(
      harborOnly(synthApp({ internalTls: { enabled: true, duration: '720h' } }).objects),
      'Certificate',
      'harbor-portal-internal-tls',
    ).spec;

    expect([spec.duration, spec.renewBefore]).toEqual(['720h', '14400m']);
    expect(find(objects, 'Certificate', 'harbor-portal-internal-tls').spec).toMatchObject({
      duration: '8760h',
      renewBefore: '720h',
    });
  });
});

describe('the Harbor construct with internal TLS', () => {
  const props: HarborProps = {
    host: 'registry.example.test',
    tls: HarborTls.fromIssuer({ name: 'public', kind: IssuerKind.CLUSTER_ISSUER }),
    registryStorage: { storageClassName: 'fast', size: '10Gi' },
    database: HarborDatabase.internal({ storage: { storageClassName: 'fast', size: '1Gi' } }),
    redis: HarborRedis.internal({ storage: { storageClassName: 'fast', size: '1Gi' } }),
    internalTls: { enabled: true },
  };

  test('offers the core URL and the CA a client of core must trust', () => {
    const scoped = new Chart(Testing.app(), 'harbor', { namespace: 'harbor' });
    const harbor = new Harbor(scoped, 'Harbor', props);

    expectValidObjects(scoped.toJson());
    expect(harbor.coreUrl).toBe('https://harbor-core:443');
    expect(harbor.internalCa).toEqual({ name: 'harbor-core-internal-tls', key: 'ca.crt' });
    expect(harbor.internalTls!.certificates.core!.name).toBe(harbor.internalCa!.name);
  });

  test('keeps the plain core URL without it', () => {
    const scoped = new Chart(Testing.app(), 'harbor', { namespace: 'harbor' });
    const harbor = new Harbor(scoped, 'Harbor', { ...props, internalTls: undefined });

    expect(harbor.coreUrl).toBe('http://harbor-core:80');
    expect(harbor.internalCa).toBeUndefined();
  });
});

describe('internal TLS errors', () => {
  test('refuses a renewal window as long as the certificates', () => {
    expect(
      errorOf({ internalTls: { enabled: true, duration: '720h', renewBefore: '720h' } }),
    ).toMatch(/internalTls\.renewBefore: "720h" is not shorter than internalTls\.duration "720h"/);
  });

  test('refuses certificates that outlive the internal CA', () => {
    expect(errorOf({ internalTls: { enabled: true, duration: '90000h' } })).toMatch(
      /internalTls\.duration: "90000h" exceeds the longest lifetime the internal CA lives/,
    );
  });

  test("refuses a lifetime the issuer's limit cuts short", () => {
    expect(
      errorOf({
        internalTls: {
          enabled: true,
          duration: '8760h',
          issuer: { name: 'vault-internal', maxDuration: '720h' },
        },
      }),
    ).toMatch(
      /internalTls\.duration: "8760h" exceeds the longest lifetime issuer "vault-internal" grants/,
    );
  });

  test('refuses a lifetime too short for cert-manager', () => {
    const problems = Harbor.check({
      host: 'registry.example.test',
      tls: HarborTls.fromSecret('harbor-tls'),
      registryStorage: { storageClassName: 'fast', size: '10Gi' },
      database: HarborDatabase.internal({ storage: { storageClassName: 'fast', size: '1Gi' } }),
      redis: HarborRedis.internal({ storage: { storageClassName: 'fast', size: '1Gi' } }),
      internalTls: { enabled: true, duration: '30m', issuer: { name: 'Vault' } },
    });

    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/internalTls\.duration: "30m" is shorter than 1h/),
        expect.stringMatching(/internalTls\.issuer\.name: "Vault" is not a Kubernetes object name/),
      ]),
    );
  });

  test('refuses the Gateway API, whose HTTPS backends need BackendTLSPolicy', () => {
    expect(
      errorOf({
        ...ON,
        exposure: { type: 'gatewayApi', gateway: { name: 'public', namespace: 'gateways' } },
      }),
    ).toMatch(/internalTls\.enabled: true cannot be combined with exposure gatewayApi/);
  });
});

describe('certificates with the requested names, checked by openssl and nginx', () => {
  let dir: string;
  let pki: TestPki;
  let spec: (component: string) => K8sObject;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'internal-tls-test-'));
    pki = new TestPki(path.join(dir, 'pki'));
    const objects = harborOnly(synthApp(ON).objects);
    spec = (component) => find(objects, 'Certificate', `harbor-${component}-internal-tls`).spec;
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A leaf with exactly the SANs the Certificate asks cert-manager for. */
  const leafFor = (component: string, ca: ReturnType<TestPki['root']>) => {
    const { dnsNames, ipAddresses = [] } = spec(component);
    return pki.leaf(component, ca, {
      commonName: spec(component).commonName,
      subjectAltNames: [
        ...dnsNames.map((n: string) => `DNS:${n}`),
        ...ipAddresses.map((ip: string) => `IP:${ip}`),
      ],
    });
  };

  test('verifies core for each name Harbor calls it by', () => {
    const ca = pki.root('internal-ca');
    const core = leafFor('core', ca);
    const verify = (...check: string[]) =>
      execFileSync('openssl', ['verify', '-CAfile', ca.certFile, ...check, core.certFile], {
        encoding: 'utf8',
        stdio: 'pipe',
      });

    // every host name an env var or a config file of the output calls core by
    const text = JSON.stringify(synthApp(ON).objects);
    const hosts = [
      ...new Set([...text.matchAll(/https:\/\/(harbor-core[^:/"\\]*)/g)].map((m) => m[1])),
    ];
    expect(hosts.length).toBeGreaterThan(0);
    for (const host of hosts) expect(verify('-verify_hostname', host)).toContain(': OK');
    expect(verify('-verify_hostname', 'localhost')).toContain(': OK');
    expect(verify('-verify_ip', '127.0.0.1')).toContain(': OK');
    expect(() => verify('-verify_hostname', 'harbor-portal')).toThrow();
  });

  test('serves the portal over TLS with the synthesized nginx config', async () => {
    const ca = pki.root('portal-ca');
    const portal = leafFor('portal', ca);
    const root = path.join(dir, 'html');
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'index.html'), '<app-root>portal</app-root>\n');
    for (const p of [dir, root]) fs.chmodSync(p, 0o755);
    for (const f of [portal.certFile, portal.keyFile]) fs.chmodSync(f, 0o644);
    fs.chmodSync(path.dirname(portal.certFile), 0o755);

    const port = await freePort();
    const conf = find(harborOnly(synthApp(ON).objects), 'ConfigMap', 'harbor-portal')
      .data['nginx.conf'].replace('listen 8443 ssl;', `listen 127.0.0.1:${port} ssl;`)
      .replace('/etc/harbor/ssl/portal/tls.crt', portal.certFile)
      .replace('/etc/harbor/ssl/portal/tls.key', portal.keyFile)
      .replace(/^(\s*root\s+)\S+;/m, `$1${root};`)
      .replace('pid /tmp/nginx.pid;', `pid ${path.join(dir, 'nginx.pid')};`)
      .replace(/(\w+_temp_path) \/tmp\//g, `$1 ${dir}/`);
    const file = path.join(dir, 'nginx.conf');
    fs.writeFileSync(file, conf);
    const files = { stdout: path.join(dir, 'stdout'), stderr: path.join(dir, 'stderr') };
    const nginx = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
    const test = await run(nginx, ['-t', '-p', `${dir}/`, '-c', file, '-e', `${dir}/e.log`], {
      timeoutMs: 10_000,
      outputFiles: files,
    });
    expect(test.code).toBe(0);

    const daemon = startDaemon(
      'nginx',
      nginx,
      ['-p', `${dir}/`, '-c', file, '-e', `${dir}/e.log`, '-g', 'daemon off;'],
      { outputFiles: files },
    );
    const get = () =>
      new Promise<string>((resolve, reject) => {
        const req = https.get(
          {
            host: '127.0.0.1',
            port,
            path: '/',
            servername: 'harbor-portal',
            ca: ca.pem,
            agent: false,
            timeout: 5_000,
          },
          (res) => {
            let body = '';
            res.on('data', (chunk) => (body += chunk));
            res.on('end', () => resolve(body));
          },
        );
        req.on('error', reject);
      });
    try {
      await waitUntil(daemon, () => get().then(() => true), { timeoutMs: 10_000, intervalMs: 50 });

      expect(await get()).toContain('<app-root>portal</app-root>');
    } finally {
      await stopDaemon(daemon);
    }
  });
});
