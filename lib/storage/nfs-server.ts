import { isIPv4 } from 'net';
import { Construct } from 'constructs';
import { NfsExport, NfsVersion, Squash } from './nfs-export';
import { StorageImagesProps, mirrorImage, pinnedImage } from './images';
import * as k8s from '../../imports/k8s';
import { Check, imageRegistry, label, objectName, size } from '../private/checks';
import { Problems, show } from '../private/validation';

/** The block storage an in-cluster NFS server keeps its data on. */
export interface NfsServerStorageProps {
  /** A StorageClass of block volumes (ReadWriteOnce), not NFS. */
  readonly storageClassName: string;

  /** Size of the claim, e.g. `100Gi`. */
  readonly size: string;
}

export interface InClusterNfsServerProps {
  /**
   * The Service's fixed cluster IP, a free address in the cluster's Service range
   * (e.g. `10.96.0.0/12` on kubeadm). In-tree NFS volumes are mounted by the kubelet in the
   * host's network namespace, where cluster DNS names do not resolve, so the volumes name the
   * server by this address, and it must never change.
   */
  readonly clusterIP: string;

  /** Where the exported data lives. */
  readonly storage: NfsServerStorageProps;

  /**
   * Name of the Deployment, Service and claim (`<name>-data`).
   * @default 'nfs-server'
   */
  readonly name?: string;

  /**
   * The NFS server image, pinned, used as given. It must take the directories to export as
   * arguments and export them as Kubernetes' e2e image does.
   * @default NFS_SERVER_IMAGE, through `images.registry` when that is set
   */
  readonly image?: string;

  /** @default - images from their upstream registries */
  readonly images?: StorageImagesProps;
}

/** Options of an export of the in-cluster server. */
export interface InClusterExportOptions {
  /** NFS v4 only: v3 needs rpcbind, mountd and statd ports the Service does not expose. */
  readonly version?: NfsVersion;

  /** Further mount options, as `NfsExportProps.mountOptions`. @default [] */
  readonly mountOptions?: string[];
}

/**
 * Kubernetes' own NFS server for its e2e tests (kubernetes/kubernetes test/images/volume/nfs,
 * pinned in test/utils/image/manifest.go): kernel nfsd on Fedora, exporting each directory it
 * is given with `rw,fsid=0,insecure,no_root_squash`.
 */
export const NFS_SERVER_IMAGE = 'registry.k8s.io/e2e-test-images/volume/nfs:1.4';

const NFS_PORT = 2049;
const DATA_DIR = '/exports';

/**
 * An NFS server inside the cluster, for test and demo clusters only; never the production
 * default. An external NFS server or NAS is what production uses.
 *
 * - It is a single point of failure: one pod on one block volume. Every NFS volume hangs
 *   (hard mounts) while the pod restarts, moves or is rescheduled, and its data is lost with
 *   that volume.
 * - It runs the kernel's nfsd, so the pod is privileged (its namespace must be admitted at
 *   Pod Security `privileged`) and the node it runs on needs the `nfsd` kernel module.
 * - Clients reach it only by its fixed cluster IP, and only with NFS v4 over TCP port 2049.
 *   It exports its whole volume as the NFS v4 root `/`, with `no_root_squash`. The root is
 *   root's and the image puts an `index.html` there at every start; the provisioners make
 *   per-claim directories that non-root pods can write, a static volume's directory must be
 *   made by hand.
 */
export class InClusterNfsServer extends Construct {
  public readonly deployment: k8s.KubeDeployment;
  public readonly service: k8s.KubeService;
  public readonly claim: k8s.KubePersistentVolumeClaim;
  /** The server's export with NFS v4.1 and no further options, for the other constructs. */
  public readonly export: NfsExport;
  public readonly clusterIP: string;

  public constructor(scope: Construct, id: string, props: InClusterNfsServerProps) {
    super(scope, id);

    const problems = new Problems();
    problems.value('clusterIP', props.clusterIP, clusterIP);
    problems.value('storage.storageClassName', props.storage.storageClassName, objectName);
    problems.value('storage.size', props.storage.size, size);
    problems.value('name', props.name, label);
    problems.value('image', props.image, pinnedImage);
    problems.value('images.registry', props.images?.registry, imageRegistry);
    problems.throwIfAny('in-cluster NFS server');

    const name = props.name ?? 'nfs-server';
    const labels = {
      'app.kubernetes.io/name': 'nfs-server',
      'app.kubernetes.io/instance': name,
      'app.kubernetes.io/managed-by': 'cdk8s-harbor',
    };
    this.clusterIP = props.clusterIP;

    this.claim = new k8s.KubePersistentVolumeClaim(this, 'Data', {
      metadata: {
        name: `${name}-data`,
        labels,
        // the claim holds every NFS volume's data; Argo CD must never prune or delete it
        annotations: { 'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false' },
      },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: props.storage.storageClassName,
        volumeMode: 'Filesystem',
        resources: { requests: { storage: k8s.Quantity.fromString(props.storage.size) } },
      },
    });

    this.deployment = new k8s.KubeDeployment(this, 'Resource', {
      metadata: { name, labels },
      spec: {
        replicas: 1,
        // one nfsd per volume: the old pod must be gone before the new one mounts it
        strategy: { type: 'Recreate' },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            containers: [
              {
                name: 'nfs-server',
                image: props.image ?? mirrorImage(NFS_SERVER_IMAGE, props.images?.registry),
                imagePullPolicy: 'IfNotPresent',
                // only the data volume; the image would also export its own root filesystem
                args: [DATA_DIR],
                ports: [{ name: 'nfs', containerPort: NFS_PORT, protocol: 'TCP' }],
                // kernel nfsd: mounting /proc/fs/nfsd and starting the server need privilege
                securityContext: { privileged: true },
                readinessProbe: {
                  tcpSocket: { port: k8s.IntOrString.fromNumber(NFS_PORT) },
                  periodSeconds: 10,
                  timeoutSeconds: 5,
                },
                resources: {
                  requests: {
                    cpu: k8s.Quantity.fromString('50m'),
                    memory: k8s.Quantity.fromString('64Mi'),
                  },
                },
                volumeMounts: [{ name: 'data', mountPath: DATA_DIR }],
              },
            ],
            volumes: [{ name: 'data', persistentVolumeClaim: { claimName: this.claim.name } }],
          },
        },
      },
    });

    this.service = new k8s.KubeService(this, 'Service', {
      metadata: { name, labels },
      spec: {
        type: 'ClusterIP',
        clusterIp: props.clusterIP,
        selector: labels,
        ports: [
          {
            name: 'nfs',
            port: NFS_PORT,
            targetPort: k8s.IntOrString.fromNumber(NFS_PORT),
            protocol: 'TCP',
          },
        ],
      },
    });

    this.export = this.exportWith();
  }

  /** The server's export, with another NFS v4 version or further mount options. */
  public exportWith(options: InClusterExportOptions = {}): NfsExport {
    const problems = new Problems();
    problems.check(
      options.version !== NfsVersion.V3,
      'version',
      `${show(options.version)} needs rpcbind, mountd and statd, which this server's Service` +
        ' does not expose; use 4.1 or 4.2',
    );
    problems.throwIfAny('in-cluster NFS export');

    return new NfsExport({
      server: this.clusterIP,
      // fsid=0 makes the exported directory the NFS v4 root
      share: '/',
      squash: Squash.NO_ROOT_SQUASH,
      version: options.version ?? NfsVersion.V4_1,
      mountOptions: options.mountOptions,
    });
  }
}

const clusterIP: Check<string> = (value) => {
  if (value === 'None') {
    return 'makes a headless Service, whose name no node can mount; give a fixed address';
  }
  if (!isIPv4(value)) {
    return 'is not an IPv4 address; give a free address of the Service range, e.g. "10.96.0.49"';
  }
  const [first, second] = value.split('.').map(Number);
  if (first === 0 || first === 127 || first >= 224 || (first === 169 && second === 254)) {
    return 'cannot be a Service address; give a free address of the Service range';
  }
  return undefined;
};
