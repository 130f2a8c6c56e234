import { Chart, JsonPatch } from 'cdk8s';
import { Construct } from 'constructs';
import { NfsExport } from './nfs-export';
import * as k8s from '../../imports/k8s';
import { namespace, objectName, size } from '../private/checks';
import { Problems } from '../private/validation';

export interface StaticNfsVolumeProps {
  /** The export that holds the data. */
  readonly export: NfsExport;

  /**
   * A directory under the export's share, relative. It must exist on the server: a static
   * volume is mounted as it is, nothing creates it.
   * @default - the share itself
   */
  readonly subPath?: string;

  /**
   * Size the volume advertises, e.g. `500Gi`. NFS enforces no size; claims asking for more do
   * not bind.
   */
  readonly size: string;

  /**
   * A class name that no provisioner serves, which the claim repeats. It keeps a provisioner
   * or a default StorageClass from answering the claim with a volume of its own.
   * @see https://kubernetes.io/docs/concepts/storage/persistent-volumes/#class
   */
  readonly storageClassName: string;

  /** Namespace of the only claim that may bind the volume. @default - the chart's namespace */
  readonly claimNamespace?: string;

  /** Name of the only claim that may bind the volume, such as `harbor-registry`. */
  readonly claimName: string;

  /**
   * Name of the PersistentVolume; volumes are cluster-wide, so it must be unique there.
   * @default - `<claimNamespace>-<claimName>`
   */
  readonly name?: string;
}

/**
 * A PersistentVolume for an export that already exists, with no provisioner: for a share that
 * a storage team hands over. It is pre-bound to one claim by namespace and name, so no other
 * claim can take it, and it is retained when that claim goes. The claim is made by its user
 * (Harbor's registry makes `harbor-registry`), with this `storageClassName`, `ReadWriteMany`
 * or `ReadWriteOnce`, and at most `size`.
 *
 * It is an in-tree `nfs` volume, mounted by the kubelet on the host: every node needs
 * `nfs-common` or `nfs-utils` (field failure #36), the server must be an address the nodes
 * resolve without cluster DNS, and `fsGroup` is never applied, so the export's squash options
 * decide who owns the files. The server and path are fixed for the volume's life.
 */
export class StaticNfsVolume extends Construct {
  public readonly volume: k8s.KubePersistentVolume;
  public readonly storageClassName: string;
  public readonly claimNamespace: string;
  public readonly claimName: string;
  public readonly size: string;
  /** The path the volume mounts on the server. */
  public readonly path: string;

  public constructor(scope: Construct, id: string, props: StaticNfsVolumeProps) {
    super(scope, id);

    const chartNamespace = Chart.of(this).namespace;
    const claimNamespace = props.claimNamespace ?? chartNamespace;
    const name = props.name ?? `${claimNamespace}-${props.claimName}`;
    const problems = new Problems();
    problems.value('subPath', props.subPath, subPath);
    problems.value('size', props.size, size);
    problems.value('storageClassName', props.storageClassName, objectName);
    problems.value('claimName', props.claimName, objectName);
    problems.value('claimNamespace', props.claimNamespace, namespace);
    problems.check(
      claimNamespace !== undefined,
      'claimNamespace',
      "(not set), and the chart has no namespace; name the claim's namespace",
    );
    // the default name is checked too: a long namespace and claim name can overflow it
    problems.value('name', name, objectName);
    problems.throwIfAny('static NFS volume');

    const share = props.export.share;
    this.path = props.subPath ? `${share === '/' ? '' : share}/${trimmed(props.subPath)}` : share;
    this.storageClassName = props.storageClassName;
    this.claimNamespace = claimNamespace as string;
    this.claimName = props.claimName;
    this.size = props.size;

    this.volume = new k8s.KubePersistentVolume(this, 'Resource', {
      metadata: {
        name,
        labels: { 'app.kubernetes.io/managed-by': 'cdk8s-harbor' },
        // Argo CD must never delete or prune it: the claim would lose its data's address
        annotations: { 'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false' },
      },
      spec: {
        capacity: { storage: k8s.Quantity.fromString(props.size) },
        // a claim binds only a volume that lists every mode it asks for, and Harbor's registry
        // asks for ReadWriteOnce when it runs one replica
        accessModes: ['ReadWriteMany', 'ReadWriteOnce'],
        volumeMode: 'Filesystem',
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: props.storageClassName,
        mountOptions: [...props.export.mountOptions],
        nfs: { server: props.export.server, path: this.path },
        claimRef: { namespace: this.claimNamespace, name: props.claimName },
      },
    });
    if (chartNamespace !== undefined) {
      // a PersistentVolume is cluster-scoped; the chart's namespace must not stick to it
      this.volume.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    }
  }
}

function trimmed(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

function subPath(value: string): string | undefined {
  if (value.startsWith('/')) {
    return 'is absolute; give a directory under the share, such as "harbor/registry"';
  }
  const segments = trimmed(value).split('/');
  return segments.every((s) => /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..')
    ? undefined
    : "is not a relative path; use segments of letters, digits, '.', '_' and '-'";
}
