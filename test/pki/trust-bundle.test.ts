import { Chart, Testing } from 'cdk8s';
import { TrustBundle, TrustBundleProps } from '../../lib/pki/trust-bundle';
import { expectValidObjects } from '../support/schema';
import { find } from '../support/synth';

function synth(props: TrustBundleProps) {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'harbor' });
  const bundle = new TrustBundle(chart, 'bundle', props);
  const objects = Testing.synth(chart);
  expectValidObjects(objects);
  return { bundle, objects };
}

describe('TrustBundle', () => {
  test('publishes only its sources into labelled namespaces', () => {
    const { bundle, objects } = synth({
      name: 'registry-ca',
      sources: [
        { kind: 'ConfigMap', name: 'vault-root' },
        { kind: 'Secret', name: 'corp-ca', key: 'root.pem' },
      ],
    });

    const resource = find(objects, 'Bundle', 'registry-ca');

    expect(resource.metadata.namespace).toBeUndefined();
    expect(resource.spec.sources).toEqual([
      { configMap: { name: 'vault-root', key: 'ca.crt' } },
      { secret: { name: 'corp-ca', key: 'root.pem' } },
    ]);
    expect(resource.spec.sources.some((s: any) => s.useDefaultCAs)).toBe(false);
    // an empty selector would reach every namespace of the cluster
    expect(resource.spec.target).toEqual({
      configMap: { key: 'ca.crt' },
      namespaceSelector: { matchLabels: { 'trust.cdk8s-harbor.io/registry-ca': 'true' } },
    });
    expect(bundle.namespaceLabels).toEqual(resource.spec.target.namespaceSelector.matchLabels);
    expect(bundle.ref).toEqual({ name: 'registry-ca', key: 'ca.crt', configMap: true });
  });

  test('refuses an empty source list and bad names together', () => {
    expect(() => synth({ name: 'Bad', sources: [] })).toThrow(
      /name: "Bad"[\s\S]*sources: is empty; name the ConfigMap or Secret that holds the root CA/,
    );
    expect(() =>
      synth({ name: 'ca', sources: [{ kind: 'ConfigMap', name: 'root', key: 'a/b' }] }),
    ).toThrow(/sources\[0\]\.key: "a\/b"/);
  });
});
