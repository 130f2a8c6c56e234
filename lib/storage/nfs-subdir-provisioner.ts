import { createHash } from 'crypto';
import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { OnDelete } from './csi-driver-nfs';
import { NfsExport } from './nfs-export';
import { IMAGE, StorageImagesProps, mirrorImage, pinnedImage } from './images';
import { StaticNfsVolume } from './static-nfs-volume';
import * as k8s from '../../imports/k8s';
import { Check, imageRegistry, label, objectName } from '../private/checks';
import { Problems, show } from '../private/validation';
import { clusterScoped } from '../private/workload';

export interface NfsSubdirProvisionerProps {
  /** The export the provisioner makes one directory per claim in. */
  readonly export: NfsExport;

  /**
   * Name of the StorageClass it serves.
   * @see https://kubernetes.io/docs/concepts/storage/storage-classes/
   */
  readonly storageClassName: string;

  /**
   * Name of its ServiceAccount, Deployment and roles. The ClusterRole and its binding carry it
   * too, so it must be unique in the cluster.
   * @default 'nfs-subdir-provisioner'
   */
  readonly name?: string;

  /**
   * The name the provisioner answers to, the StorageClass's `provisioner`. Two provisioners of
   * one name race for the same claims.
   * @default 'k8s-sigs.io/nfs-subdir-external-provisioner'
   */
  readonly provisionerName?: string;

  /**
   * The provisioner image, pinned by tag or digest, used as given.
   * @default NFS_SUBDIR_PROVISIONER_IMAGE, through `images.registry` when that is set
   */
  readonly image?: string;

  /** @default - images from their upstream registries */
  readonly images?: StorageImagesProps;

  /**
   * What happens to a claim's directory when the claim is deleted. `RETAIN` keeps the
   * PersistentVolume (Released) and the directory; `ARCHIVE` renames the directory to
   * `archived-<name>` on the share, which nothing ever cleans; `DELETE` removes it. Under
   * `root_squash` the provisioner cannot remove files that pods wrote as other users.
   * @default OnDelete.RETAIN
   */
  readonly onDelete?: OnDelete;

  /**
   * Directory of each claim, from the claim's metadata: `${.PVC.namespace}`, `${.PVC.name}`,
   * `${.PVC.labels.<key>}`, `${.PVC.annotations.<key>}`. A recreated claim of the same name
   * finds the old directory and its data. Not with `OnDelete.ARCHIVE`; more than one path
   * segment only with `OnDelete.RETAIN`, because v4.0.2 looks the directory up by its last
   * segment when it deletes.
   * @default - `<namespace>-<claim>-<volume>`, unique per claim
   */
  readonly pathPattern?: string;

  /**
   * Run the node preflight: a DaemonSet labelled `preflight: nfs-client` whose pods are Ready
   * only on nodes that have the `mount.nfs` helper. Its hostPath volumes need a namespace that
   * Pod Security admits at the `privileged` level.
   * @default true
   */
  readonly preflight?: boolean;
}

/** The last release of nfs-subdir-external-provisioner (built 2021-03); none followed. */
export const NFS_SUBDIR_PROVISIONER_IMAGE =
  'registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2';

/**
 * A shell for the node preflight: Kubernetes' own busybox build, as its e2e tests pin it
 * (kubernetes/kubernetes test/utils/image/manifest.go).
 */
export const PREFLIGHT_IMAGE = 'registry.k8s.io/e2e-test-images/busybox:1.36.1-1';

export const DEFAULT_PROVISIONER_NAME = 'k8s-sigs.io/nfs-subdir-external-provisioner';

/** Label of the node preflight DaemonSet and its pods: `preflight: nfs-client`. */
export const PREFLIGHT_LABEL = { preflight: 'nfs-client' } as const;

/** Where the provisioner mounts the export. */
const MOUNT_PATH = '/persistentvolumes';
const SCRIPT_FILE = 'nfs-client-preflight.sh';

/**
 * The legacy NFS provisioner, kubernetes-sigs/nfs-subdir-external-provisioner: one controller
 * pod mounts an existing export and makes a directory, and an in-tree `nfs` PersistentVolume,
 * for every claim of its StorageClass. Prefer csi-driver-nfs; keep this one where a privileged
 * node plugin is not allowed. Its limits:
 *
 * - unmaintained since 2021: v4.0.2 is the last image, with known CVEs, and no maintainer
 *   answers issues;
 * - its volumes are in-tree `nfs` volumes, mounted by the kubelet on the host, so every node
 *   needs `nfs-common` or `nfs-utils` (field failure #36); the preflight DaemonSet shows which
 *   nodes lack it, and the server must be an address the nodes resolve without cluster DNS;
 * - no `fsGroup` handling: the kubelet never hands these volumes to a pod's group, so the
 *   export's squash options decide who owns the files;
 * - no resize, so the StorageClass says `allowVolumeExpansion: false`; sizes are not enforced;
 * - leader election through an Endpoints lock, which Kubernetes 1.33 and later warn about.
 *
 * The controller mounts the share through a PersistentVolume of its own, since an inline `nfs`
 * volume takes no mount options. It runs as root, which Pod Security `baseline` admits; the
 * preflight's hostPath volumes need `privileged`.
 */
export class NfsSubdirProvisioner extends Construct {
  public readonly storageClass: k8s.KubeStorageClass;
  public readonly deployment: k8s.KubeDeployment;
  /** The node preflight, unless `preflight` is false. */
  public readonly preflight?: k8s.KubeDaemonSet;
  public readonly provisionerName: string;

  public constructor(scope: Construct, id: string, props: NfsSubdirProvisionerProps) {
    super(scope, id);

    const problems = new Problems();
    problems.value('name', props.name, label);
    problems.value('storageClassName', props.storageClassName, objectName);
    problems.value('provisionerName', props.provisionerName, provisionerName);
    problems.value('image', props.image, provisionerImage);
    problems.value('images.registry', props.images?.registry, imageRegistry);
    problems.value('onDelete', props.onDelete, (value) =>
      Object.values(OnDelete).includes(value)
        ? undefined
        : `is not an onDelete policy; use one of ${Object.values(OnDelete).join(', ')}`,
    );
    problems.value('pathPattern', props.pathPattern, pathPattern);
    checkPathPattern(problems, props.onDelete ?? OnDelete.RETAIN, props.pathPattern);
    const namespace = Chart.of(this).namespace;
    problems.check(
      namespace !== undefined,
      'namespace',
      "(not set); the provisioner runs in its chart's namespace, so give the chart one",
    );
    problems.throwIfAny('NFS subdir provisioner');

    const name = props.name ?? 'nfs-subdir-provisioner';
    const exp = props.export;
    this.provisionerName = props.provisionerName ?? DEFAULT_PROVISIONER_NAME;
    const image = props.image ?? mirrorImage(NFS_SUBDIR_PROVISIONER_IMAGE, props.images?.registry);
    const onDelete = props.onDelete ?? OnDelete.RETAIN;
    const labels = {
      ...selectorOf(name, 'provisioner'),
      'app.kubernetes.io/version': versionOf(image),
      'app.kubernetes.io/managed-by': 'cdk8s-harbor',
    };

    const account = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name, labels },
    });
    const subjects = [{ kind: 'ServiceAccount', name: account.name, namespace }];
    const runner = new k8s.KubeClusterRole(this, 'ClusterRole', {
      metadata: { name, labels },
      rules: [
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        {
          apiGroups: [''],
          resources: ['persistentvolumes'],
          verbs: ['get', 'list', 'watch', 'create', 'delete'],
        },
        {
          apiGroups: [''],
          resources: ['persistentvolumeclaims'],
          verbs: ['get', 'list', 'watch', 'update'],
        },
        {
          apiGroups: ['storage.k8s.io'],
          resources: ['storageclasses'],
          verbs: ['get', 'list', 'watch'],
        },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'update', 'patch'] },
      ],
    });
    const runnerBinding = new k8s.KubeClusterRoleBinding(this, 'ClusterRoleBinding', {
      metadata: { name, labels },
      subjects,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: runner.name },
    });
    // the vendored controller library elects its leader through an Endpoints object
    const leader = new k8s.KubeRole(this, 'LeaderElectionRole', {
      metadata: { name: `${name}-leader-election`, labels },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'],
        },
      ],
    });
    new k8s.KubeRoleBinding(this, 'LeaderElectionRoleBinding', {
      metadata: { name: `${name}-leader-election`, labels },
      subjects,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: leader.name },
    });

    // an inline nfs volume cannot carry mount options; a volume of its own mounts the share
    // with the export's version and `hard`, as every claim's volume does
    const rootVolume = new StaticNfsVolume(this, 'RootVolume', {
      export: exp,
      size: '1Mi',
      storageClassName: `${name}-root`,
      claimNamespace: namespace,
      claimName: `${name}-root`,
    });
    const root = new k8s.KubePersistentVolumeClaim(this, 'RootClaim', {
      metadata: { name: `${name}-root`, labels },
      spec: {
        accessModes: ['ReadWriteMany'],
        storageClassName: rootVolume.storageClassName,
        volumeName: rootVolume.volume.name,
        volumeMode: 'Filesystem',
        resources: { requests: { storage: quantity(rootVolume.size) } },
      },
    });

    this.deployment = new k8s.KubeDeployment(this, 'Resource', {
      metadata: { name, labels },
      spec: {
        replicas: 1,
        // two controllers on one share must never overlap, not even during a rollout
        strategy: { type: 'Recreate' },
        selector: { matchLabels: selectorOf(name, 'provisioner') },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: account.name,
            securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'nfs-subdir-external-provisioner',
                image,
                imagePullPolicy: 'IfNotPresent',
                env: [
                  { name: 'PROVISIONER_NAME', value: this.provisionerName },
                  { name: 'NFS_SERVER', value: exp.server },
                  { name: 'NFS_PATH', value: exp.share },
                ],
                volumeMounts: [{ name: 'nfs-client-root', mountPath: MOUNT_PATH }],
                resources: {
                  requests: { cpu: quantity('10m'), memory: quantity('32Mi') },
                  limits: { memory: quantity('128Mi') },
                },
                // it stays root: with no_root_squash only root removes what pods wrote as
                // their own users
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
              },
            ],
            volumes: [{ name: 'nfs-client-root', persistentVolumeClaim: { claimName: root.name } }],
          },
        },
      },
    });

    this.storageClass = new k8s.KubeStorageClass(this, 'StorageClass', {
      metadata: { name: props.storageClassName, labels },
      provisioner: this.provisionerName,
      parameters: {
        ...deleteParameters(onDelete),
        ...(props.pathPattern !== undefined ? { pathPattern: props.pathPattern } : {}),
      },
      reclaimPolicy: onDelete === OnDelete.RETAIN ? 'Retain' : 'Delete',
      volumeBindingMode: 'Immediate',
      // the provisioner cannot expand a volume: a resized claim would wait forever
      allowVolumeExpansion: false,
      mountOptions: [...exp.mountOptions],
    });

    if (props.preflight ?? true) {
      this.preflight = nfsClientPreflight(this, name, props.images?.registry);
    }

    for (const object of [runner, runnerBinding, this.storageClass]) clusterScoped(object);
    this.node.addValidation({ validate: () => this.sameProvisionerName() });
  }

  /** Other provisioners of this chart that answer to the same name. */
  private sameProvisionerName(): string[] {
    const twins = Chart.of(this)
      .node.findAll()
      .filter(
        (c) =>
          c !== this &&
          c instanceof NfsSubdirProvisioner &&
          c.provisionerName === this.provisionerName,
      );
    return twins.map(
      (twin) =>
        `provisionerName: ${show(this.provisionerName)} is also the name of ${twin.node.path};` +
        ' give each provisioner its own name, or both race for every claim',
    );
  }
}

/**
 * StorageClass parameters of v4.0.2 for a policy. `onDelete` has no archive value: without it,
 * `archiveOnDelete` decides, and it archives unless it says false.
 */
function deleteParameters(onDelete: OnDelete): Record<string, string> {
  switch (onDelete) {
    case OnDelete.ARCHIVE:
      return { archiveOnDelete: 'true' };
    case OnDelete.DELETE:
      return { onDelete: 'delete' };
    default:
      // the volume is retained and never reaches the provisioner; but should someone patch its
      // reclaim policy to Delete, no parameter at all would mean archive here
      return { onDelete: 'retain' };
  }
}

function checkPathPattern(problems: Problems, onDelete: OnDelete, pattern?: string): void {
  if (pattern === undefined) return;
  if (onDelete === OnDelete.ARCHIVE) {
    problems.add(
      'pathPattern',
      `${show(pattern)}: archive not supported with pathPattern; v4.0.2 looks the directory` +
        ' up by its last path segment, so it skips nested ones, and a reused directory cannot' +
        ' be renamed onto its earlier archived copy; drop pathPattern or choose onDelete' +
        ' RETAIN or DELETE',
    );
  } else if (onDelete === OnDelete.DELETE && pattern.includes('/')) {
    problems.add(
      'pathPattern',
      `${show(pattern)} has several path segments, and v4.0.2 deletes by the last segment` +
        ' alone, under the share root: it skips the directory or removes another one; use one' +
        ' segment such as "${.PVC.namespace}-${.PVC.name}", or onDelete RETAIN',
    );
  }
}

const PATTERN_FIELD = /\$\{\.PVC\.(name|namespace|(labels|annotations)\.[A-Za-z0-9./_-]+)\}/g;

const pathPattern: Check<string> = (pattern) => {
  const literal = pattern.replace(PATTERN_FIELD, 'x');
  if (!pattern.includes('${.PVC.name}')) {
    return (
      'does not name the claim (${.PVC.name}), so claims would share a directory and delete' +
      ' each other\'s data; use e.g. "${.PVC.namespace}-${.PVC.name}"'
    );
  }
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(literal) || literal.split('/').includes('..')) {
    return (
      'is not a relative path of ${.PVC.name}, ${.PVC.namespace}, ${.PVC.labels.<key>},' +
      " ${.PVC.annotations.<key>} and letters, digits, '.', '_', '-', '/'"
    );
  }
  return undefined;
};

/** A Kubernetes qualified name: an optional DNS subdomain and '/', then a name. */
const QUALIFIED_NAME = new RegExp(
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?' +
    '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$',
);

const provisionerName: Check<string> = (value) => {
  if (value === 'nfs.csi.k8s.io') {
    return "is csi-driver-nfs's name; both would serve the same claims; keep the default";
  }
  if (value.startsWith('kubernetes.io/')) {
    return 'is in the prefix Kubernetes keeps for its in-tree plugins; use your own domain';
  }
  return QUALIFIED_NAME.test(value) && value.length <= 316
    ? undefined
    : 'is not a provisioner name; use a domain prefix and a name, like example.com/nfs';
};

/**
 * A pinned image that is not the abandoned `nfs-client-provisioner`, which needs
 * `metadata.selfLink` (field failure #37).
 */
const provisionerImage: Check<string> = (value) => {
  if (IMAGE.exec(value)?.groups?.name.endsWith('external_storage/nfs-client-provisioner')) {
    return (
      'is the abandoned nfs-client-provisioner, which needs metadata.selfLink, gone since' +
      ' Kubernetes 1.20: every claim stays Pending with "selfLink was empty, can\'t make' +
      ` reference"; use ${NFS_SUBDIR_PROVISIONER_IMAGE}`
    );
  }
  return pinnedImage(value);
};

/** The image's tag as a label value, for `app.kubernetes.io/version`. */
function versionOf(image: string): string {
  const groups = IMAGE.exec(image)?.groups;
  const version = (groups?.tag ?? groups?.digest?.slice(7, 19) ?? '').slice(0, 63);
  return /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(version) ? version : 'unknown';
}

function selectorOf(name: string, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'nfs-subdir-external-provisioner',
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/component': component,
  };
}

function quantity(value: string): k8s.Quantity {
  return k8s.Quantity.fromString(value);
}

/**
 * Reports whether the node has the `mount.nfs` helper that the kubelet needs to mount in-tree
 * NFS volumes. Without an argument it checks every CHECK_INTERVAL seconds and logs each
 * change; `--once` logs one result; `--probe` only answers through its exit status.
 */
export const NFS_CLIENT_PREFLIGHT_SCRIPT = `#!/bin/sh
# nfs-client preflight (cdk8s-harbor): the kubelet mounts in-tree NFS volumes on the host,
# which needs the mount.nfs helper of nfs-common or nfs-utils there.
set -u

host_root=\${HOST_ROOT:-/host}
interval=\${CHECK_INTERVAL:-60}
node=\${NODE_NAME:-this node}

# Prints where the host keeps the helper; fails when neither directory has it. A symbolic
# link counts: its target is a host path this container may not see.
find_helper() {
  for dir in /sbin /usr/sbin; do
    if [ -x "$host_root$dir/mount.nfs" ] || [ -L "$host_root$dir/mount.nfs" ]; then
      echo "$dir/mount.nfs"
      return 0
    fi
  done
  return 1
}

report() {
  if helper=$(find_helper); then
    echo "nfs-client preflight: ready: node $node has $helper; the kubelet can mount NFS volumes"
    return 0
  fi
  echo "nfs-client preflight: NOT READY: node $node has no mount.nfs in /sbin or /usr/sbin," \\
    "so pods with NFS volumes stay in ContainerCreating (\\"bad option ... helper program\\");" \\
    "install nfs-common (Debian, Ubuntu) or nfs-utils (RHEL, Fedora, SUSE) on the node"
  return 1
}

case "\${1:-}" in
  --probe) find_helper >/dev/null; exit ;;
  --once) report; exit ;;
  "") ;;
  *) echo "usage: $0 [--once | --probe]" >&2; exit 2 ;;
esac

trap 'exit 0' TERM INT
last=
while :; do
  if find_helper >/dev/null; then state=ready; else state=missing; fi
  if [ "$state" != "$last" ]; then
    report || true
    last=$state
  fi
  # in the background, so that TERM ends the wait at once
  sleep "$interval" &
  wait $!
done
`;

/**
 * One pod on every node, Ready only where the host has `mount.nfs` (field failure #36). It
 * reads the host's /sbin and /usr/sbin, read-only, as nobody, with no capabilities.
 */
function nfsClientPreflight(scope: Construct, name: string, registry?: string): k8s.KubeDaemonSet {
  const preflight = `${name}-nfs-client-preflight`;
  const labels = {
    ...selectorOf(name, 'nfs-client-preflight'),
    ...PREFLIGHT_LABEL,
    'app.kubernetes.io/managed-by': 'cdk8s-harbor',
  };
  const script = new k8s.KubeConfigMap(scope, 'PreflightScript', {
    metadata: { name: preflight, labels },
    data: { [SCRIPT_FILE]: NFS_CLIENT_PREFLIGHT_SCRIPT },
  });
  const command = ['sh', `/preflight/${SCRIPT_FILE}`];
  const digest = createHash('sha256').update(NFS_CLIENT_PREFLIGHT_SCRIPT).digest('hex');
  const hostDirs = [
    { volume: 'host-sbin', path: '/sbin' },
    { volume: 'host-usr-sbin', path: '/usr/sbin' },
  ];

  return new k8s.KubeDaemonSet(scope, 'Preflight', {
    metadata: { name: preflight, labels },
    spec: {
      selector: {
        matchLabels: { ...selectorOf(name, 'nfs-client-preflight'), ...PREFLIGHT_LABEL },
      },
      template: {
        metadata: {
          labels,
          // a changed script rolls the pods
          annotations: { 'cdk8s-harbor/script-digest': digest.slice(0, 16) },
        },
        spec: {
          automountServiceAccountToken: false,
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          // every node that could run a pod with an NFS volume, tainted or not
          tolerations: [{ operator: 'Exists' }],
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65534,
            runAsGroup: 65534,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'nfs-client-preflight',
              image: mirrorImage(PREFLIGHT_IMAGE, registry),
              imagePullPolicy: 'IfNotPresent',
              command,
              env: [
                { name: 'HOST_ROOT', value: '/host' },
                { name: 'CHECK_INTERVAL', value: '60' },
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
              ],
              readinessProbe: {
                exec: { command: [...command, '--probe'] },
                periodSeconds: 30,
                timeoutSeconds: 5,
                failureThreshold: 1,
              },
              resources: {
                requests: { cpu: quantity('1m'), memory: quantity('4Mi') },
                limits: { memory: quantity('16Mi') },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'script', mountPath: '/preflight', readOnly: true },
                ...hostDirs.map((dir) => ({
                  name: dir.volume,
                  mountPath: `/host${dir.path}`,
                  readOnly: true,
                })),
              ],
            },
          ],
          volumes: [
            { name: 'script', configMap: { name: script.name } },
            ...hostDirs.map((dir) => ({
              name: dir.volume,
              hostPath: { path: dir.path, type: 'Directory' },
            })),
          ],
        },
      },
    },
  });
}
