/**
 * NodeTrust: the synthesized DaemonSet, and its script run for real. The script, with the env
 * of the synthesized container, writes the CA under a temporary node root; Debian's
 * `containerd` daemon, started by the test, then pulls through `ctr --hosts-dir` from Debian's
 * `docker-registry` serving a leaf and intermediate signed by a root only that CA file holds.
 *
 * Debian packages: containerd, docker-registry, skopeo, openssl, shellcheck.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lookup } from 'dns/promises';
import { Chart, Duration, Testing } from 'cdk8s';
import { parse, stringify } from 'yaml';
import { NodeTrust, NodeTrustProps, RancherDistribution } from '../../lib/pki/node-trust';
import { Certificate, TestPki } from '../support/certificates';
import {
  Daemon,
  RunResult,
  freePort,
  run,
  startDaemon,
  stopDaemon,
  waitUntil,
} from '../support/processes';
import { expectValidObjects } from '../support/schema';
import { buildOciImage } from '../support/oci-image';
import { K8sObject, containerOf, find, ofKind, podSpec } from '../support/synth';

const SCRIPT = path.join(__dirname, '..', '..', 'lib', 'pki', 'scripts', 'node-trust.sh');
const COMMAND_MS = 60_000;

function synth(props: Partial<NodeTrustProps> = {}): K8sObject[] {
  const chart = new Chart(Testing.app(), 'test');
  new NodeTrust(chart, 'trust', {
    namespace: 'node-trust',
    host: 'harbor.example.test',
    caConfigMap: 'harbor-ca',
    ...props,
  });
  const objects = Testing.synth(chart);
  expectValidObjects(objects);
  return objects;
}

function container(objects: K8sObject[]): K8sObject {
  return containerOf(find(objects, 'DaemonSet', 'node-trust'), 'node-trust');
}

function envMap(c: K8sObject): Record<string, string> {
  return Object.fromEntries((c.env as K8sObject[]).map((e) => [e.name, e.value as string]));
}

/** Fails, never skips, when a program the test runs is not installed. */
function requirePrograms(...programs: string[]): void {
  const missing = programs.filter(
    (p) => spawnSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).status !== 0,
  );
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(', ')}; run scripts/install-test-tools.sh to install the test tools`,
    );
  }
}

describe('NodeTrust', () => {
  test('names the directory by the host alone on port 443, with the port otherwise', () => {
    expect(envMap(container(synth())).REGISTRY).toBe('harbor.example.test');
    expect(envMap(container(synth({ port: 30003 }))).REGISTRY).toBe('harbor.example.test:30003');
  });

  test('runs in the given namespace on every node, tolerating every taint', () => {
    const objects = synth();

    const daemonSet = find(objects, 'DaemonSet', 'node-trust');
    expect(daemonSet.metadata.namespace).toBe('node-trust');
    expect(find(objects, 'ConfigMap', 'node-trust-script').metadata.namespace).toBe('node-trust');
    expect(podSpec(daemonSet).tolerations).toEqual([{ operator: 'Exists' }]);
  });

  test('runs as root with no capabilities, no escalation and a read-only root', () => {
    const objects = synth();

    const spec = podSpec(find(objects, 'DaemonSet', 'node-trust'));
    expect(spec.securityContext).toMatchObject({ runAsUser: 0, runAsNonRoot: false });
    expect(container(objects).securityContext).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container(objects).resources.limits).toEqual({ cpu: '50m', memory: '32Mi' });
  });

  test('mounts the CA ConfigMap whole, never by subPath', () => {
    const objects = synth({ caKey: 'root.pem' });

    const c = container(objects);
    const volumes = podSpec(find(objects, 'DaemonSet', 'node-trust')).volumes as K8sObject[];
    expect(c.volumeMounts.every((m: K8sObject) => m.subPath === undefined)).toBe(true);
    const mount = c.volumeMounts.find((m: K8sObject) => m.name === 'ca');
    expect(volumes.find((v) => v.name === 'ca')).toEqual({
      name: 'ca',
      configMap: { name: 'harbor-ca' },
    });
    expect(envMap(c).CA_FILE).toBe(`${mount.mountPath}/root.pem`);
  });

  test('writes only the runtime directories, under /host, and reads containerd config', () => {
    const objects = synth();

    const c = container(objects);
    const volumes = podSpec(find(objects, 'DaemonSet', 'node-trust')).volumes as K8sObject[];
    const hostMounts = c.volumeMounts
      .filter((m: K8sObject) => m.mountPath.startsWith('/host/'))
      .map((m: K8sObject) => [m.mountPath, m.readOnly]);
    expect(hostMounts).toEqual([
      ['/host/etc/containerd', true],
      ['/host/etc/containerd/certs.d', false],
      ['/host/etc/docker/certs.d', false],
    ]);
    expect(volumes.filter((v) => v.hostPath).map((v) => v.hostPath.path)).toEqual([
      '/etc/containerd',
      '/etc/containerd/certs.d',
      '/etc/docker/certs.d',
    ]);
    expect(envMap(c)).toMatchObject({
      NODE_ROOT: '/host',
      CONTAINERD_CERTS_DIR: '/etc/containerd/certs.d',
      CONTAINERD_CONFIG: '/etc/containerd/config.toml',
      DOCKER_CERTS_DIR: '/etc/docker/certs.d',
      RANCHER_CERTS_DIR: '',
      INTERVAL: '300',
    });
  });

  test('switches runtimes off and takes its own directories and interval', () => {
    const objects = synth({
      docker: { enabled: false },
      containerd: { certsDir: '/var/lib/certs.d', checkConfig: false },
      interval: Duration.minutes(1),
    });

    const env = envMap(container(objects));
    expect(env).toMatchObject({
      CONTAINERD_CERTS_DIR: '/var/lib/certs.d',
      CONTAINERD_CONFIG: '',
      DOCKER_CERTS_DIR: '',
      INTERVAL: '60',
    });
    const volumes = podSpec(find(objects, 'DaemonSet', 'node-trust')).volumes as K8sObject[];
    expect(volumes.filter((v) => v.hostPath).map((v) => v.hostPath.path)).toEqual([
      '/var/lib/certs.d',
    ]);
  });

  test('pins busybox and rewrites it to a mirror', () => {
    expect(container(synth()).image).toBe('registry.k8s.io/e2e-test-images/busybox:1.36.1-1');
    expect(container(synth({ images: { registry: 'mirror.example.test/k8s' } })).image).toBe(
      'mirror.example.test/k8s/e2e-test-images/busybox:1.36.1-1',
    );
  });

  test('ships the script from lib/pki/scripts and rolls pods when it changes', () => {
    const objects = synth();

    const script = find(objects, 'ConfigMap', 'node-trust-script').data['node-trust.sh'];
    expect(script).toBe(fs.readFileSync(SCRIPT, 'utf8'));
    const daemonSet = find(objects, 'DaemonSet', 'node-trust');
    expect(daemonSet.spec.template.metadata.annotations['cdk8s-harbor/script-digest']).toBe(
      createHash('sha256').update(script).digest('hex').slice(0, 16),
    );
  });

  test('renders a registries.yaml for k3s with only tls.ca_file', () => {
    const objects = synth({ port: 30003, rancher: { distribution: RancherDistribution.K3S } });

    const map = find(objects, 'ConfigMap', 'node-trust-registries');
    const registries = parse(map.data['registries.yaml']);
    expect(registries).toEqual({
      configs: {
        'harbor.example.test:30003': {
          tls: { ca_file: '/etc/rancher/k3s/certs/harbor.example.test:30003/ca.crt' },
        },
      },
    });
    expect(envMap(container(objects)).RANCHER_CERTS_DIR).toBe('/etc/rancher/k3s/certs');
  });

  test('renders no registries.yaml without rancher', () => {
    expect(ofKind(synth(), 'ConfigMap').map((m) => m.metadata.name)).toEqual(['node-trust-script']);
  });

  test('throws naming every bad prop', () => {
    expect(() =>
      synth({
        host: 'https://harbor.example.test',
        port: 70000,
        containerd: { certsDir: 'etc/containerd' },
        docker: { certsDir: '/etc/../docker' },
        interval: Duration.seconds(1),
        image: 'busybox',
      }),
    ).toThrow(
      new RegExp(
        [
          'host: "https://harbor.example.test" is a URL',
          'port: 70000 is not a TCP port',
          'containerd.certsDir: "etc/containerd" is not an absolute path',
          'docker.certsDir: "/etc/../docker" is not an absolute path',
          'interval: 1 seconds is not between',
          'image: "busybox" has no tag',
        ].join('[^]*'),
      ),
    );
  });

  test('throws when every runtime is off', () => {
    expect(() => synth({ containerd: { enabled: false }, docker: { enabled: false } })).toThrow(
      /containerd.enabled, docker.enabled, rancher: all off/,
    );
  });

  test('throws when the image would come from the registry it makes trusted', () => {
    expect(() => synth({ images: { registry: 'harbor.example.test/proxy' } })).toThrow(
      /images.registry: "harbor.example.test\/proxy" is the registry whose CA this installs/,
    );
  });

  test('the script passes shellcheck', () => {
    requirePrograms('shellcheck');

    const result = spawnSync('shellcheck', ['--shell=sh', '--severity=style', SCRIPT], {
      encoding: 'utf8',
    });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// The script against real programs

/** A root CA, an intermediate it signs and a leaf for the host, localhost and 127.0.0.1. */
function makePki(
  dir: string,
  host: string,
): { root: Certificate; leaf: Certificate; chain: string } {
  const pki = new TestPki(dir);
  const root = pki.root('root', { commonName: 'node-trust test root' });
  const intermediate = pki.intermediate('intermediate', root, {
    commonName: 'node-trust test intermediate',
  });
  const leaf = pki.leaf('leaf', intermediate, {
    commonName: 'localhost',
    subjectAltNames: [`DNS:${host}`, 'DNS:localhost', 'IP:127.0.0.1'],
  });
  return { root, leaf, chain: pki.writeChain('chain.crt', [leaf, intermediate]) };
}

describe('the script with real containerd and registry', () => {
  let workDir: string;
  let registry: Daemon | undefined;
  let containerd: Daemon | undefined;
  let socket: string;
  let nodeRoot: string;
  let scriptEnv: Record<string, string>;
  let reference: string;
  let env: NodeJS.ProcessEnv;
  let registryName: string;

  beforeAll(async () => {
    requirePrograms('containerd', 'ctr', 'docker-registry', 'skopeo', 'openssl', 'tar');
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-trust-test-'));
    env = { ...process.env, HOME: workDir };
    for (const key of Object.keys(env)) {
      if (/^(REGISTRY_|CONTAINERD_|(HTTPS?|ALL|NO)_PROXY$)/i.test(key)) delete env[key];
    }
    // containerd falls back to plain HTTP for localhost, which hides the TLS failure; the
    // machine's own name, where it resolves to an address of this machine, does not
    const named = await lookup(os.hostname().toLowerCase(), 4).catch(() => undefined);
    const usable = named !== undefined && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(os.hostname());
    registryName = usable ? os.hostname().toLowerCase() : 'localhost';
    const address = usable ? named!.address : '127.0.0.1';
    const pki = makePki(path.join(workDir, 'pki'), registryName);

    const port = await freePort(address);
    const registryConfig = path.join(workDir, 'registry.yml');
    fs.writeFileSync(
      registryConfig,
      stringify({
        version: 0.1,
        log: { level: 'info' },
        storage: { filesystem: { rootdirectory: path.join(workDir, 'registry') } },
        http: {
          addr: `${address}:${port}`,
          tls: { certificate: pki.chain, key: pki.leaf.keyFile },
        },
      }),
    );
    registry = startDaemon(
      'docker-registry',
      '/usr/bin/docker-registry',
      ['serve', registryConfig],
      {
        env,
      },
    );
    await waitUntil(registry, async () => registry!.output().includes('listening on'), {
      timeoutMs: 15_000,
    });

    // pushing is not under test: skopeo trusts the root through a directory of its own
    const skopeoCerts = path.join(workDir, 'skopeo-certs');
    fs.mkdirSync(skopeoCerts);
    fs.copyFileSync(pki.root.certFile, path.join(skopeoCerts, 'root.crt'));
    const policy = path.join(workDir, 'policy.json');
    fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const image = path.join(workDir, 'image');
    buildOciImage(image, '1');
    reference = `${registryName}:${port}/library/test:1`;
    const push = await run(
      'skopeo',
      [
        '--policy',
        policy,
        'copy',
        '--dest-cert-dir',
        skopeoCerts,
        `oci:${image}:1`,
        `docker://${reference}`,
      ],
      { env, timeoutMs: COMMAND_MS },
    );
    expect(push).toMatchObject({ code: 0 });

    // containerd as an unprivileged-enough daemon: no CRI, its own root, state and socket
    const ctd = path.join(workDir, 'containerd');
    fs.mkdirSync(ctd);
    socket = path.join(ctd, 'containerd.sock');
    const config = path.join(ctd, 'config.toml');
    fs.writeFileSync(
      config,
      [
        'version = 2',
        `root = "${ctd}/root"`,
        `state = "${ctd}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",',
        '  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",',
        '  "io.containerd.snapshotter.v1.aufs"]',
        '[grpc]',
        `  address = "${socket}"`,
        '[ttrpc]',
        `  address = "${socket}.ttrpc"`,
        '[debug]',
        '  address = ""',
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    );
    containerd = startDaemon('containerd', 'containerd', ['--config', config], { env });
    await waitUntil(containerd, async () => (await ctr(['version'])).code === 0, {
      timeoutMs: 15_000,
    });

    // the node: a temporary root, with the CA volume at the container's path under it
    nodeRoot = path.join(workDir, 'node');
    const objects = synth({ host: registryName, port, docker: { enabled: false } });
    scriptEnv = envMap(container(objects));
    const caFile = path.join(workDir, 'pod', scriptEnv.CA_FILE);
    fs.mkdirSync(path.dirname(caFile), { recursive: true });
    fs.copyFileSync(pki.root.certFile, caFile);
    fs.mkdirSync(path.join(nodeRoot, 'etc', 'containerd'), { recursive: true });
    fs.writeFileSync(path.join(nodeRoot, 'etc', 'containerd', 'config.toml'), 'version = 2\n');
    scriptEnv = { ...scriptEnv, CA_FILE: caFile, NODE_ROOT: nodeRoot, RUNTIME_ROOT: nodeRoot };
  }, 120_000);

  afterAll(async () => {
    await stopDaemon(containerd);
    await stopDaemon(registry);
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  function ctr(args: string[]): Promise<RunResult> {
    return run('ctr', ['--address', socket, '--namespace', 'node-trust-test', ...args], {
      env,
      timeoutMs: COMMAND_MS,
    });
  }

  function pull(): Promise<RunResult> {
    const hostsDir = path.join(nodeRoot, scriptEnv.CONTAINERD_CERTS_DIR);
    return ctr(['images', 'pull', '--snapshotter', 'native', '--hosts-dir', hostsDir, reference]);
  }

  function script(args: string[] = [], extra: Record<string, string> = {}): Promise<RunResult> {
    return run('sh', [SCRIPT, ...args], {
      env: { PATH: process.env.PATH, ...scriptEnv, ...extra },
      timeoutMs: COMMAND_MS,
    });
  }

  test('containerd refuses the registry before the script ran', async () => {
    const result = await pull();

    expect(result.code).not.toBe(0);
    // for localhost containerd retries over plain HTTP, which the TLS port answers with 400
    expect(result.stdout + result.stderr).toMatch(
      registryName === 'localhost' ? /400 Bad Request/ : /x509|unknown authority/,
    );
  });

  describe('after one pass of the script', () => {
    let pass: RunResult;

    beforeAll(async () => {
      pass = await script(['--once']);
    });

    test('it succeeded and warned about the missing config_path', () => {
      expect(pass.code).toBe(0);
      expect(pass.stdout).toMatch(
        /WARNING: \/etc\/containerd\/config.toml does not set config_path/,
      );
      expect(pass.stdout).toContain(`wrote /etc/containerd/certs.d/${scriptEnv.REGISTRY}/ca.crt`);
    });

    test('hosts.toml names the server and its CA', () => {
      const dir = path.join(nodeRoot, 'etc', 'containerd', 'certs.d', scriptEnv.REGISTRY);
      const hosts = fs.readFileSync(path.join(dir, 'hosts.toml'), 'utf8');

      expect(scriptEnv.REGISTRY).toBe(`${registryName}:${reference.split(':')[1].split('/')[0]}`);
      expect(hosts).toContain(`server = "https://${scriptEnv.REGISTRY}"`);
      expect(hosts).toContain(`[host."https://${scriptEnv.REGISTRY}"]`);
      expect(hosts).toContain(`ca = "${dir}/ca.crt"`);
      expect(hosts).not.toMatch(/registry\.(mirrors|configs)/);
      expect(fs.readdirSync(dir).sort()).toEqual(['ca.crt', 'hosts.toml']);
    });

    test('containerd pulls the image', async () => {
      const result = await pull();

      expect(result.stderr).not.toMatch(/x509/);
      expect(result.code).toBe(0);
      expect((await ctr(['images', 'ls', '-q'])).stdout).toContain(reference);
    });

    test('a second pass writes nothing', async () => {
      const again = await script(['--once']);

      expect(again.code).toBe(0);
      expect(again.stdout).not.toContain('wrote');
    });
  });

  test('the script fails on a CA file that is not a certificate', async () => {
    const bad = path.join(workDir, 'bad.crt');
    fs.writeFileSync(bad, 'not a certificate\n');

    const result = await script(['--once'], { CA_FILE: bad });

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('is not a PEM certificate');
  });

  test('the script fails on a missing CA file', async () => {
    const result = await script(['--once'], { CA_FILE: path.join(workDir, 'none.crt') });

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('is missing');
  });

  test('the loop stops promptly on SIGTERM', async () => {
    const loop = startDaemon('node-trust', 'sh', [SCRIPT], {
      env: { PATH: process.env.PATH, ...scriptEnv, INTERVAL: '300' },
    });
    await waitUntil(loop, async () => loop.output().includes('keeping the CA'), {
      timeoutMs: 10_000,
    });
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => loop.child.once('exit', resolve));

    process.kill(loop.child.pid!, 'SIGTERM');

    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3_000);
    await stopDaemon(loop);
  });
});
