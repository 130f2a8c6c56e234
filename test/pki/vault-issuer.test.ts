import { Chart, Testing } from 'cdk8s';
import { IssuerKind } from '../../lib/pki/issuer-ref';
import { VaultIssuer, VaultIssuerProps } from '../../lib/pki/vault-issuer';
import { expectValidObjects } from '../support/schema';
import { K8sObject, find } from '../support/synth';

const base: VaultIssuerProps = { name: 'vault-issuer', server: 'https://vault.example.test:8200' };

function build(props: Partial<VaultIssuerProps> = {}, namespace: string | null = 'harbor') {
  const chart = new Chart(Testing.app(), 'test', { namespace: namespace ?? undefined });
  const issuer = new VaultIssuer(chart, 'issuer', { ...base, ...props });
  const objects: K8sObject[] = Testing.synth(chart);
  expectValidObjects(objects);
  return { issuer, objects };
}

function errorOf(props: Partial<VaultIssuerProps>): string {
  try {
    build(props);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the props to be refused');
}

describe('VaultIssuer', () => {
  test('signs through the sign endpoint of the mount and role', () => {
    const { objects } = build({ mount: 'pki_int', role: 'registry' });

    const issuer = find(objects, 'Issuer', 'vault-issuer');

    expect(issuer.spec.vault.path).toBe('pki_int/sign/registry');
    expect(issuer.spec.vault.server).toBe('https://vault.example.test:8200');
  });

  test('logs in with a bound ServiceAccount token and the derived audience', () => {
    const { issuer, objects } = build();

    const spec = find(objects, 'Issuer', 'vault-issuer').spec.vault.auth.kubernetes;

    expect(spec).toEqual({
      mountPath: '/v1/auth/kubernetes',
      role: 'vault-issuer',
      serviceAccountRef: { name: 'vault-issuer-issuer' },
    });
    expect(issuer.login.audience).toBe('vault://harbor/vault-issuer');
    expect(issuer.login.serviceAccountNamespace).toBe('harbor');
  });

  test('lets cert-manager create tokens of that one ServiceAccount (field failure 23)', () => {
    const { objects } = build({ serviceAccountName: 'vault-issuer' });

    const role = find(objects, 'Role', 'vault-issuer-token');
    const binding = find(objects, 'RoleBinding', 'vault-issuer-token');

    expect(find(objects, 'ServiceAccount', 'vault-issuer').metadata.namespace).toBe('harbor');
    expect(role.metadata.namespace).toBe('harbor');
    expect(role.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['serviceaccounts/token'],
        resourceNames: ['vault-issuer'],
        verbs: ['create'],
      },
    ]);
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'vault-issuer-token',
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'cert-manager', namespace: 'cert-manager' },
    ]);
  });

  test('puts a ClusterIssuer account in the cluster resource namespace', () => {
    const { issuer, objects } = build({
      name: 'vault',
      kind: IssuerKind.CLUSTER_ISSUER,
      certManager: {
        namespace: 'security',
        serviceAccountName: 'cm',
        clusterResourceNamespace: 'cm-resources',
      },
    });

    const clusterIssuer = find(objects, 'ClusterIssuer', 'vault');

    expect(clusterIssuer.metadata.namespace).toBeUndefined();
    expect(find(objects, 'ServiceAccount', 'vault-issuer').metadata.namespace).toBe('cm-resources');
    expect(find(objects, 'Role', 'vault-issuer-token').metadata.namespace).toBe('cm-resources');
    expect(find(objects, 'RoleBinding', 'vault-issuer-token').subjects[0]).toEqual({
      kind: 'ServiceAccount',
      name: 'cm',
      namespace: 'security',
    });
    expect(issuer.login.audience).toBe('vault://vault');
  });

  test('follows a renamed issuer in the audience (field failure 24)', () => {
    expect(build({ name: 'registry-ca' }).issuer.login.audience).toBe('vault://harbor/registry-ca');
    expect(build({ name: 'other' }, 'apps').issuer.login.audience).toBe('vault://apps/other');
  });

  test('trusts a private Vault CA through a Secret reference (field failure 25)', () => {
    const { objects } = build({ caBundle: { name: 'vault-ca', key: 'ca.crt' } });

    const vault = find(objects, 'Issuer', 'vault-issuer').spec.vault;

    expect(vault.caBundleSecretRef).toEqual({ name: 'vault-ca', key: 'ca.crt' });
    expect(vault.caBundle).toBeUndefined();
  });

  test('refuses a CA bundle for plain http', () => {
    expect(
      errorOf({ server: 'http://vault.vault.svc:8200', caBundle: { name: 'ca', key: 'ca.crt' } }),
    ).toMatch(/caBundle: is only used over https/);
  });

  test('refuses an issue endpoint or a path for the mount (field failure 26)', () => {
    expect(errorOf({ mount: 'pki_int/issue/harbor' })).toMatch(
      /mount: "pki_int\/issue\/harbor" names an endpoint, not a mount/,
    );
    expect(errorOf({ mount: 'pki_int/sign' })).toMatch(/mount: .*sign endpoint cert-manager needs/);
  });

  test.each([
    'https://vault.example.test::8200',
    'vault.example.test:8200',
    'https://vault.example.test:8200/v1/pki',
  ])('refuses the malformed server URL %s (field failure 32)', (server) => {
    expect(errorOf({ server })).toMatch(/server: .*invalid Vault server URL/);
  });

  test('states the longest lifetime the role grants on its reference', () => {
    expect(build().issuer.issuer).toEqual({
      name: 'vault-issuer',
      kind: IssuerKind.ISSUER,
      maxDuration: '2160h',
    });
    expect(build({ maxDuration: '720h' }).issuer.issuer.maxDuration).toBe('720h');
  });

  test('reports every problem together', () => {
    const message = errorOf({ name: 'Bad_Name', role: 'a/b', maxDuration: '30d' });

    expect(message).toMatch(/name: "Bad_Name"/);
    expect(message).toMatch(/role: "a\/b" is not a Vault role name/);
    expect(message).toMatch(/maxDuration: "30d" is not a duration/);
  });

  test('needs a namespace for a namespaced Issuer', () => {
    expect(() => build({}, null)).toThrow(/namespace: an Issuer needs the namespace/);
  });
});
