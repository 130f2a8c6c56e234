import { find, synthApp } from '../support/synth';

describe('HarborIngress', () => {
  test('lifts the body size limit and buffering for pushes (field failure #4)', () => {
    const ingress = find(synthApp().objects, 'Ingress', 'harbor');

    expect(ingress.metadata.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-body-size': '0',
      'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '900',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '900',
    });
    expect(ingress.spec.ingressClassName).toBe('nginx');
  });

  test('routes the API, token service and registry to core and the rest to the portal', () => {
    const ingress = find(synthApp().objects, 'Ingress', 'harbor');

    const routes = Object.fromEntries(
      ingress.spec.rules[0].http.paths.map((p: any) => [
        p.path,
        `${p.backend.service.name}:${p.backend.service.port.number}`,
      ]),
    );

    expect(routes).toEqual({
      '/api/': 'harbor-core:80',
      '/service/': 'harbor-core:80',
      '/v2/': 'harbor-core:80',
      '/c/': 'harbor-core:80',
      '/': 'harbor-portal:80',
    });
  });

  test('serves the Secret of the Certificate it requests', () => {
    const { objects } = synthApp();

    const ingress = find(objects, 'Ingress', 'harbor');
    const certificate = find(objects, 'Certificate', 'harbor-tls');

    expect(ingress.spec.tls[0].secretName).toBe(certificate.spec.secretName);
    expect(certificate.spec.issuerRef).toEqual({
      group: 'cert-manager.io',
      kind: 'Issuer',
      name: 'harbor-vault',
    });
    expect(certificate.spec).toMatchObject({ duration: '2160h', renewBefore: '720h' });
  });

  test('refuses a renewal window as long as the certificate', () => {
    expect(() => synthApp({ tls: { duration: '720h', renewBefore: '720h' } })).toThrow(
      /tls\.renewBefore: "720h" is not shorter than tls\.duration "720h"/,
    );
  });

  test('names an external issuer as given', () => {
    const certificate = find(
      synthApp({ tls: { type: 'issuer', name: 'vault', kind: 'ClusterIssuer' } }).objects,
      'Certificate',
      'harbor-tls',
    );

    expect(certificate.spec.issuerRef).toEqual({
      group: 'cert-manager.io',
      kind: 'ClusterIssuer',
      name: 'vault',
    });
  });
});
