import { createHash } from 'crypto';
import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import * as k8s from '../../imports/k8s';
import { Check, dataKey, dnsName, imageRegistry, label, objectName, port } from '../private/checks';
import { readAsset } from '../private/assets';
import { Problems } from '../private/validation';
import { StorageImagesProps, mirrorImage, pinnedImage } from '../storage/images';

export interface NodeTrustProps {
  /**
   * Namespace of the DaemonSet and of the CA ConfigMap. Create it with the Pod Security label
   * `pod-security.kubernetes.io/enforce: privileged`: `baseline` refuses hostPath volumes.
   */
  readonly namespace: string;

  /** The registry's host name, as image references name it: `harbor.example.test`. */
  readonly host: string;

  /**
   * The registry's HTTPS port. With 443 images name the registry by its host alone, and the
   * runtimes look the CA up under `host`; with any other port under `host:port`.
   * @default 443
   */
  readonly port?: number;

  /**
   * The ConfigMap in `namespace` that holds the CA, such as the one a trust-manager Bundle
   * writes there. It is mounted whole, so a rotated CA reaches the nodes without a restart.
   */
  readonly caConfigMap: string;

  /**
   * The key of the CA in `caConfigMap`, one or more PEM certificates.
   * @default 'ca.crt'
   */
  readonly caKey?: string;

  /**
   * Name of the DaemonSet and its ConfigMaps.
   * @default 'node-trust'
   */
  readonly name?: string;

  /** @default - writes `/etc/containerd/certs.d/<host[:port]>/{ca.crt,hosts.toml}` */
  readonly containerd?: ContainerdTrustProps;

  /** @default - writes `/etc/docker/certs.d/<host[:port]>/ca.crt` */
  readonly docker?: DockerTrustProps;

  /**
   * Also write the CA where k3s or RKE2 read it, and render a `registries.yaml` for it.
   * @default - none
   */
  readonly rancher?: RancherTrustProps;

  /**
   * Time between two passes; a rotated CA reaches the node within it, plus the kubelet's
   * ConfigMap sync delay.
   * @default Duration.minutes(5)
   */
  readonly interval?: Duration;

  /**
   * The image that runs the script: any POSIX shell with coreutils, pinned by tag or digest.
   * It must NOT come from the registry this construct makes trusted (Harbor itself): a node
   * that does not trust Harbor yet cannot pull it.
   * @default NODE_TRUST_IMAGE, through `images.registry` when that is set
   */
  readonly image?: string;

  /**
   * A mirror for the default image. Like `image`, never Harbor itself.
   * @default - the upstream registry
   */
  readonly images?: StorageImagesProps;
}

export interface ContainerdTrustProps {
  /** @default true */
  readonly enabled?: boolean;

  /**
   * containerd's hosts directory on the node, the `config_path` of its registry section.
   * containerd 1.x, 2.0 and 2.1 read it only when `config_path` is set in config.toml, which
   * takes a containerd restart; 2.2 and later read it by default.
   * @see https://github.com/containerd/containerd/blob/main/docs/hosts.md
   * @default '/etc/containerd/certs.d'
   */
  readonly certsDir?: string;

  /**
   * Read the node's `/etc/containerd/config.toml` and print a warning when it does not set
   * `config_path`, or has inline `registry.mirrors` / `registry.configs` tables. It only
   * warns: it never changes config.toml.
   * @default true
   */
  readonly checkConfig?: boolean;
}

export interface DockerTrustProps {
  /** @default true */
  readonly enabled?: boolean;

  /**
   * Docker's per-registry certificate directory on the node.
   * @see https://docs.docker.com/engine/security/certificates/
   * @default '/etc/docker/certs.d'
   */
  readonly certsDir?: string;
}

export interface RancherTrustProps {
  readonly distribution: RancherDistribution;
}

/** A Rancher Kubernetes distribution that configures its containerd from registries.yaml. */
export enum RancherDistribution {
  K3S = 'k3s',
  RKE2 = 'rke2',
}

/** Kubernetes' own busybox build, as its e2e tests pin it; also the NFS preflight's shell. */
export const NODE_TRUST_IMAGE = 'registry.k8s.io/e2e-test-images/busybox:1.36.1-1';

export const DEFAULT_CONTAINERD_CERTS_DIR = '/etc/containerd/certs.d';
export const DEFAULT_DOCKER_CERTS_DIR = '/etc/docker/certs.d';

const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
const NODE_ROOT = '/host';
const CA_DIR = '/etc/node-trust/ca';
const SCRIPT_DIR = '/etc/node-trust/script';
const SCRIPT_FILE = 'node-trust.sh';

/**
 * Distributes the registry's CA to every node, so that the kubelet's runtime pulls from a
 * registry whose certificate a private CA signed. One pod per node, control plane included,
 * copies the CA from a ConfigMap into the runtimes' per-registry directories every `interval`,
 * only when it changed, by temporary file and rename:
 *
 * - containerd: `<certsDir>/<host[:port]>/ca.crt` and a `hosts.toml` that points at it; it
 *   never touches config.toml and writes no `registry.mirrors` or `registry.configs` tables;
 * - Docker: `<certsDir>/<host[:port]>/ca.crt`;
 * - k3s or RKE2: `/etc/rancher/<distribution>/certs/<host[:port]>/ca.crt`, and a ConfigMap
 *   `<name>-registries` whose `registries.yaml` an admin merges into the node's own file
 *   (k3s and RKE2 read it at start only, so they need a restart); the node's file is never
 *   written.
 *
 * Its limits: containerd before 2.2 ignores certs.d unless config.toml sets `config_path`,
 * which the pods can only warn about; files of a registry that is no longer configured stay on
 * the nodes. The pods run as root, to write root's directories, with no capabilities, no
 * privilege escalation and a read-only root filesystem; their hostPath volumes need a
 * namespace that Pod Security admits at `privileged`. Their image must not come from Harbor.
 */
export class NodeTrust extends Construct {
  public readonly daemonSet: k8s.KubeDaemonSet;
  /** The `registries.yaml` for k3s or RKE2, when `rancher` is set. */
  public readonly registriesConfig?: k8s.KubeConfigMap;
  /** The registry as image references and certificate directories name it: `host[:port]`. */
  public readonly registry: string;

  public constructor(scope: Construct, id: string, props: NodeTrustProps) {
    super(scope, id);

    const problems = new Problems();
    problems.value('namespace', props.namespace, label);
    problems.value('host', props.host, dnsName);
    problems.value('port', props.port, port);
    problems.value('caConfigMap', props.caConfigMap, objectName);
    problems.value('caKey', props.caKey, dataKey);
    problems.value('name', props.name, label);
    problems.value('containerd.certsDir', props.containerd?.certsDir, absolutePath);
    problems.value('docker.certsDir', props.docker?.certsDir, absolutePath);
    problems.value('interval', props.interval?.toSeconds(), interval);
    problems.value('image', props.image, pinnedImage);
    problems.value('images.registry', props.images?.registry, imageRegistry);
    problems.value('rancher.distribution', props.rancher?.distribution, (value) =>
      Object.values(RancherDistribution).includes(value)
        ? undefined
        : `is not a distribution; use one of ${Object.values(RancherDistribution).join(', ')}`,
    );
    const registry = (props.port ?? 443) === 443 ? props.host : `${props.host}:${props.port}`;
    for (const [field, value] of [
      ['image', props.image],
      ['images.registry', props.images?.registry],
    ] as const) {
      problems.check(
        value === undefined || value.split('/')[0] !== registry,
        field,
        `${JSON.stringify(value)} is the registry whose CA this installs; a node that does not` +
          ' trust it yet cannot pull from it; use an upstream registry or another mirror',
      );
    }
    const containerd = props.containerd?.enabled ?? true;
    const docker = props.docker?.enabled ?? true;
    problems.check(
      containerd || docker || props.rancher !== undefined,
      'containerd.enabled, docker.enabled, rancher',
      'all off, so the CA would go nowhere; enable at least one runtime',
    );
    problems.throwIfAny('node trust');

    const name = props.name ?? 'node-trust';
    this.registry = registry;
    const image = props.image ?? mirrorImage(NODE_TRUST_IMAGE, props.images?.registry);
    const containerdDir = props.containerd?.certsDir ?? DEFAULT_CONTAINERD_CERTS_DIR;
    const dockerDir = props.docker?.certsDir ?? DEFAULT_DOCKER_CERTS_DIR;
    const checkConfig = containerd && (props.containerd?.checkConfig ?? true);
    const rancherDir = props.rancher && `/etc/rancher/${props.rancher.distribution}/certs`;
    const seconds = props.interval?.toSeconds() ?? 300;
    const selector = { 'app.kubernetes.io/name': 'node-trust', 'app.kubernetes.io/instance': name };
    const labels = {
      ...selector,
      'app.kubernetes.io/part-of': 'harbor',
      'app.kubernetes.io/managed-by': 'cdk8s-harbor',
    };
    const metadata = { name, namespace: props.namespace, labels };

    const text = readAsset(`lib/pki/scripts/${SCRIPT_FILE}`);
    const script = new k8s.KubeConfigMap(this, 'Script', {
      metadata: { ...metadata, name: `${name}-script` },
      data: { [SCRIPT_FILE]: text },
    });

    if (rancherDir !== undefined) {
      this.registriesConfig = new k8s.KubeConfigMap(this, 'Registries', {
        metadata: { ...metadata, name: `${name}-registries` },
        data: { 'registries.yaml': registriesYaml(this.registry, rancherDir) },
      });
    }

    // each host directory the script writes, at the same path under NODE_ROOT
    const hostDirs: Array<{ volume: string; path: string; readOnly: boolean }> = [];
    if (checkConfig) {
      // mounted before certs.d, which lies inside it and stays writable
      hostDirs.push({ volume: 'containerd-config', path: '/etc/containerd', readOnly: true });
    }
    if (containerd)
      hostDirs.push({ volume: 'containerd-certs', path: containerdDir, readOnly: false });
    if (docker) hostDirs.push({ volume: 'docker-certs', path: dockerDir, readOnly: false });
    if (rancherDir) hostDirs.push({ volume: 'rancher-certs', path: rancherDir, readOnly: false });

    const env: k8s.EnvVar[] = [
      { name: 'REGISTRY', value: this.registry },
      { name: 'CA_FILE', value: `${CA_DIR}/${props.caKey ?? 'ca.crt'}` },
      { name: 'NODE_ROOT', value: NODE_ROOT },
      { name: 'CONTAINERD_CERTS_DIR', value: containerd ? containerdDir : '' },
      { name: 'CONTAINERD_CONFIG', value: checkConfig ? CONTAINERD_CONFIG : '' },
      { name: 'DOCKER_CERTS_DIR', value: docker ? dockerDir : '' },
      { name: 'RANCHER_CERTS_DIR', value: rancherDir ?? '' },
      { name: 'INTERVAL', value: String(seconds) },
    ];

    this.daemonSet = new k8s.KubeDaemonSet(this, 'Resource', {
      metadata,
      spec: {
        selector: { matchLabels: selector },
        updateStrategy: {
          type: 'RollingUpdate',
          rollingUpdate: { maxUnavailable: k8s.IntOrString.fromString('25%') },
        },
        template: {
          metadata: {
            labels,
            // a changed script rolls the pods
            annotations: { 'cdk8s-harbor/script-digest': digest(text) },
          },
          spec: {
            automountServiceAccountToken: false,
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            // every node pulls images, the control plane and tainted nodes too
            tolerations: [{ operator: 'Exists' }],
            // a CA that is already in place stays; nothing is lost by a quick stop
            terminationGracePeriodSeconds: 5,
            securityContext: {
              // root owns the runtimes' directories; no capability is needed to write there
              runAsUser: 0,
              runAsGroup: 0,
              runAsNonRoot: false,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'node-trust',
                image,
                imagePullPolicy: 'IfNotPresent',
                command: ['sh', `${SCRIPT_DIR}/${SCRIPT_FILE}`],
                env,
                resources: {
                  requests: { cpu: quantity('1m'), memory: quantity('8Mi') },
                  limits: { cpu: quantity('50m'), memory: quantity('32Mi') },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  privileged: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  { name: 'script', mountPath: SCRIPT_DIR, readOnly: true },
                  // whole, never subPath: a subPath mount never sees an updated ConfigMap
                  { name: 'ca', mountPath: CA_DIR, readOnly: true },
                  ...hostDirs.map((dir) => ({
                    name: dir.volume,
                    mountPath: `${NODE_ROOT}${dir.path}`,
                    readOnly: dir.readOnly,
                  })),
                ],
              },
            ],
            volumes: [
              { name: 'script', configMap: { name: script.name } },
              { name: 'ca', configMap: { name: props.caConfigMap } },
              ...hostDirs.map((dir) => ({
                name: dir.volume,
                hostPath: { path: dir.path, type: 'DirectoryOrCreate' },
              })),
            ],
          },
        },
      },
    });
  }
}

/**
 * k3s and RKE2's registries.yaml for the registry: only `configs.<host[:port]>.tls.ca_file`.
 * A client certificate and key without a client-auth registry break every pull (field failure
 * #44), so none is named.
 * @see https://docs.k3s.io/installation/private-registry
 */
function registriesYaml(registry: string, certsDir: string): string {
  const document = {
    configs: { [registry]: { tls: { ca_file: `${certsDir}/${registry}/ca.crt` } } },
  };
  return stringify(document);
}

const absolutePath: Check<string> = (value) =>
  /^\/[A-Za-z0-9._/-]*$/.test(value) && !value.split('/').includes('..') && value !== '/'
    ? undefined
    : 'is not an absolute path; use e.g. "/etc/containerd/certs.d", of letters, digits,' +
      " '.', '_', '-' and '/', without '..'";

const interval: Check<number> = (value) =>
  Number.isInteger(value) && value >= 10 && value <= 86400
    ? undefined
    : 'seconds is not between 10 s and one day; use e.g. Duration.minutes(5)';

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function quantity(value: string): k8s.Quantity {
  return k8s.Quantity.fromString(value);
}
