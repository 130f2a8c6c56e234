import { find, ofKind, synthApp } from '../support/synth';

function chartFiles(override: Record<string, unknown>): string[] {
  return synthApp(override).stack.app.charts.map((chart) => chart.node.id);
}

describe('the app', () => {
  test.each([
    ['the built-in profile', {}],
    ['metrics on', { metrics: { enabled: true } }],
  ])('routes no Service of %s to a Job pod', (_, override) => {
    const { objects } = synthApp(override);

    const jobPods = objects
      .filter((o) => o.kind === 'Job' || o.kind === 'CronJob')
      .map((o) => ({
        namespace: o.metadata.namespace,
        labels: (o.spec.template ?? o.spec.jobTemplate.spec.template).metadata?.labels ?? {},
      }));
    const routed = objects
      .filter((o) => o.kind === 'Service' && o.spec.selector)
      .flatMap((service) =>
        jobPods
          .filter(
            (pod) =>
              pod.namespace === service.metadata.namespace &&
              Object.entries(service.spec.selector).every(([k, v]) => pod.labels[k] === v),
          )
          .map(() => `${service.metadata.namespace}/${service.metadata.name}`),
      );

    expect(jobPods.length).toBeGreaterThan(2);
    expect(routed).toEqual([]);
  });

  test('orders storage, namespace, Vault, issuers, Harbor and node trust as charts', () => {
    const { stack } = synthApp();

    expect(stack.app.charts.map((chart) => chart.node.id)).toEqual([
      'storage',
      'namespace',
      'vault',
      'pki',
      'harbor',
      'node-trust',
    ]);
  });

  test('writes no issuer file when the profile makes no issuer', () => {
    expect(chartFiles({ tls: { type: 'secret', secretName: 'commercial' } })).toEqual([
      'storage',
      'namespace',
      'harbor',
    ]);
    expect(chartFiles({ tls: { type: 'issuer', name: 'corp-ca' }, nfs: { type: 'none' } })).toEqual(
      ['namespace', 'harbor'],
    );
  });

  test('keeps the namespace when Argo CD deletes the Application', () => {
    const namespace = find(synthApp().objects, 'Namespace', 'harbor');

    expect(namespace.metadata.annotations['argocd.argoproj.io/sync-options']).toBe('Delete=false');
  });

  test('keeps data claims out of Argo CD prunes', () => {
    for (const claim of ofKind(synthApp().objects, 'PersistentVolumeClaim')) {
      expect(claim.metadata.annotations['argocd.argoproj.io/sync-options']).toBe(
        'Prune=false,Delete=false',
      );
    }
  });

  test('puts everything of Harbor but its namespace into the configured namespace', () => {
    const { stack } = synthApp({ namespace: 'registry' });

    const objects = stack.app.charts
      .filter((chart) => ['namespace', 'pki', 'harbor'].includes(chart.node.id))
      .flatMap((chart) => chart.toJson());
    for (const o of objects.filter((x) => !['Namespace', 'Bundle'].includes(x.kind))) {
      expect([o.kind, o.metadata.name, o.metadata.namespace]).toEqual([
        o.kind,
        o.metadata.name,
        'registry',
      ]);
    }
  });

  test('issues Harbor a certificate from the self-signed CA it trusts', () => {
    const { objects } = synthApp({ tls: { type: 'selfSigned' } });

    const root = find(objects, 'Certificate', 'harbor-ca-root');
    const caIssuer = find(objects, 'ClusterIssuer', 'harbor-ca');
    const tls = find(objects, 'Certificate', 'harbor-tls');
    const bundle = find(objects, 'Bundle', 'harbor-ca');

    expect(root.spec.isCA).toBe(true);
    expect(root.metadata.namespace).toBe('cert-manager');
    expect(root.spec.issuerRef.name).toBe('harbor-ca-bootstrap');
    expect(caIssuer.spec.ca.secretName).toBe(root.spec.secretName);
    expect(tls.spec.issuerRef).toMatchObject({ kind: 'ClusterIssuer', name: 'harbor-ca' });
    expect(bundle.spec.sources).toEqual([{ secret: { name: 'harbor-ca-root', key: 'ca.crt' } }]);
  });

  test('keeps a namespaced self-signed CA only without a trust bundle', () => {
    expect(() => synthApp({ tls: { type: 'selfSigned', issuerKind: 'Issuer' } })).toThrow(
      /tls\.issuerKind: "Issuer" keeps the CA in Harbor's namespace/,
    );

    const { objects } = synthApp({ tls: { type: 'selfSigned' }, trust: null });

    expect(find(objects, 'Issuer', 'harbor-ca').metadata.namespace).toBe('harbor');
    expect(ofKind(objects, 'Bundle')).toEqual([]);
  });

  test('refuses an extra CA bundle with the self-signed CA', () => {
    expect(() =>
      synthApp({
        tls: { type: 'selfSigned' },
        trust: null,
        caBundle: { name: 'c', key: 'ca.crt' },
      }),
    ).toThrow(/caBundle: with tls\.type selfSigned/);
    expect(() => synthApp({ caBundle: { name: 'corp', key: 'ca.crt' } })).toThrow(
      /caBundle: Harbor trusts the bundle "harbor-ca".*add this CA to trust\.extraSources/,
    );
  });

  test('says which keys a typed section does not take', () => {
    expect(() => synthApp({ tls: { type: 'secret', secretName: 'x', duration: '720h' } })).toThrow(
      /tls\.duration: unknown key; is not a setting of tls with type "secret"/,
    );
  });
});
