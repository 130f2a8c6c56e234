import { Chart, Testing } from 'cdk8s';
import { HarborImages } from '../../lib/harbor/images';
import { HarborSecrets } from '../../lib/harbor/secrets';
import { containerOf, envOf, find, mountAt, ofKind, synthApp } from '../support/synth';

/** The secrets Job; the Vault server and PKI setup have Jobs of their own. */
function harborSecretsJob(objects: any[]): any {
  const jobs = ofKind(objects, 'Job').filter((j) => j.metadata.name.startsWith('harbor-secrets-'));
  expect(jobs).toHaveLength(1);
  return jobs[0];
}

function secretsSpec(objects: any[]): any {
  return JSON.parse(
    envOf(containerOf(harborSecretsJob(objects), 'ensure-secrets'), 'SECRETS_SPEC'),
  );
}

describe('HarborSecrets', () => {
  test('renders no Secret object and no secret value (field failure #49)', () => {
    const { objects } = synthApp();

    expect(ofKind(objects, 'Secret')).toEqual([]);
    const text = JSON.stringify(objects);
    expect(text).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    expect(text).not.toMatch(/Harbor12345|not-a-secure-key|changeit/);
  });

  test('asks for a 16-byte secretKey and a 32-character CSRF key (field failure #14)', () => {
    const spec = secretsSpec(synthApp().objects);

    const byName = Object.fromEntries(spec.secrets.map((s: any) => [s.name, s.entries]));
    expect(byName['harbor-secret-key']).toEqual([{ key: 'secretKey', kind: 'random', length: 16 }]);
    expect(byName['harbor-csrf-key']).toEqual([{ key: 'CSRF_KEY', kind: 'random', length: 32 }]);
    expect(byName['harbor-registry-credentials']).toEqual([
      { key: 'REGISTRY_PASSWD', kind: 'random', length: 32 },
      {
        key: 'REGISTRY_HTPASSWD',
        kind: 'htpasswd',
        user: 'harbor_registry_user',
        passwordFrom: 'REGISTRY_PASSWD',
      },
    ]);
    expect(spec.namespace).toBe('harbor');
  });

  test('mounts the secretKey as a file with exactly its bytes', () => {
    const { objects } = synthApp();

    const core = find(objects, 'Deployment', 'harbor-core');
    const found = mountAt(core, containerOf(core, 'core'), '/etc/core/key');

    expect(found?.mount.subPath).toBe('key');
    expect(found?.volume.secret).toMatchObject({
      secretName: 'harbor-secret-key',
      items: [{ key: 'secretKey', path: 'key' }],
    });
  });

  test('uses an existing Secret instead of generating one', () => {
    const { objects } = synthApp({
      existingSecrets: { secretKey: { name: 'vault-harbor', key: 'secret-key' } },
    });

    const core = find(objects, 'Deployment', 'harbor-core');
    const found = mountAt(core, containerOf(core, 'core'), '/etc/core/key');
    expect(found?.volume.secret).toMatchObject({
      secretName: 'vault-harbor',
      items: [{ key: 'secret-key', path: 'key' }],
    });
    expect(secretsSpec(objects).secrets.map((s: any) => s.name)).not.toContain('harbor-secret-key');
  });

  test('emits no Job when every secret is supplied', () => {
    const ref = (name: string) => ({ name, key: 'value' });
    const { objects } = synthApp({
      existingSecrets: {
        secretKey: ref('a'),
        csrfKey: ref('b'),
        coreSecret: ref('c'),
        jobserviceSecret: ref('d'),
        registryHttpSecret: ref('e'),
        registryCredentials: 'f',
        adminPassword: ref('g'),
        tokenKey: ref('h'),
        databasePassword: ref('i'),
      },
      // the settings Job is the only other Job in Harbor's namespace
      settings: null,
    });

    expect(ofKind(objects, 'Job').filter((j) => j.metadata.namespace === 'harbor')).toEqual([]);
    expect(ofKind(objects, 'Certificate').map((c) => c.metadata.name)).not.toContain(
      'harbor-token-signing',
    );
  });

  test('lets the Job create Secrets and nothing else', () => {
    const { objects } = synthApp();

    const role = find(objects, 'Role', 'harbor-secrets');
    const binding = find(objects, 'RoleBinding', 'harbor-secrets');
    const job = harborSecretsJob(objects);

    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['secrets'], verbs: ['create'] }]);
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: 'harbor-secrets' });
    expect(binding.subjects).toEqual([
      { apiGroup: '', kind: 'ServiceAccount', name: 'harbor-secrets', namespace: 'harbor' },
    ]);
    expect(job.spec.template.spec.serviceAccountName).toBe('harbor-secrets');
  });

  test('labels the created Secrets without the instance label a GitOps tool would prune by', () => {
    const spec = secretsSpec(synthApp().objects);

    expect(Object.keys(spec.labels)).not.toContain('app.kubernetes.io/instance');
  });

  test('renames the Job on an upgrade, whose new image could not be applied to the old', () => {
    const jobName = (version: string) =>
      harborSecretsJob(synthApp({ images: { version } }).objects).metadata.name;

    expect(jobName('v2.15.3')).not.toBe(jobName('v2.15.2'));
  });

  test('names the Job after its content, so a changed Job is a new object', () => {
    const first = harborSecretsJob(synthApp().objects).metadata.name;
    const same = harborSecretsJob(synthApp().objects).metadata.name;
    const changed = harborSecretsJob(
      synthApp({ existingSecrets: { csrfKey: { name: 'x', key: 'y' } } }).objects,
    ).metadata.name;

    expect(same).toBe(first);
    expect(changed).not.toBe(first);
  });

  test('signs tokens with an RSA key from a cert-manager Certificate', () => {
    const { objects } = synthApp();

    const certificate = find(objects, 'Certificate', 'harbor-token-signing');
    const core = find(objects, 'Deployment', 'harbor-core');
    const found = mountAt(core, containerOf(core, 'core'), '/etc/core/private_key.pem');

    expect(certificate.spec.privateKey).toMatchObject({ algorithm: 'RSA', size: 4096 });
    expect(certificate.spec.issuerRef).toMatchObject({
      kind: 'Issuer',
      name: 'harbor-token-issuer',
    });
    expect(found?.volume.secret).toMatchObject({
      secretName: 'harbor-token-signing',
      items: [{ key: 'tls.key', path: 'private_key.pem' }],
    });
  });

  test('needs a chart namespace for its Job', () => {
    const chart = Testing.chart();

    expect(
      () => new HarborSecrets(chart, 'Secrets', { instance: 'harbor', images: new HarborImages() }),
    ).toThrow(/needs a namespace/);
  });

  test('creates its Job in the chart namespace', () => {
    const chart = new Chart(Testing.app(), 'test', { namespace: 'registry' });

    const secrets = new HarborSecrets(chart, 'Secrets', {
      instance: 'hub',
      images: new HarborImages(),
    });

    expect(secrets.generated).toContain('hub-secret-key');
    expect(secrets.refs.csrfKey).toEqual({ name: 'hub-csrf-key', key: 'CSRF_KEY' });
    expect(secrets.databasePassword).toBeUndefined();
  });
});
