import { find, ofKind, synthApp } from '../support/synth';

function chartFiles(override: Record<string, unknown>): string[] {
  return synthApp(override).stack.app.charts.map((chart) => chart.node.id);
}

describe('the app', () => {
  test('orders namespace, issuers and Harbor as three charts', () => {
    const { stack } = synthApp();

    expect(stack.app.charts.map((chart) => chart.node.id)).toEqual([
      'storage',
      'namespace',
      'pki',
      'harbor',
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
      .filter((chart) => chart.node.id !== 'storage')
      .flatMap((chart) => chart.toJson());
    for (const o of objects.filter((x) => x.kind !== 'Namespace')) {
      expect(o.metadata.namespace).toBe('registry');
    }
  });

  test('issues Harbor a certificate from the self-signed CA it trusts', () => {
    const { objects } = synthApp();

    const root = find(objects, 'Certificate', 'harbor-ca-root');
    const caIssuer = find(objects, 'Issuer', 'harbor-ca');
    const tls = find(objects, 'Certificate', 'harbor-tls');

    expect(root.spec.isCA).toBe(true);
    expect(root.spec.issuerRef.name).toBe('harbor-ca-bootstrap');
    expect(caIssuer.spec.ca.secretName).toBe(root.spec.secretName);
    expect(tls.spec.issuerRef.name).toBe('harbor-ca');
  });

  test('refuses an extra CA bundle with the self-signed CA', () => {
    expect(() => synthApp({ caBundle: { name: 'corp', key: 'ca.crt' } })).toThrow(
      /caBundle: with tls\.type selfSigned/,
    );
  });

  test('says which keys a typed section does not take', () => {
    expect(() => synthApp({ tls: { type: 'secret', secretName: 'x', duration: '720h' } })).toThrow(
      /tls\.duration: unknown key; is not a setting of tls with type "secret"/,
    );
  });
});
