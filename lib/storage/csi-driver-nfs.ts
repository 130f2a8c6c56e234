import { ApiObject, Chart, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { StorageImagesProps } from './images';
import { NfsExport, Squash } from './nfs-export';
import { HARBOR_UID } from '../harbor/core';
import { imageRegistry, label, objectName } from '../private/checks';
import { Problems, show } from '../private/validation';
import { clusterScoped, dropAddressLabel } from '../private/workload';

export interface CsiDriverNfsProps {
  /**
   * Namespace of the driver's Deployment, DaemonSet and ServiceAccounts. The construct does not
   * create it; it must allow privileged pods (Pod Security `privileged`).
   * @default - the chart's namespace, else 'csi-nfs'
   */
  readonly namespace?: string;

  /** @default - every image from registry.k8s.io */
  readonly images?: StorageImagesProps;

  /**
   * Replicas of the controller; they elect one leader through a Lease. The controller uses the
   * host network, so replicas must run on different nodes, and they are kept apart.
   * @default 1
   */
  readonly controllerReplicas?: number;

  /**
   * The kubelet's root directory on the nodes. Some distributions move it, e.g. k0s to
   * `/var/lib/k0s/kubelet` and MicroK8s to `/var/snap/microk8s/common/var/lib/kubelet`.
   * @default '/var/lib/kubelet'
   */
  readonly kubeletDir?: string;
}

/** What happens to a claim's directory on the share when the claim is deleted. */
export enum OnDelete {
  /** The PersistentVolume stays `Released` and the directory stays untouched. */
  RETAIN = 'retain',
  /** The directory is renamed to `archived-<subDir>` on the share. */
  ARCHIVE = 'archive',
  /** The directory and everything in it is removed. */
  DELETE = 'delete',
}

export interface NfsStorageClassProps {
  /** Name of the StorageClass, as claims name it in `storageClassName`. */
  readonly name: string;

  /** The export whose sub-directories the class hands out. */
  readonly export: NfsExport;

  /**
   * Directory of each claim under the share. It may use `${pvc.metadata.namespace}`,
   * `${pvc.metadata.name}` and `${pv.metadata.name}`, and must use one of the two names, or
   * every claim of the class would share one directory. With claim names alone, a claim
   * recreated under its old name finds its data again (when the class retains it).
   * @default '${pvc.metadata.namespace}/${pvc.metadata.name}'
   * @see https://github.com/kubernetes-csi/csi-driver-nfs/blob/master/docs/driver-parameters.md
   */
  readonly subDir?: string;

  /**
   * What deleting a claim does to its directory; it sets the class's `reclaimPolicy` to match
   * (`Retain` for RETAIN, else `Delete`). The driver removes or archives with default mount
   * options, not the class's, because the delete request carries none.
   * @default OnDelete.RETAIN
   * @see https://github.com/kubernetes-csi/csi-driver-nfs/blob/master/docs/driver-parameters.md
   */
  readonly onDelete?: OnDelete;

  /**
   * Octal mode the driver sets on each claim's directory, e.g. `0775`. Given, it replaces the
   * mode derived from the export's squash mode (see `addStorageClass`) and the check of
   * `anonUid` that comes with it.
   * @default - derived from `export.squash`
   * @see https://github.com/kubernetes-csi/csi-driver-nfs/blob/master/docs/driver-parameters.md
   */
  readonly mountPermissions?: string;
}

/** The name the driver registers under, and the `provisioner` of its StorageClasses. */
export const CSI_NFS_DRIVER = 'nfs.csi.k8s.io';

/** The csi-driver-nfs release this construct follows. */
export const CSI_NFS_VERSION = 'v4.13.4';

/**
 * Every image of the driver, as repository and tag under the registry, pinned to the versions
 * csi-driver-nfs v4.13.4 ships with. No snapshotter: see `CsiDriverNfs`.
 */
export const CSI_NFS_IMAGES = {
  nfsplugin: `sig-storage/nfsplugin:${CSI_NFS_VERSION}`,
  provisioner: 'sig-storage/csi-provisioner:v6.3.0',
  resizer: 'sig-storage/csi-resizer:v2.2.0',
  livenessProbe: 'sig-storage/livenessprobe:v2.19.0',
  nodeDriverRegistrar: 'sig-storage/csi-node-driver-registrar:v2.17.0',
} as const;

/** Full image references, one for each entry of `CSI_NFS_IMAGES`. */
export type CsiNfsImages = { readonly [image in keyof typeof CSI_NFS_IMAGES]: string };

/** The driver's image references under a registry, e.g. to list what a mirror must hold. */
export function csiNfsImages(registry = DEFAULT_REGISTRY): CsiNfsImages {
  const problems = new Problems();
  problems.value('images.registry', registry, imageRegistry);
  problems.throwIfAny('csi-driver-nfs images');

  const entries = Object.entries(CSI_NFS_IMAGES).map(([key, path]) => [key, `${registry}/${path}`]);
  return Object.fromEntries(entries) as unknown as CsiNfsImages;
}

/**
 * The NFS CSI driver (kubernetes-csi/csi-driver-nfs): provisions each claim of its
 * StorageClasses as a directory on an existing NFS export, and mounts it from its own node
 * plugin, so the nodes need no NFS client packages.
 *
 * It emits the CSIDriver, a controller Deployment (provisioner, resizer, plugin), a node
 * DaemonSet (registrar, plugin), their ServiceAccounts and RBAC; the namespace must exist.
 * There is no snapshot support: the snapshotter sidecar only logs errors on clusters without
 * the VolumeSnapshot CRDs, so neither it nor its RBAC is emitted. Nor is the provisioner
 * secret, so the driver reads no Secret.
 *
 * Limits:
 * - Claim sizes are not enforced: a claim can fill the whole export, and resizing only
 *   records the new size.
 * - The NFS server is a single point of failure for every claim on it.
 * - The plugin runs privileged with the host network on every node: its namespace must be at
 *   Pod Security `privileged`. Clusters that keep the `system-*-critical` priority classes to
 *   `kube-system` (GKE does) need `namespace: 'kube-system'`.
 * - One per cluster: the CSIDriver and the cluster roles have fixed names.
 */
export class CsiDriverNfs extends Construct {
  /** The namespace the driver's pods run in. */
  public readonly namespace: string;
  /** The images the driver's pods pull. */
  public readonly images: CsiNfsImages;
  public readonly driver: k8s.KubeCsiDriver;
  /** Provisions, deletes and resizes volumes; one replica leads. */
  public readonly controller: kplus.Deployment;
  /** Mounts volumes for the pods of each node. */
  public readonly nodePlugin: kplus.DaemonSet;

  private readonly storageClassNames = new Set<string>();

  public constructor(scope: Construct, id: string, props: CsiDriverNfsProps = {}) {
    super(scope, id);

    const problems = new Problems();
    problems.value('namespace', props.namespace, label);
    problems.value('images.registry', props.images?.registry, imageRegistry);
    problems.value('controllerReplicas', props.controllerReplicas, (replicas) =>
      Number.isInteger(replicas) && replicas >= 1
        ? undefined
        : 'is not a replica count; use a whole number of at least 1',
    );
    problems.value('kubeletDir', props.kubeletDir, (dir) =>
      ABSOLUTE_DIR.test(dir) && !dir.split('/').includes('..')
        ? undefined
        : 'is not an absolute directory; use e.g. "/var/lib/kubelet", without a trailing slash',
    );
    problems.throwIfAny('csi-driver-nfs');

    this.namespace = props.namespace ?? Chart.of(this).namespace ?? 'csi-nfs';
    this.images = csiNfsImages(props.images?.registry);
    const kubeletDir = props.kubeletDir ?? '/var/lib/kubelet';

    this.driver = new k8s.KubeCsiDriver(this, 'Resource', {
      metadata: { name: CSI_NFS_DRIVER, labels: labelsOf('driver') },
      spec: {
        attachRequired: false,
        volumeLifecycleModes: ['Persistent'],
        // the kubelet gives each volume to the pod's fsGroup, where the export lets root chown
        fsGroupPolicy: 'File',
      },
    });
    clusterScoped(this.driver);

    const controllerAccount = this.serviceAccount('ControllerAccount', 'controller', true);
    const nodeAccount = this.serviceAccount('NodeAccount', 'node', false);
    this.grant(controllerAccount);

    this.controller = this.createController(controllerAccount, kubeletDir, props);
    this.nodePlugin = this.createNode(nodeAccount, kubeletDir);
  }

  /**
   * Adds a StorageClass of this driver for an export. Its `reclaimPolicy` and `onDelete` follow
   * `onDelete`, its mount options are the export's, and the mode of each claim's directory
   * follows the export's squash mode so that Harbor (uid 10000) can write there:
   * - `no_root_squash`: no mode; the kubelet gives the directory to the pod's `fsGroup`.
   * - `root_squash`: `0777`, as nobody on the node can chown there. The driver creates the
   *   directory as the squashed user, so the share itself must be writable by it (anonuid,
   *   `nobody` by default). Pods must not ask for `fsGroup`: the kubelet's chown would fail.
   * - `all_squash`: `0770`, valid only when the export maps clients to uid and gid 10000.
   *
   * Expansion is allowed but logical: the new size is recorded, never enforced. Binding is
   * `Immediate`, since a directory on a share suits every node.
   */
  public addStorageClass(id: string, props: NfsStorageClassProps): k8s.KubeStorageClass {
    const problems = new Problems();
    problems.value('name', props.name, objectName);
    problems.check(
      !this.storageClassNames.has(props.name),
      'name',
      `${show(props.name)} is already a StorageClass of this driver; give each class its own name`,
    );
    problems.check(
      props.export instanceof NfsExport,
      'export',
      'is not an NfsExport; make one with new NfsExport({ server, share, squash })',
    );
    problems.value('subDir', props.subDir, subDirCheck);
    problems.value('onDelete', props.onDelete, (onDelete) =>
      Object.values(OnDelete).includes(onDelete)
        ? undefined
        : `is not a delete policy; use one of ${Object.values(OnDelete).join(', ')}`,
    );
    problems.value('mountPermissions', props.mountPermissions, (mode) => {
      if (!/^[0-7]{3,4}$/.test(mode)) {
        return 'is not an octal mode; use three or four octal digits such as "0775"';
      }
      // with root squashed, the directory belongs to nobody: only "others" can let uid 10000 in
      const squashed =
        props.export instanceof NfsExport && props.export.squash === Squash.ROOT_SQUASH;
      return squashed && (Number(mode.slice(-1)) & 0o3) !== 0o3
        ? 'leaves others without write and search, and under root_squash uid 10000 is' +
            ' "others" to a directory nobody owns; use "0777" or leave it to the squash mode'
        : undefined;
    });
    const mountPermissions =
      props.mountPermissions ??
      (props.export instanceof NfsExport ? derivedPermissions(props.export, problems) : undefined);
    problems.throwIfAny(`StorageClass ${props.name}`);
    this.storageClassNames.add(props.name);

    const onDelete = props.onDelete ?? OnDelete.RETAIN;
    // with Retain the driver is never asked to delete, so an onDelete parameter would mislead
    const retain = onDelete === OnDelete.RETAIN;

    const storageClass = new k8s.KubeStorageClass(this, id, {
      metadata: { name: props.name, labels: labelsOf('storage') },
      provisioner: CSI_NFS_DRIVER,
      parameters: {
        server: props.export.server,
        share: props.export.share,
        subDir: props.subDir ?? DEFAULT_SUB_DIR,
        ...(retain ? {} : { onDelete }),
        ...(mountPermissions === undefined ? {} : { mountPermissions }),
      },
      reclaimPolicy: retain ? 'Retain' : 'Delete',
      volumeBindingMode: 'Immediate',
      allowVolumeExpansion: true,
      mountOptions: [...props.export.mountOptions],
    });
    clusterScoped(storageClass);
    return storageClass;
  }

  private serviceAccount(id: string, component: string, token: boolean): kplus.ServiceAccount {
    return new kplus.ServiceAccount(this, id, {
      metadata: {
        name: `csi-nfs-${component}-sa`,
        namespace: this.namespace,
        labels: labelsOf(component),
      },
      automountToken: token,
    });
  }

  /**
   * The verbs the provisioner and the resizer call, read from their v6.3.0 and v2.2.0 sources
   * for a driver without topology, attach, snapshots or secrets. Upstream grants more.
   */
  private grant(account: kplus.ServiceAccount): void {
    const subjects = [{ kind: 'ServiceAccount', name: account.name, namespace: this.namespace }];
    const labels = labelsOf('controller');
    // L1 objects render each rule exactly as written here, which is what a reviewer checks
    const clusterRoles: Array<[string, string, k8s.PolicyRule[]]> = [
      ['Provisioner', 'csi-nfs-provisioner', PROVISIONER_RULES],
      ['Resizer', 'csi-nfs-resizer', RESIZER_RULES],
    ];
    for (const [id, name, rules] of clusterRoles) {
      const role = new k8s.KubeClusterRole(this, `${id}Role`, {
        metadata: { name, labels },
        rules,
      });
      const binding = new k8s.KubeClusterRoleBinding(this, `${id}Binding`, {
        metadata: { name, labels },
        roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name },
        subjects,
      });
      clusterScoped(role);
      clusterScoped(binding);
    }

    // leader election needs Leases in the driver's own namespace only
    const name = 'csi-nfs-leader-election';
    const metadata = { name, namespace: this.namespace, labels };
    new k8s.KubeRole(this, 'LeaderElectionRole', { metadata, rules: LEADER_ELECTION_RULES });
    new k8s.KubeRoleBinding(this, 'LeaderElectionBinding', {
      metadata,
      roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name },
      subjects,
    });
  }

  private createController(
    account: kplus.ServiceAccount,
    kubeletDir: string,
    props: CsiDriverNfsProps,
  ): kplus.Deployment {
    const socket = kplus.Volume.fromEmptyDir(this, 'ControllerSocket', 'socket-dir');
    const pods = podsDir(this, 'ControllerPods', kubeletDir);
    const leaderElection = ['--leader-election', `--leader-election-namespace=${this.namespace}`];
    // the provisioner would look up VolumeAttributesClasses, for which it has no RBAC
    const noAttributesClasses = '--feature-gates=VolumeAttributesClass=false';

    const deployment = new kplus.Deployment(this, 'Controller', {
      ...podBasics(this.namespace, 'csi-nfs-controller', 'controller', account),
      replicas: props.controllerReplicas ?? 1,
      // a second pod on the same host network would fail to bind the health port
      strategy: kplus.DeploymentStrategy.rollingUpdate({
        maxSurge: kplus.PercentOrAbsolute.absolute(0),
        maxUnavailable: kplus.PercentOrAbsolute.absolute(1),
      }),
      automountServiceAccountToken: true,
      containers: [
        sidecar('csi-provisioner', this.images.provisioner, socket, 400, [
          '--v=2',
          '--csi-address=/csi/csi.sock',
          ...leaderElection,
          // lets subDir name directories after the claim
          '--extra-create-metadata=true',
          noAttributesClasses,
          '--timeout=1200s',
          '--retry-interval-max=30m',
        ]),
        sidecar('csi-resizer', this.images.resizer, socket, 400, [
          '--v=2',
          '--csi-address=/csi/csi.sock',
          ...leaderElection,
          '--handle-volume-inuse-error=false',
          noAttributesClasses,
        ]),
        livenessSidecar(this.images.livenessProbe, socket, CONTROLLER_HEALTH_PORT),
        plugin(this.images.nfsplugin, socket, pods, kubeletDir, 200, CONTROLLER_HEALTH_PORT, [
          // a class without onDelete keeps its claims' data, as ours do by default
          '--default-ondelete-policy=retain',
        ]),
      ],
    });
    deployment.scheduling.separate(
      kplus.Pods.select(this, 'ControllerReplicas', { labels: selectorOf('controller') }),
    );
    for (const taint of CONTROL_PLANE_TAINTS) {
      deployment.scheduling.tolerate(
        kplus.Node.tainted(
          kplus.NodeTaintQuery.exists(taint, { effect: kplus.TaintEffect.NO_SCHEDULE }),
        ),
      );
    }
    finishPod(deployment, 'controller', 'system-cluster-critical');
    return deployment;
  }

  private createNode(account: kplus.ServiceAccount, kubeletDir: string): kplus.DaemonSet {
    const socket = kplus.Volume.fromHostPath(this, 'NodeSocket', 'socket-dir', {
      path: `${kubeletDir}/plugins/csi-nfsplugin`,
      type: kplus.HostPathVolumeType.DIRECTORY_OR_CREATE,
    });
    const registration = kplus.Volume.fromHostPath(this, 'Registration', 'registration-dir', {
      path: `${kubeletDir}/plugins_registry`,
      type: kplus.HostPathVolumeType.DIRECTORY,
    });
    const pods = podsDir(this, 'NodePods', kubeletDir);

    const registrar = sidecar(
      'node-driver-registrar',
      this.images.nodeDriverRegistrar,
      socket,
      100,
      [
        '--v=2',
        '--csi-address=/csi/csi.sock',
        `--kubelet-registration-path=${kubeletDir}/plugins/csi-nfsplugin/csi.sock`,
        `--http-endpoint=localhost:${REGISTRAR_HEALTH_PORT}`,
      ],
    );
    const daemonSet = new kplus.DaemonSet(this, 'Node', {
      ...podBasics(this.namespace, 'csi-nfs-node', 'node', account),
      // nothing on the node talks to the API server
      automountServiceAccountToken: false,
      containers: [
        livenessSidecar(this.images.livenessProbe, socket, NODE_HEALTH_PORT),
        {
          ...registrar,
          volumeMounts: [
            ...(registrar.volumeMounts ?? []),
            { volume: registration, path: '/registration' },
          ],
          envVariables: {
            KUBE_NODE_NAME: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.NODE_NAME),
          },
          liveness: kplus.Probe.fromHttpGet('/healthz', {
            host: 'localhost',
            port: REGISTRAR_HEALTH_PORT,
            initialDelaySeconds: Duration.seconds(20),
            periodSeconds: Duration.seconds(5),
            timeoutSeconds: Duration.seconds(10),
            failureThreshold: 2,
          }),
        },
        plugin(this.images.nfsplugin, socket, pods, kubeletDir, 300, NODE_HEALTH_PORT, []),
      ],
    });
    // volumes must mount on every node, whatever its taints
    daemonSet.scheduling.tolerate(kplus.Node.tainted(kplus.NodeTaintQuery.any()));
    finishPod(daemonSet, 'node', 'system-node-critical');
    return daemonSet;
  }
}

const DEFAULT_REGISTRY = 'registry.k8s.io';
const DEFAULT_SUB_DIR = '${pvc.metadata.namespace}/${pvc.metadata.name}';
const SUB_DIR_VARIABLES = [
  '${pvc.metadata.namespace}',
  '${pvc.metadata.name}',
  '${pv.metadata.name}',
];
const ABSOLUTE_DIR = /^(\/[A-Za-z0-9._-]+)+$/;
const RBAC_GROUP = 'rbac.authorization.k8s.io';

// the livenessprobe sidecars listen on the host network, so each port is one per node
const CONTROLLER_HEALTH_PORT = 29652;
const NODE_HEALTH_PORT = 29653;
const REGISTRAR_HEALTH_PORT = 19809;

const CONTROL_PLANE_TAINTS = [
  'node-role.kubernetes.io/control-plane',
  'node-role.kubernetes.io/controlplane',
  'CriticalAddonsOnly',
];

const PROVISIONER_RULES: k8s.PolicyRule[] = [
  {
    apiGroups: [''],
    resources: ['persistentvolumes'],
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
  },
  {
    apiGroups: [''],
    resources: ['persistentvolumeclaims'],
    verbs: ['get', 'list', 'watch', 'update'],
  },
  { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  // read only, and granted as upstream does: the provisioner reads nodes and CSINodes for
  // topology, which nfsplugin does not report, but a claim must never wait on a missing right
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['storage.k8s.io'], resources: ['csinodes'], verbs: ['get', 'list', 'watch'] },
];

const RESIZER_RULES: k8s.PolicyRule[] = [
  { apiGroups: [''], resources: ['persistentvolumes'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['persistentvolumeclaims/status'], verbs: ['patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

const LEADER_ELECTION_RULES: k8s.PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

function labelsOf(component: string): Record<string, string> {
  return {
    ...selectorOf(component),
    'app.kubernetes.io/version': CSI_NFS_VERSION,
    'app.kubernetes.io/managed-by': 'cdk8s-harbor',
  };
}

function selectorOf(component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'csi-driver-nfs',
    'app.kubernetes.io/component': component,
  };
}

function subDirCheck(subDir: string): string | undefined {
  const variables = subDir.match(/\$\{[^}]*\}/g) ?? [];
  const unknown = variables.filter((variable) => !SUB_DIR_VARIABLES.includes(variable));
  if (unknown.length > 0) {
    return `uses ${unknown.join(', ')}; the driver fills in only ${SUB_DIR_VARIABLES.join(', ')}`;
  }
  const literal = SUB_DIR_VARIABLES.reduce(
    (rest, variable) => rest.split(variable).join('x'),
    subDir,
  );
  const segments = literal.split('/');
  if (!segments.every((segment) => /^[A-Za-z0-9._-]+$/.test(segment) && segment !== '..')) {
    return (
      "is not a relative path; use segments of letters, digits, '.', '_', '-' and the" +
      ' variables, separated by single slashes, without a leading or trailing slash or ".."'
    );
  }
  if (!variables.some((variable) => variable !== '${pvc.metadata.namespace}')) {
    return 'names no claim, so claims would share a directory; add ${pvc.metadata.name}';
  }
  return undefined;
}

/** The directory mode Harbor (uid and gid 10000) needs on an export of that squash mode. */
function derivedPermissions(nfs: NfsExport, problems: Problems): string | undefined {
  switch (nfs.squash) {
    case Squash.NO_ROOT_SQUASH:
      return undefined;
    case Squash.ROOT_SQUASH:
      return '0777';
    case Squash.ALL_SQUASH:
      for (const [field, id] of [
        ['anonUid', nfs.anonUid],
        ['anonGid', nfs.anonGid],
      ] as const) {
        problems.check(
          id === HARBOR_UID,
          `export.${field}`,
          `${show(id)} would own every file under all_squash, but Harbor runs as ` +
            `${HARBOR_UID}:${HARBOR_UID}; export with ${field.toLowerCase()}=${HARBOR_UID},` +
            ' or set mountPermissions yourself',
        );
      }
      return '0770';
  }
}

/** The metadata, selector and pod settings both workloads share. */
function podBasics(
  namespace: string,
  name: string,
  component: string,
  account: kplus.ServiceAccount,
): kplus.DeploymentProps & kplus.DaemonSetProps {
  return {
    metadata: { name, namespace, labels: labelsOf(component) },
    select: false,
    podMetadata: { labels: labelsOf(component) },
    serviceAccount: account,
    // the plugin mounts NFS from the host's network namespace, so that mounts outlive it
    hostNetwork: true,
    dns: { policy: kplus.DnsPolicy.CLUSTER_FIRST_WITH_HOST_NET },
    // the CSI socket belongs to root, so every container runs as root
    securityContext: { ensureNonRoot: false },
  };
}

function podsDir(scope: Construct, id: string, kubeletDir: string): kplus.Volume {
  return kplus.Volume.fromHostPath(scope, id, 'pods-mount-dir', {
    path: `${kubeletDir}/pods`,
    type: kplus.HostPathVolumeType.DIRECTORY,
  });
}

/** Upstream's requests, and its memory limit in MiB; no CPU limit, as upstream sets none. */
function resources(memoryLimit: number): kplus.ContainerResources {
  return {
    cpu: { request: kplus.Cpu.millis(10) },
    memory: { request: Size.mebibytes(20), limit: Size.mebibytes(memoryLimit) },
  };
}

/** A CSI sidecar: root (for the socket), unprivileged, read-only root filesystem. */
function sidecar(
  name: string,
  image: string,
  socket: kplus.Volume,
  memoryLimit: number,
  args: string[],
): kplus.ContainerProps {
  return {
    name,
    image,
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    args,
    resources: resources(memoryLimit),
    volumeMounts: [{ volume: socket, path: '/csi' }],
    securityContext: {
      ensureNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    },
  };
}

function livenessSidecar(image: string, socket: kplus.Volume, port: number): kplus.ContainerProps {
  return sidecar('liveness-probe', image, socket, 100, [
    '--csi-address=/csi/csi.sock',
    '--probe-timeout=3s',
    `--http-endpoint=localhost:${port}`,
    '--v=2',
  ]);
}

/** The nfsplugin container; its health is what the liveness-probe sidecar reports on `port`. */
function plugin(
  image: string,
  socket: kplus.Volume,
  pods: kplus.Volume,
  kubeletDir: string,
  memoryLimit: number,
  port: number,
  args: string[],
): kplus.ContainerProps {
  return {
    name: 'nfs',
    image,
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    args: ['--v=5', '--nodeid=$(NODE_ID)', '--endpoint=unix:///csi/csi.sock', ...args],
    envVariables: { NODE_ID: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.NODE_NAME) },
    resources: resources(memoryLimit),
    liveness: kplus.Probe.fromHttpGet('/healthz', {
      host: 'localhost',
      port,
      initialDelaySeconds: Duration.seconds(30),
      periodSeconds: Duration.seconds(30),
      timeoutSeconds: Duration.seconds(10),
      failureThreshold: 5,
    }),
    volumeMounts: [
      {
        volume: pods,
        path: `${kubeletDir}/pods`,
        // mounts made in the plugin must reach the kubelet and the pods
        propagation: kplus.MountPropagation.BIDIRECTIONAL,
      },
      { volume: socket, path: '/csi' },
    ],
    // cdk8s-plus defaults to non-root, unprivileged and read-only; mount(2) and Bidirectional
    // propagation need a privileged root container, so each default is overridden here
    securityContext: {
      ensureNonRoot: false,
      privileged: true,
      allowPrivilegeEscalation: true,
      readOnlyRootFilesystem: false,
    },
  };
}

/**
 * Completes the pod beyond what cdk8s-plus-27 expresses: stable-label selection, the priority
 * class, Linux nodes, and the capabilities and seccomp profile of each container. The
 * sidecars drop every capability under the runtime's seccomp profile; the privileged plugin,
 * always last, keeps upstream's SYS_ADMIN and no seccomp profile.
 */
function finishPod(
  workload: kplus.Deployment | kplus.DaemonSet,
  component: string,
  priorityClassName: string,
): void {
  workload.select(kplus.LabelSelector.of({ labels: selectorOf(component) }));
  workload.scheduling.attract(
    kplus.Node.labeled(kplus.NodeLabelQuery.is('kubernetes.io/os', 'linux')),
  );

  const apiObject = ApiObject.of(workload);
  const pod = '/spec/template/spec';
  dropAddressLabel(workload);
  apiObject.addJsonPatch(JsonPatch.add(`${pod}/priorityClassName`, priorityClassName));

  const last = workload.containers.length - 1;
  for (let i = 0; i < last; i++) {
    const context = `${pod}/containers/${i}/securityContext`;
    apiObject.addJsonPatch(JsonPatch.add(`${context}/capabilities`, { drop: ['ALL'] }));
    apiObject.addJsonPatch(JsonPatch.add(`${context}/seccompProfile`, { type: 'RuntimeDefault' }));
  }
  apiObject.addJsonPatch(
    JsonPatch.add(`${pod}/containers/${last}/securityContext/capabilities`, {
      add: ['SYS_ADMIN'],
      drop: ['ALL'],
    }),
  );
}
