import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import {
  VaultCaBundle,
  VaultPkiSetup,
  VaultPkiSetupProps,
  checkVaultServer,
  vaultPkiPolicy,
  vaultPkiRoleOptions,
} from '../../lib/pki/vault-pki-setup';
import { expectValidObjects } from '../support/schema';
import { run } from '../support/processes';

const ROOT = path.join(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'lib', 'pki', 'scripts', 'vault-pki-setup.sh');
const FAKE_VAULT = path.join(ROOT, 'test', 'support', 'fake-vault.js');

function baseProps(override: Partial<VaultPkiSetupProps> = {}): VaultPkiSetupProps {
  return {
    server: 'https://vault.vault.svc:8200',
    credentials: { name: 'vault-setup-token', key: 'token' },
    allowedDomains: ['harbor.example.test'],
    organization: 'Example',
    kubernetesAuth: {
      roleName: 'cert-manager-harbor',
      serviceAccountName: 'vault-issuer',
      serviceAccountNamespace: 'harbor',
      audience: 'vault://harbor/vault-issuer',
      configure: {},
    },
    rootCaConfigMap: { name: 'harbor-root-ca', namespace: 'cert-manager' },
    ...override,
  };
}

function synth(override: Partial<VaultPkiSetupProps> = {}) {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'harbor' });
  const setup = new VaultPkiSetup(chart, 'Pki', baseProps(override));
  const objects = Testing.synth(chart);
  return { setup, objects };
}

function jobOf(objects: any[]): any {
  const jobs = objects.filter((o) => o.kind === 'Job');
  expect(jobs).toHaveLength(1);
  return jobs[0];
}

function problemsOf(override: Partial<VaultPkiSetupProps>): string {
  return VaultPkiSetup.check(baseProps(override)).join('\n');
}

describe('VaultPkiSetup construct', () => {
  test('every object passes strict schema validation', () => {
    const { objects } = synth({
      caBundle: VaultCaBundle.fromConfigMap({ name: 'vault-ca', key: 'ca.pem' }),
    });

    expectValidObjects(objects);
    expect(objects.map((o) => o.kind).sort()).toEqual([
      'ConfigMap',
      'Job',
      'Role',
      'RoleBinding',
      'ServiceAccount',
    ]);
  });

  test('reads the token from the Secret and never renders a literal', () => {
    const { objects } = synth();

    const setup = jobOf(objects).spec.template.spec.initContainers[0];
    const token = setup.env.find((e: any) => e.name === 'VAULT_TOKEN');
    expect(token).toEqual({
      name: 'VAULT_TOKEN',
      valueFrom: { secretKeyRef: { name: 'vault-setup-token', key: 'token' } },
    });
    expect(JSON.stringify(objects)).not.toMatch(/hvs\.|s\.[A-Za-z0-9]{24}|PRIVATE KEY/);
  });

  test('mounts the Vault CA and points VAULT_CACERT at it', () => {
    const { objects } = synth({
      caBundle: VaultCaBundle.fromSecret({ name: 'vault-tls', key: 'ca.crt' }),
    });

    const pod = jobOf(objects).spec.template.spec;
    const setup = pod.initContainers[0];
    expect(setup.env).toContainEqual({ name: 'VAULT_CACERT', value: '/etc/vault-ca/ca.crt' });
    const mount = setup.volumeMounts.find((m: any) => m.mountPath === '/etc/vault-ca');
    const volume = pod.volumes.find((v: any) => v.name === mount.name);
    expect(volume.secret).toMatchObject({
      secretName: 'vault-tls',
      items: [{ key: 'ca.crt', path: 'ca.crt' }],
    });
  });

  test('runs as Pod Security restricted', () => {
    const { objects } = synth();

    const pod = jobOf(objects).spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const c of [...pod.initContainers, ...pod.containers]) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
    }
    expect(jobOf(objects).spec.backoffLimit).toBe(10);
    expect(jobOf(objects).spec.activeDeadlineSeconds).toBeUndefined();
  });

  test('scopes the RBAC to the one ConfigMap in the trust namespace', () => {
    const { objects } = synth();

    const role = objects.find((o) => o.kind === 'Role');
    expect(role.metadata.namespace).toBe('cert-manager');
    expect(role.rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          resources: ['configmaps'],
          resourceNames: ['harbor-root-ca'],
          verbs: ['get', 'update', 'patch'],
        }),
        expect.objectContaining({ resources: ['configmaps'], verbs: ['create'] }),
      ]),
    );
    expect(role.rules).toHaveLength(2);
    const binding = objects.find((o) => o.kind === 'RoleBinding');
    expect(binding.metadata.namespace).toBe('cert-manager');
    expect(binding.subjects).toEqual([
      expect.objectContaining({
        kind: 'ServiceAccount',
        name: 'vault-pki-setup',
        namespace: 'harbor',
      }),
    ]);
  });

  test('names the Job and the script ConfigMap with a content digest', () => {
    const first = synth();
    const again = synth();
    const changed = synth({ allowedDomains: ['registry.example.test'] });

    const name = jobOf(first.objects).metadata.name;
    expect(name).toMatch(/^vault-pki-setup-[0-9a-f]{8}$/);
    const script = first.objects.find((o) => o.kind === 'ConfigMap');
    expect(script.metadata.name).toBe(name);
    expect(Object.keys(script.data).sort()).toEqual(['publish-root-ca.py', 'vault-pki-setup.sh']);
    expect(jobOf(again.objects).metadata.name).toBe(name);
    expect(jobOf(changed.objects).metadata.name).not.toBe(name);
  });

  test('rewrites both images to a mirror', () => {
    const { objects } = synth({ images: { registry: 'mirror.example.test/hub' } });

    const pod = jobOf(objects).spec.template.spec;
    expect(pod.initContainers[0].image).toBe('mirror.example.test/hub/hashicorp/vault:2.0.4');
    expect(pod.containers[0].image).toMatch(/^mirror\.example\.test\/hub\/goharbor\/prepare:/);
  });

  test('limits the policy to the sign endpoint (field failure #26)', () => {
    expect(vaultPkiPolicy('pki_int', 'harbor')).toBe(
      'path "pki_int/sign/harbor" {\n  capabilities = ["create", "update"]\n}',
    );
  });

  test('role allows IP SANs only when asked (field failure #34)', () => {
    expect(vaultPkiRoleOptions(baseProps())).toMatchObject({
      allowed_domains: 'harbor.example.test',
      allow_subdomains: 'false',
      allow_bare_domains: 'true',
      allow_ip_sans: 'false',
      require_cn: 'false',
      key_type: 'any',
      server_flag: 'true',
      client_flag: 'false',
      max_ttl: '2160h',
    });
    expect(vaultPkiRoleOptions(baseProps({ allowIpSans: true })).allow_ip_sans).toBe('true');
  });
});

describe('VaultPkiSetup props', () => {
  test.each([
    'https://vault.example.test::8200',
    'vault.example.test:8200',
    'https://vault.example.test:8200/v1',
    'https://vault.example.test/ui?x',
    'ftp://vault.example.test',
    'https://user@vault.example.test',
    'https://vault.example.test:70000',
  ])('rejects server %s (field failure #32)', (server) => {
    expect(checkVaultServer(server)).toContain('invalid Vault server URL');
    expect(() => synth({ server })).toThrow(/server: .*invalid Vault server URL/);
  });

  test.each(['http://vault.vault.svc:8200', 'https://vault.example.test', 'https://10.0.0.5:8200'])(
    'accepts server %s',
    (server) => {
      expect(checkVaultServer(server)).toBeUndefined();
    },
  );

  test('throws when the intermediate outlives the root and maxTtl the intermediate', () => {
    const text = problemsOf({ rootTtl: '8760h', intermediateTtl: '8760h', maxTtl: '9000h' });

    expect(text).toMatch(/intermediateTtl: "8760h" is not shorter than rootTtl "8760h"/);
    expect(text).toMatch(/maxTtl: "9000h" is longer than intermediateTtl "8760h"/);
  });

  test('refuses caBundle with http', () => {
    const text = problemsOf({
      server: 'http://vault:8200',
      caBundle: VaultCaBundle.fromSecret({ name: 'ca', key: 'ca.crt' }),
    });

    expect(text).toMatch(/caBundle: is set while server "http:\/\/vault:8200" uses http/);
  });

  test('collects bad mounts, audience and names together', () => {
    const text = problemsOf({
      rootMount: '/pki/',
      intermediateMount: 'pki int',
      kubernetesAuth: {
        roleName: 'r',
        serviceAccountName: 'vault-issuer',
        serviceAccountNamespace: 'harbor',
        audience: 'harbor/vault-issuer',
      },
      allowedDomains: ['https://harbor.example.test'],
    });

    expect(text).toMatch(/rootMount: "\/pki\/" is not a Vault path/);
    expect(text).toMatch(/intermediateMount: "pki int" is not a Vault path/);
    expect(text).toMatch(/kubernetesAuth.audience: "harbor\/vault-issuer" does not start with/);
    expect(text).toMatch(/allowedDomains\[0\]: .* is a URL/);
  });

  test('throws when both CAs share a mount', () => {
    expect(problemsOf({ rootMount: 'pki', intermediateMount: 'pki' })).toMatch(
      /intermediateMount: "pki" is the same as rootMount/,
    );
  });
});

describe('vault-pki-setup.sh', () => {
  test('passes shellcheck', () => {
    expect(() =>
      execFileSync('shellcheck', ['--severity=style', SCRIPT], { encoding: 'utf-8' }),
    ).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// Running the script against the fake vault CLI

interface Harness {
  dir: string;
  state: string;
  env: NodeJS.ProcessEnv;
}

const TOKEN = 'fake-token-for-tests';

/** The Vault container's env as synthesized, pointed at a scratch directory. */
function harness(): Harness {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-pki-'));
  const bin = path.join(dir, 'bin');
  const state = path.join(dir, 'state');
  fs.mkdirSync(bin);
  fs.mkdirSync(state);
  fs.writeFileSync(path.join(bin, 'vault'), `#!/bin/sh\nexec node ${FAKE_VAULT} "$@"\n`, {
    mode: 0o755,
  });
  const { objects } = synth({ server: 'http://vault.vault.svc:8200' });
  const setup = jobOf(objects).spec.template.spec.initContainers[0];
  const synthesized: Record<string, string> = {};
  for (const e of setup.env) if (e.value !== undefined) synthesized[e.name] = e.value;
  const env = {
    PATH: `${bin}:${process.env.PATH}`,
    ...synthesized,
    ROOT_PEM_FILE: path.join(dir, 'root.pem'),
    VAULT_TOKEN: TOKEN,
    FAKE_VAULT_TOKEN: TOKEN,
    FAKE_VAULT_DIR: state,
    VAULT_WAIT_SECONDS: '0',
    VAULT_WAIT_ATTEMPTS: '5',
  };
  return { dir, state, env };
}

function runScript(h: Harness) {
  return run('sh', [SCRIPT], { env: h.env, timeoutMs: 60_000 });
}

function calls(h: Harness): string[][] {
  const log = path.join(h.state, 'calls.log');
  if (!fs.existsSync(log)) return [];
  return fs
    .readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

function resetCalls(h: Harness): void {
  fs.rmSync(path.join(h.state, 'calls.log'), { force: true });
}

function state(h: Harness): any {
  return JSON.parse(fs.readFileSync(path.join(h.state, 'state.json'), 'utf8'));
}

function setState(h: Harness, change: (s: any) => void): void {
  const file = path.join(h.state, 'state.json');
  const s = fs.existsSync(file)
    ? JSON.parse(fs.readFileSync(file, 'utf8'))
    : { mounts: {}, auth: {}, policies: {}, sealed: 0, down: 0, failOnce: {}, seq: 0 };
  change(s);
  fs.writeFileSync(file, JSON.stringify(s));
}

/** Calls that change Vault in a way a repeat would not undo: they must happen once. */
function oneOffCalls(h: Harness): string[] {
  return calls(h)
    .map((c) => c.filter((a) => !a.startsWith('-')).join(' '))
    .filter((c) =>
      /^(secrets enable|auth enable|write \S+\/(root\/generate|intermediate\/generate|root\/sign-intermediate|intermediate\/set-signed))/.test(
        c,
      ),
    )
    .map((c) => c.split(' ').slice(0, 2).join(' '));
}

const openssl = (...args: string[]) =>
  execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Signs a leaf with the intermediate's key, as Vault's sign endpoint would. */
function leafVerifies(h: Harness): string {
  const s = state(h);
  const int = s.mounts.pki_int.issuers[s.mounts.pki_int.default];
  const key = path.join(h.dir, 'leaf.key');
  const csr = path.join(h.dir, 'leaf.csr');
  const leaf = path.join(h.dir, 'leaf.pem');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', key);
  openssl('req', '-new', '-key', key, '-subj', '/CN=harbor.example.test', '-out', csr);
  openssl(
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    int.certFile,
    '-CAkey',
    int.keyFile,
    '-set_serial',
    '7',
    '-days',
    '30',
    '-out',
    leaf,
  );
  return openssl('verify', '-CAfile', h.env.ROOT_PEM_FILE!, '-untrusted', int.certFile, leaf);
}

describe('vault-pki-setup.sh against a fake Vault', () => {
  let h: Harness;

  beforeEach(() => {
    h = harness();
  });

  afterEach(() => {
    fs.rmSync(h.dir, { recursive: true, force: true });
  });

  test('first run creates both CAs, the role, policy and auth, and writes the root', async () => {
    const result = await runScript(h);

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('created root CA');
    expect(result.stdout).toContain('created intermediate CA');
    expect(oneOffCalls(h).sort()).toEqual([
      'auth enable',
      'secrets enable',
      'secrets enable',
      'write pki/root/generate/internal',
      'write pki/root/sign-intermediate',
      'write pki_int/intermediate/generate/internal',
      'write pki_int/intermediate/set-signed',
    ]);
    const s = state(h);
    const root = fs.readFileSync(h.env.ROOT_PEM_FILE!, 'utf8');
    const rootIssuers = Object.values<any>(s.mounts.pki.issuers);
    expect(rootIssuers).toHaveLength(1);
    expect(root.trim()).toBe(rootIssuers[0].certificate);
    expect(leafVerifies(h)).toContain(': OK');
    expect(s.mounts.pki_int.issuers[s.mounts.pki_int.default].leaf_not_after_behavior).toBe(
      'truncate',
    );
    expect(s.mounts.pki_int.data['roles/harbor']).toMatchObject({
      allowed_domains: 'harbor.example.test',
      require_cn: 'false',
      allow_ip_sans: 'false',
    });
    expect(s.policies['cert-manager-harbor'].trim()).toBe(vaultPkiPolicy('pki_int', 'harbor'));
    expect(s.auth.kubernetes.data['auth/kubernetes/role/cert-manager-harbor']).toMatchObject({
      audience: 'vault://harbor/vault-issuer',
      bound_service_account_names: 'vault-issuer',
      bound_service_account_namespaces: 'harbor',
      token_policies: 'cert-manager-harbor',
    });
    expect(s.mounts.pki.maxLeaseTtl).toBe('87600h');
  });

  test('gives set-signed the intermediate first, then the root (field failure #31)', async () => {
    await runScript(h);

    const s = state(h);
    expect(s.chains).toHaveLength(1);
    const pems = s.chains[0].match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
    expect(pems).toHaveLength(2);
    const subjects = pems.map((pem: string) => {
      const file = path.join(h.dir, 'p.pem');
      fs.writeFileSync(file, pem + '\n');
      return openssl('x509', '-in', file, '-noout', '-subject');
    });
    expect(subjects[0]).toContain('cdk8s-harbor intermediate CA');
    expect(subjects[1]).toContain('cdk8s-harbor root CA');
  });

  test('a second run makes no new CA and keeps the same root', async () => {
    await runScript(h);
    const root = fs.readFileSync(h.env.ROOT_PEM_FILE!, 'utf8');
    resetCalls(h);

    const again = await runScript(h);

    expect(again.code).toBe(0);
    expect(oneOffCalls(h)).toEqual([]);
    expect(again.stdout).toContain('root CA exists in pki/, kept');
    expect(again.stdout).toContain('intermediate CA exists in pki_int/, kept');
    expect(fs.readFileSync(h.env.ROOT_PEM_FILE!, 'utf8')).toBe(root);
    expect(Object.keys(state(h).mounts.pki.issuers)).toHaveLength(1);
    expect(calls(h).some((c) => c[0] === 'patch')).toBe(false);
  });

  test('waits while Vault is unreachable or sealed, then succeeds', async () => {
    setState(h, (s) => {
      s.down = 1;
      s.sealed = 2;
    });

    const result = await runScript(h);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('is not answering (attempt 1 of 5)');
    expect(result.stdout).toContain('is sealed (attempt 3 of 5)');
  });

  test('gives up with a clear message when Vault stays sealed', async () => {
    setState(h, (s) => (s.sealed = 99));

    const result = await runScript(h);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/still sealed after 5 attempts; unseal it/);
    expect(oneOffCalls(h)).toEqual([]);
  });

  test('generates the CAs in mounts that exist but are empty', async () => {
    setState(h, (s) => {
      s.mounts.pki = { type: 'pki', issuers: {}, keys: {}, data: {} };
      s.mounts.pki_int = { type: 'pki', issuers: {}, keys: {}, data: {} };
    });

    const result = await runScript(h);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('secrets engine pki/ exists, kept');
    expect(oneOffCalls(h)).not.toContain('secrets enable');
    expect(oneOffCalls(h)).toContain('write pki/root/generate/internal');
    expect(leafVerifies(h)).toContain(': OK');
  });

  test('after a failure halfway, a retry completes without a second root', async () => {
    setState(h, (s) => (s.failOnce = { 'pki/root/sign-intermediate': 1 }));

    const failed = await runScript(h);
    expect(failed.code).not.toBe(0);
    const firstRoot = Object.values<any>(state(h).mounts.pki.issuers)[0].certificate;
    resetCalls(h);

    const retry = await runScript(h);

    expect(retry.code).toBe(0);
    expect(oneOffCalls(h)).not.toContain('write pki/root/generate/internal');
    expect(oneOffCalls(h)).toContain('write pki/root/sign-intermediate');
    expect(Object.keys(state(h).mounts.pki.issuers)).toHaveLength(1);
    expect(fs.readFileSync(h.env.ROOT_PEM_FILE!, 'utf8').trim()).toBe(firstRoot);
    expect(leafVerifies(h)).toContain(': OK');
  });

  test('stops rather than make a second root when listing issuers fails', async () => {
    await runScript(h);
    const lister = path.join(h.dir, 'bin', 'vault');
    fs.writeFileSync(
      lister,
      `#!/bin/sh\n[ "$1" = list ] && { echo 'Code: 500' >&2; exit 1; }\nexec node ${FAKE_VAULT} "$@"\n`,
      { mode: 0o755 },
    );
    resetCalls(h);

    const result = await runScript(h);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot list the issuers of pki');
    expect(oneOffCalls(h)).toEqual([]);
  });
});
