import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { IssuerKind } from '../../lib/pki/issuer-ref';
import { OPENBAO_IMAGE, VaultServer, VaultServerProps } from '../../lib/pki/vault-server';
import { expectValidObjects } from '../support/schema';
import { K8sObject, containerOf, envOf, find, podSpec } from '../support/synth';

const ROOT = path.join(__dirname, '..', '..');
const SCRIPTS = path.join(ROOT, 'lib', 'pki', 'scripts');

const base: VaultServerProps = {
  namespace: 'vault',
  storage: { storageClassName: 'local-path', size: '5Gi' },
  issuer: { name: 'harbor-ca', kind: IssuerKind.ISSUER },
  nfsStorageClasses: ['nfs-csi'],
};

function setup(props: Partial<VaultServerProps> = {}): { chart: Chart; server: VaultServer } {
  const chart = new Chart(Testing.app(), 'test');
  const server = new VaultServer(chart, 'vault', { ...base, ...props });
  return { chart, server };
}

function synth(props: Partial<VaultServerProps> = {}): K8sObject[] {
  const objects = Testing.synth(setup(props).chart);
  expectValidObjects(objects);
  return objects;
}

function initJob(objects: K8sObject[]): K8sObject {
  const jobs = objects.filter((o) => o.kind === 'Job');
  expect(jobs).toHaveLength(1);
  return jobs[0];
}

describe('VaultServer', () => {
  test('gives the listener a certificate for every Service name and 127.0.0.1', () => {
    const { chart, server } = setup();

    const objects = Testing.synth(chart);

    expectValidObjects(objects);
    const certificate = find(objects, 'Certificate', 'vault-tls');
    expect(certificate.spec.dnsNames).toEqual([
      'vault',
      'vault.vault',
      'vault.vault.svc',
      'vault.vault.svc.cluster.local',
      'vault-0.vault-internal',
      'vault-0.vault-internal.vault.svc',
      'vault-0.vault-internal.vault.svc.cluster.local',
    ]);
    expect(certificate.spec.ipAddresses).toEqual(['127.0.0.1']);
    expect(certificate.spec.issuerRef).toEqual({
      name: 'harbor-ca',
      kind: 'Issuer',
      group: 'cert-manager.io',
    });
    expect(server.address).toBe('https://vault.vault.svc:8200');
    expect(server.caBundle).toEqual({ name: 'vault-tls', key: 'ca.crt' });
  });

  test('writes a raft, TLS-only server configuration', () => {
    const objects = synth();

    const hcl = find(objects, 'ConfigMap', 'vault-config').data['server.hcl'];

    expect(hcl).toContain('storage "raft" {\n  path = "/vault/data"\n  node_id = "vault-0"\n}');
    expect(hcl).toContain('tls_cert_file = "/vault/tls/tls.crt"');
    expect(hcl).toContain('tls_key_file = "/vault/tls/tls.key"');
    expect(hcl).not.toContain('tls_disable');
    expect(hcl).toContain('api_addr = "https://vault.vault.svc:8200"');
    expect(hcl).toContain('cluster_addr = "https://vault-0.vault-internal.vault.svc:8201"');
    expect(hcl).toContain('disable_mlock = true');
    expect(hcl).toContain('ui = false');
  });

  test('keeps raft data on a claim template of the given block class', () => {
    const objects = synth();

    const statefulSet = find(objects, 'StatefulSet', 'vault');

    expect(statefulSet.spec).toMatchObject({ replicas: 1, serviceName: 'vault-internal' });
    expect(statefulSet.spec.volumeClaimTemplates).toEqual([
      expect.objectContaining({
        spec: expect.objectContaining({
          accessModes: ['ReadWriteOnce'],
          storageClassName: 'local-path',
          resources: { requests: { storage: '5Gi' } },
        }),
      }),
    ]);
    expect(containerOf(statefulSet, 'vault').volumeMounts).toContainEqual({
      name: 'data',
      mountPath: '/vault/data',
    });
  });

  test('refuses an NFS class, naming the prop', () => {
    expect(() => setup({ storage: { storageClassName: 'nfs-csi' } })).toThrow(
      /storage\.storageClassName: "nfs-csi" is an NFS class.*use a block StorageClass/,
    );
  });

  test('collects every bad prop in one error', () => {
    let message = '';
    try {
      setup({
        name: 'Vault',
        image: 'hashicorp/vault:latest',
        storage: { storageClassName: 'local-path', size: '10G' },
        images: { registry: 'https://mirror' },
      });
    } catch (error) {
      message = (error as Error).message;
    }

    expect(message).toMatch(/name: "Vault" is not a DNS label/);
    expect(message).toMatch(/image: "hashicorp\/vault:latest" moves with every push/);
    expect(message).toMatch(/storage\.size: "10G" is not a size/);
    expect(message).toMatch(/images\.registry: "https:\/\/mirror" is not a registry host/);
  });

  test('runs restricted, as uid 100 and gid 1000, without chown or setcap', () => {
    const objects = synth();

    const statefulSet = find(objects, 'StatefulSet', 'vault');
    const server = containerOf(statefulSet, 'vault');

    expect(podSpec(statefulSet).securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 100,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const workload of [statefulSet, initJob(objects)]) {
      const spec = podSpec(workload);
      for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
        expect(container.securityContext).toMatchObject({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
    expect(envOf(server, 'SKIP_CHOWN')).toBe('true');
    expect(envOf(server, 'SKIP_SETCAP')).toBe('true');
    expect(server.image).toBe('docker.io/hashicorp/vault:2.0.4');
  });

  test('is ready only when unsealed, checked over verified TLS', () => {
    const objects = synth();

    const server = containerOf(find(objects, 'StatefulSet', 'vault'), 'vault');

    expect(server.readinessProbe.exec.command).toEqual(['vault', 'status']);
    expect(envOf(server, 'VAULT_ADDR')).toBe('https://127.0.0.1:8200');
    expect(envOf(server, 'VAULT_CACERT')).toBe('/vault/tls/ca.crt');
  });

  test('serves sealed pods too, on a ClusterIP and a headless Service', () => {
    const objects = synth();

    const service = find(objects, 'Service', 'vault');
    const internal = find(objects, 'Service', 'vault-internal');
    const statefulSet = find(objects, 'StatefulSet', 'vault');

    expect(service.spec).toMatchObject({ type: 'ClusterIP', publishNotReadyAddresses: true });
    expect(service.spec.ports.map((p: K8sObject) => p.port)).toEqual([8200]);
    expect(internal.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(internal.spec.ports.map((p: K8sObject) => p.port)).toEqual([8200, 8201]);
    // the server's pods alone: the init Job's pods share the other labels
    expect(service.spec.selector).toEqual(statefulSet.spec.template.metadata.labels);
    expect(internal.spec.selector).toEqual(service.spec.selector);
    expect(service.spec.selector['app.kubernetes.io/component']).toBe('server');
  });

  test('binds its ServiceAccount to system:auth-delegator', () => {
    const objects = synth();

    const binding = find(objects, 'ClusterRoleBinding', 'vault-vault-auth-delegator');

    expect(binding.metadata.namespace).toBeUndefined();
    expect(binding.roleRef).toMatchObject({ kind: 'ClusterRole', name: 'system:auth-delegator' });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'vault', namespace: 'vault' },
    ]);
    expect(podSpec(find(objects, 'StatefulSet', 'vault')).serviceAccountName).toBe('vault');
  });

  test('unseals with a sidecar reading the init Secret, optionally mounted', () => {
    const objects = synth();

    const statefulSet = find(objects, 'StatefulSet', 'vault');
    const sidecar = containerOf(statefulSet, 'unseal');
    const volume = podSpec(statefulSet).volumes.find((v: K8sObject) => v.name === 'unseal');

    expect(sidecar.command).toEqual(['/bin/sh', '/vault/scripts/vault-unseal.sh']);
    expect(envOf(sidecar, 'VAULT_CLI')).toBe('vault');
    expect(volume.secret).toMatchObject({ secretName: 'vault-init', optional: true });
  });

  test('initializes through a digest-named Job that may create and read only its Secret', () => {
    const objects = synth();

    const job = initJob(objects);
    const role = find(objects, 'Role', 'vault-init');

    expect(job.metadata.name).toMatch(/^vault-init-[0-9a-f]{8}$/);
    expect(podSpec(job).initContainers.map((c: K8sObject) => c.name)).toEqual(['init', 'store']);
    expect(podSpec(job).containers.map((c: K8sObject) => c.name)).toEqual(['unseal']);
    expect(envOf(containerOf(job, 'init'), 'VAULT_ADDR')).toBe('https://vault.vault.svc:8200');
    expect(podSpec(job).volumes).toContainEqual({
      name: 'work',
      emptyDir: { medium: 'Memory', sizeLimit: '1Mi' },
    });
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['vault-init'], verbs: ['get'] },
    ]);
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  test('puts no secret into the YAML', () => {
    const yaml = JSON.stringify(synth());

    expect(yaml).not.toMatch(/hvs\.|root_token"\s*:|unseal_keys_b64"\s*:/);
    expect(yaml).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
  });

  test('runs OpenBao with its own CLI and paths', () => {
    const objects = synth({ image: OPENBAO_IMAGE });

    const statefulSet = find(objects, 'StatefulSet', 'vault');
    const server = containerOf(statefulSet, 'bao');
    const job = initJob(objects);
    const hcl = find(objects, 'ConfigMap', 'vault-config').data['server.hcl'];

    expect(server.image).toBe('docker.io/openbao/openbao:2.7.1');
    expect(server.command).toEqual([
      'docker-entrypoint.sh',
      'bao',
      'server',
      '-config=/openbao/config/server.hcl',
    ]);
    expect(server.readinessProbe.exec.command).toEqual(['bao', 'status']);
    expect(envOf(server, 'BAO_ADDR')).toBe('https://127.0.0.1:8200');
    expect(envOf(containerOf(statefulSet, 'unseal'), 'VAULT_CLI')).toBe('bao');
    expect(envOf(containerOf(job, 'init'), 'VAULT_CLI')).toBe('bao');
    expect(envOf(containerOf(job, 'unseal'), 'VAULT_CLI')).toBe('bao');
    expect(hcl).toContain('path = "/openbao/file"');
  });

  test('pulls from a mirror', () => {
    const objects = synth({ images: { registry: 'mirror.example.test/hub' } });

    const statefulSet = find(objects, 'StatefulSet', 'vault');
    const job = initJob(objects);

    expect(containerOf(statefulSet, 'vault').image).toBe(
      'mirror.example.test/hub/hashicorp/vault:2.0.4',
    );
    expect(containerOf(job, 'store').image).toBe(
      'mirror.example.test/hub/goharbor/prepare:v2.15.2',
    );
  });

  test('scripts pass shellcheck', () => {
    expect(() =>
      execFileSync(
        'shellcheck',
        ['--shell=sh', '--severity=style', 'vault-init.sh', 'vault-unseal.sh'],
        { cwd: SCRIPTS, encoding: 'utf-8' },
      ),
    ).not.toThrow();
  });
});

/**
 * A stateful stand-in for the vault/bao CLI: uninitialized, then initialized and sealed, then
 * unsealed; it counts inits so a test can see a second run did not re-init.
 */
const FAKE_CLI = `#!/bin/sh
state="$FAKE_STATE/state"
[ -f "$state" ] || echo uninitialized >"$state"
now=$(cat "$state")
case "$1 $2" in
  "status "*|"status")
    [ "$now" = unsealed ] && exit 0
    exit 2 ;;
  "operator init")
    if [ "\${3:-}" = "-status" ]; then
      [ "$now" = uninitialized ] && exit 2
      exit 0
    fi
    [ "$now" = uninitialized ] || { echo "already initialized" >&2; exit 2; }
    echo x >>"$FAKE_STATE/inits"
    echo sealed >"$state"
    printf '{\\n  "unseal_keys_b64": [\\n    "S0VZ"\\n  ],\\n  "root_token": "hvs.fake"\\n}\\n' ;;
  "operator unseal")
    [ "$3" = "S0VZ" ] || { echo "bad key" >&2; exit 2; }
    echo unsealed >"$state" ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
`;

describe('vault init and unseal scripts', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-scripts-'));
    fs.mkdirSync(path.join(dir, 'bin'));
    for (const cli of ['vault', 'bao']) {
      fs.writeFileSync(path.join(dir, 'bin', cli), FAKE_CLI, { mode: 0o755 });
    }
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(script: string, env: Record<string, string>) {
    return spawnSync('sh', [path.join(SCRIPTS, script)], {
      encoding: 'utf-8',
      timeout: 10000,
      env: {
        PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
        FAKE_STATE: dir,
        INIT_OUTPUT: path.join(dir, 'init.json'),
        UNSEAL_KEY_FILE: path.join(dir, 'unseal-key'),
        UNSEAL_INTERVAL: '0',
        WAIT_INTERVAL: '0',
        ...env,
      },
    });
  }
  const state = () => fs.readFileSync(path.join(dir, 'state'), 'utf-8').trim();
  const inits = () => fs.readFileSync(path.join(dir, 'inits'), 'utf-8').split('\n').length - 1;

  test('initializes once, and a second run leaves the server alone', () => {
    const first = run('vault-init.sh', {});
    const afterFirst = state();
    fs.renameSync(path.join(dir, 'init.json'), path.join(dir, 'stored.json'));
    const second = run('vault-init.sh', {});

    expect(first.status).toBe(0);
    expect(afterFirst).toBe('sealed');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'stored.json'), 'utf-8'))).toEqual({
      unseal_keys_b64: ['S0VZ'],
      root_token: 'hvs.fake',
    });
    expect(first.stdout + first.stderr).not.toContain('hvs.fake');
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('already initialized');
    expect(fs.existsSync(path.join(dir, 'init.json'))).toBe(false);
    expect(inits()).toBe(1);
  });

  test('unseals a sealed server once the key is there', () => {
    run('vault-init.sh', {});
    const withoutKey = run('vault-unseal.sh', { UNSEAL_ONCE: 'true' });
    const stillSealed = state();
    fs.writeFileSync(path.join(dir, 'unseal-key'), 'S0VZ');
    const withKey = run('vault-unseal.sh', { UNSEAL_ONCE: 'true' });

    expect(withoutKey.status).toBe(0);
    expect(withoutKey.stderr).toContain('unseal this server by hand');
    expect(stillSealed).toBe('sealed');
    expect(withKey.status).toBe(0);
    expect(state()).toBe('unsealed');
    expect(withKey.stdout + withKey.stderr).not.toContain('S0VZ');
  });

  test('gives up after its attempts when the key is refused', () => {
    run('vault-init.sh', {});
    fs.writeFileSync(path.join(dir, 'unseal-key'), 'WRONG');

    const result = run('vault-unseal.sh', { UNSEAL_ONCE: 'true', UNSEAL_ATTEMPTS: '3' });

    expect(result.status).toBe(1);
    expect(state()).toBe('sealed');
  });

  test('drives the bao CLI when told to', () => {
    fs.rmSync(path.join(dir, 'bin', 'vault'));

    const init = run('vault-init.sh', { VAULT_CLI: 'bao' });
    fs.writeFileSync(path.join(dir, 'unseal-key'), 'S0VZ');
    const unseal = run('vault-unseal.sh', { VAULT_CLI: 'bao', UNSEAL_ONCE: 'true' });

    expect(init.status).toBe(0);
    expect(unseal.status).toBe(0);
    expect(state()).toBe('unsealed');
  });

  test('the sidecar loop unseals again after a restart seals the server', async () => {
    run('vault-init.sh', {});
    fs.writeFileSync(path.join(dir, 'unseal-key'), 'S0VZ');
    const until = async (wanted: string) => {
      for (let i = 0; i < 100 && state() !== wanted; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return state();
    };

    const loop = spawn('sh', [path.join(SCRIPTS, 'vault-unseal.sh')], {
      stdio: 'ignore',
      env: {
        PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
        FAKE_STATE: dir,
        UNSEAL_KEY_FILE: path.join(dir, 'unseal-key'),
        UNSEAL_INTERVAL: '0.1',
      },
    });
    try {
      const first = await until('unsealed');
      fs.writeFileSync(path.join(dir, 'state'), 'sealed\n');
      const afterRestart = await until('unsealed');

      expect(first).toBe('unsealed');
      expect(afterRestart).toBe('unsealed');
      expect(loop.exitCode).toBeNull();
    } finally {
      loop.kill();
    }
  });
});
