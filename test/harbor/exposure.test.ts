import { Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import {
  Harbor,
  HarborDatabase,
  HarborExposure,
  HarborHttpRoute,
  HarborIngress,
  HarborRedis,
  HarborTls,
  IssuerKind,
} from '../../lib';
import * as certmanager from '../../imports/cert-manager.io';
import { expectValidObjects } from '../support/schema';
import { K8sObject, find, ofKind, synthApp } from '../support/synth';

const GATEWAY = { name: 'public', namespace: 'gateway-system', sectionName: 'https' };
const ACME = {
  type: 'acme',
  server: 'https://acme.example.test/directory',
  email: 'a@example.test',
};

/** The problems a configuration is refused with, as one text. */
function errorOf(override: Record<string, unknown>): string {
  try {
    synthApp(override);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
}

/** `path -> service:port` of every rule of an Ingress. */
function ingressRoutes(ingress: K8sObject): Record<string, string> {
  return Object.fromEntries(
    ingress.spec.rules[0].http.paths.map((p: any) => [
      p.path,
      `${p.backend.service.name}:${p.backend.service.port.number}`,
    ]),
  );
}

function libraryProps() {
  return {
    host: 'harbor.example.test',
    registryStorage: { storageClassName: 'nfs-csi', size: '10Gi' },
    database: HarborDatabase.internal({ storage: { storageClassName: 'standard', size: '1Gi' } }),
    redis: HarborRedis.internal({ storage: { storageClassName: 'standard', size: '1Gi' } }),
  };
}

describe('ingress-nginx exposure', () => {
  test('is the default, with the settings large pushes need', () => {
    const ingress = find(synthApp().objects, 'Ingress', 'harbor');

    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.metadata.annotations).toEqual({
      'nginx.ingress.kubernetes.io/proxy-body-size': '0',
      'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '900',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '900',
      'nginx.ingress.kubernetes.io/ssl-redirect': 'true',
    });
  });

  test('keeps ingressClassName working without an exposure section', () => {
    const ingress = find(
      synthApp({ ingressClassName: 'nginx-internal' }).objects,
      'Ingress',
      'harbor',
    );

    expect(ingress.spec.ingressClassName).toBe('nginx-internal');
  });

  test('takes the class from the exposure section', () => {
    const ingress = find(
      synthApp({ exposure: { type: 'nginx', className: 'nginx-public' } }).objects,
      'Ingress',
      'harbor',
    );

    expect(ingress.spec.ingressClassName).toBe('nginx-public');
    expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size']).toBe('0');
  });

  test('refuses ingressClassName that disagrees with the exposure section', () => {
    expect(
      errorOf({
        ingressClassName: 'nginx-internal',
        exposure: { type: 'traefik' },
      }),
    ).toMatch(
      /ingressClassName: "nginx-internal" is the class of the ingress-nginx exposure without an exposure section, and exposure\.type is "traefik"; set the class in exposure\.className only/,
    );
  });

  test('refuses ingressClassName and an exposure together in the library', () => {
    const problems = Harbor.check({
      ...libraryProps(),
      tls: HarborTls.fromSecret('tls'),
      ingressClassName: 'nginx',
      exposure: HarborExposure.traefik(),
    });

    expect(problems).toEqual([
      expect.stringMatching(
        /^ingressClassName: "nginx" is the short form of an ingress-nginx exposure, and exposure is given too/,
      ),
    ]);
  });
});

describe('Traefik exposure', () => {
  test('writes an Ingress on the TLS entry point with no buffering middleware', () => {
    const { objects } = synthApp({ exposure: { type: 'traefik' } });

    const ingress = find(objects, 'Ingress', 'harbor');
    const certificate = find(objects, 'Certificate', 'harbor-tls');

    expect(ingress.spec.ingressClassName).toBe('traefik');
    expect(ingress.metadata.annotations).toEqual({
      'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure',
      'traefik.ingress.kubernetes.io/router.tls': 'true',
    });
    expect(ingressRoutes(ingress)).toEqual({
      '/api/': 'harbor-core:80',
      '/service/': 'harbor-core:80',
      '/v2/': 'harbor-core:80',
      '/c/': 'harbor-core:80',
      '/': 'harbor-portal:80',
    });
    expect(ingress.spec.tls).toEqual([
      { hosts: ['harbor.example.test'], secretName: certificate.spec.secretName },
    ]);
    expect(certificate.metadata.namespace).toBe('harbor');
    expect(ofKind(objects, 'Middleware')).toEqual([]);
  });

  test('takes its class and entry points from the exposure section', () => {
    const ingress = find(
      synthApp({
        exposure: { type: 'traefik', className: 'traefik-edge', entryPoints: ['edge', 'edge6'] },
      }).objects,
      'Ingress',
      'harbor',
    );

    expect(ingress.spec.ingressClassName).toBe('traefik-edge');
    expect(ingress.metadata.annotations['traefik.ingress.kubernetes.io/router.entrypoints']).toBe(
      'edge,edge6',
    );
  });

  test('answers ACME HTTP-01 through an Ingress of the Traefik class', () => {
    const { objects } = synthApp({ tls: ACME, exposure: { type: 'traefik' } });

    expect(find(objects, 'Issuer', 'harbor-acme').spec.acme.solvers).toEqual([
      { http01: { ingress: { ingressClassName: 'traefik' } } },
    ]);
  });

  test('refuses an entry point name Traefik cannot have', () => {
    expect(errorOf({ exposure: { type: 'traefik', entryPoints: ['web secure'] } })).toMatch(
      /exposure\.entryPoints\[0\]: "web secure" is not a Traefik entry point name/,
    );
  });

  test('refuses an empty list of entry points', () => {
    expect(errorOf({ exposure: { type: 'traefik', entryPoints: [] } })).toMatch(
      /exposure\.entryPoints: \[\] is empty; name the TLS entry point/,
    );
  });
});

describe('Gateway API exposure', () => {
  // the Vault issuer must serve the Gateway's namespace too
  const gatewayApp = (override: Record<string, unknown> = {}) =>
    synthApp({
      tls: { issuerKind: 'ClusterIssuer' },
      exposure: { type: 'gatewayApi', gateway: GATEWAY },
      ...override,
    });

  test('writes an HTTPRoute on the Gateway instead of an Ingress', () => {
    const { objects } = gatewayApp();

    const route = find(objects, 'HTTPRoute', 'harbor');

    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.metadata.namespace).toBe('harbor');
    expect(route.spec.parentRefs).toEqual([
      {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: 'public',
        namespace: 'gateway-system',
        sectionName: 'https',
      },
    ]);
    expect(route.spec.hostnames).toEqual(['harbor.example.test']);
    expect(ofKind(objects, 'Ingress')).toEqual([]);
  });

  test('routes the API, token service and registry to core and the rest to the portal', () => {
    const { objects } = gatewayApp();

    const route = find(objects, 'HTTPRoute', 'harbor');
    const services = new Map(
      ofKind(objects, 'Service').map((s) => [
        s.metadata.name,
        s.spec.ports.map((p: any) => p.port),
      ]),
    );
    const routes = route.spec.rules.flatMap((rule: any) =>
      rule.matches.map((m: any) => [
        `${m.path.type} ${m.path.value}`,
        `${rule.backendRefs[0].name}:${rule.backendRefs[0].port}`,
      ]),
    );

    expect(Object.fromEntries(routes)).toEqual({
      'PathPrefix /api/': 'harbor-core:80',
      'PathPrefix /service/': 'harbor-core:80',
      'PathPrefix /v2/': 'harbor-core:80',
      'PathPrefix /c/': 'harbor-core:80',
      'PathPrefix /': 'harbor-portal:80',
    });
    for (const rule of route.spec.rules) {
      expect(services.get(rule.backendRefs[0].name)).toContain(rule.backendRefs[0].port);
    }
  });

  test('turns the Gateway timeouts off for pushes and pulls', () => {
    const route = find(gatewayApp().objects, 'HTTPRoute', 'harbor');

    const core = route.spec.rules.find((r: any) => r.backendRefs[0].name === 'harbor-core');

    expect(core.timeouts).toEqual({ request: '0s', backendRequest: '0s' });
  });

  test("issues the certificate into the Gateway's namespace", () => {
    const { objects } = gatewayApp();

    const certificate = find(objects, 'Certificate', 'harbor-tls');

    expect(certificate.metadata.namespace).toBe('gateway-system');
    expect(certificate.spec.secretName).toBe('harbor-tls');
    expect(certificate.spec.dnsNames).toEqual(['harbor.example.test']);
    expect(certificate.spec.issuerRef).toMatchObject({ kind: 'ClusterIssuer' });
  });

  test("keeps an Issuer when the Gateway is in Harbor's namespace", () => {
    const { objects } = synthApp({
      exposure: { type: 'gatewayApi', gateway: { name: 'public', namespace: 'harbor' } },
    });

    const certificate = find(objects, 'Certificate', 'harbor-tls');
    const route = find(objects, 'HTTPRoute', 'harbor');

    expect(certificate.metadata.namespace).toBe('harbor');
    expect(certificate.spec.issuerRef.kind).toBe('Issuer');
    expect(route.spec.parentRefs[0].sectionName).toBeUndefined();
  });

  test("refuses an Issuer made in Harbor's namespace for a Gateway elsewhere", () => {
    expect(errorOf({ exposure: { type: 'gatewayApi', gateway: GATEWAY } })).toMatch(
      /tls\.issuerKind: "Issuer" is made in Harbor's namespace "harbor" and cannot issue the Gateway's certificate, which must be in exposure\.gateway\.namespace "gateway-system"; use "ClusterIssuer"/,
    );
  });

  test('answers ACME HTTP-01 through the Gateway', () => {
    const { objects } = synthApp({
      tls: { ...ACME, issuerKind: 'ClusterIssuer' },
      exposure: { type: 'gatewayApi', gateway: GATEWAY },
    });

    expect(find(objects, 'ClusterIssuer', 'harbor-acme').spec.acme.solvers).toEqual([
      {
        http01: {
          gatewayHTTPRoute: {
            parentRefs: [
              {
                group: 'gateway.networking.k8s.io',
                kind: 'Gateway',
                name: 'public',
                namespace: 'gateway-system',
              },
            ],
          },
        },
      },
    ]);
    expect(find(objects, 'Certificate', 'harbor-tls').metadata.namespace).toBe('gateway-system');
  });

  test('refuses an HTTP-01 Ingress class with a Gateway', () => {
    expect(
      errorOf({
        tls: { ...ACME, issuerKind: 'ClusterIssuer', http01: { ingressClassName: 'nginx' } },
        exposure: { type: 'gatewayApi', gateway: GATEWAY },
      }),
    ).toMatch(
      /tls\.http01\.ingressClassName: "nginx" names an Ingress class, but exposure\.type is "gatewayApi"/,
    );
  });

  test('refuses a listener name the Gateway cannot have', () => {
    expect(
      errorOf({ exposure: { type: 'gatewayApi', gateway: { ...GATEWAY, sectionName: 'HTTPS' } } }),
    ).toMatch(/exposure\.gateway\.sectionName: "HTTPS" is not a listener name/);
  });

  test('skips the Argo CD dry run of the HTTPRoute and the other custom resources', () => {
    const { objects } = gatewayApp();

    const annotation = (o: K8sObject) =>
      o.metadata.annotations?.['argocd.argoproj.io/sync-options'];

    expect(annotation(find(objects, 'HTTPRoute', 'harbor'))).toBe(
      'SkipDryRunOnMissingResource=true',
    );
    expect(annotation(find(objects, 'Certificate', 'harbor-tls'))).toBe(
      'SkipDryRunOnMissingResource=true',
    );
    expect(annotation(find(objects, 'Deployment', 'harbor-core'))).toBeUndefined();
    expect(annotation(find(objects, 'Namespace', 'harbor'))).toBe('Delete=false');
  });

  test('leaves the Argo CD annotations out without Argo CD', () => {
    const route = find(gatewayApp({ argocd: null }).objects, 'HTTPRoute', 'harbor');

    expect(route.metadata.annotations).toBeUndefined();
  });

  test('refuses in the library an Issuer of this app in another namespace', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'harbor', { namespace: 'harbor' });
    new certmanager.Issuer(chart, 'Local', {
      metadata: { name: 'local' },
      spec: { selfSigned: {} },
    });
    new Harbor(chart, 'Harbor', {
      ...libraryProps(),
      tls: HarborTls.fromIssuer({ name: 'local', kind: IssuerKind.ISSUER }),
      exposure: HarborExposure.gatewayApi({ gateway: GATEWAY }),
    });

    expect(() => Testing.synth(chart)).toThrow(
      /tls: Issuer "local" is in namespace "harbor" and cannot issue the Gateway's certificate in "gateway-system"/,
    );
  });

  test('serves a provided Secret by name from the library, all objects valid', () => {
    const chart = new Chart(Testing.app(), 'harbor', { namespace: 'harbor' });
    const harbor = new Harbor(chart, 'Harbor', {
      ...libraryProps(),
      tls: HarborTls.fromSecret('harbor-commercial'),
      exposure: HarborExposure.gatewayApi({ gateway: GATEWAY }),
    });

    const objects = Testing.synth(chart);

    expectValidObjects(objects);
    expect(harbor.ingress).toBeUndefined();
    expect(harbor.httpRoute?.tlsSecretName).toBe('harbor-commercial');
    expect(ofKind(objects, 'Certificate').map((c) => c.metadata.name)).not.toContain('harbor-tls');
    expect(ofKind(objects, 'HTTPRoute')).toHaveLength(1);
  });

  test('is refused by the Ingress construct, and the other exposures by the route', () => {
    const chart = new Chart(Testing.app(), 'harbor', { namespace: 'harbor' });
    const service = (name: string) =>
      new kplus.Service(chart, name, { metadata: { name }, ports: [{ port: 80 }] });
    const props = {
      instance: 'harbor',
      version: 'v2.15.2',
      host: 'harbor.example.test',
      tls: HarborTls.fromSecret('tls'),
      coreService: service('harbor-core'),
      portalService: service('harbor-portal'),
    };

    expect(
      () =>
        new HarborIngress(chart, 'Ingress', {
          ...props,
          exposure: HarborExposure.gatewayApi({ gateway: GATEWAY }),
        }),
    ).toThrow(/exposure: "gatewayApi" is served by an HTTPRoute \(HarborHttpRoute\)/);
    expect(
      () => new HarborHttpRoute(chart, 'Route', { ...props, exposure: HarborExposure.traefik() }),
    ).toThrow(/exposure: "traefik" is served by an Ingress \(HarborIngress\)/);
  });
});
