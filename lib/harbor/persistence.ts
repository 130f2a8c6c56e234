import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { sizeOf } from './resources';
import { objectName, size } from '../private/checks';
import { Problems } from '../private/validation';

/** How many nodes may mount a volume at once. */
export enum AccessMode {
  /** One node; a workload on it runs one replica and is replaced by recreation. */
  READ_WRITE_ONCE = 'ReadWriteOnce',
  /** Many nodes, as NFS allows; needed for more than one registry replica. */
  READ_WRITE_MANY = 'ReadWriteMany',
}

/** Where one Harbor component keeps its data. */
export interface PersistenceProps {
  /** @see https://kubernetes.io/docs/concepts/storage/storage-classes/ */
  readonly storageClassName: string;

  /** Requested size, e.g. `50Gi`. NFS provisioners do not enforce it. */
  readonly size: string;

  /** @default AccessMode.READ_WRITE_ONCE */
  readonly accessMode?: AccessMode;

  /**
   * Let the kubelet hand the volume to the pod's group (`fsGroup`). Turn it off on an NFS
   * export that squashes root: the kubelet's chgrp runs as root, is squashed, and fails the
   * mount; the files are then owned through the export's options instead.
   * @default true
   */
  readonly fsGroup?: boolean;
}

/**
 * The claim of one component. Argo CD is told never to prune or delete it: it holds the
 * registry's images or its database, which a renamed object must not take away.
 */
export function dataClaim(
  scope: Construct,
  name: string,
  labels: Record<string, string>,
  props: PersistenceProps,
  field: string,
): kplus.PersistentVolumeClaim {
  return new kplus.PersistentVolumeClaim(scope, 'Claim', {
    metadata: {
      name,
      labels,
      annotations: { 'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false' },
    },
    storageClassName: props.storageClassName,
    // the two enums share their values, the upstream strings
    accessModes: [
      (props.accessMode ??
        AccessMode.READ_WRITE_ONCE) as string as kplus.PersistentVolumeAccessMode,
    ],
    storage: sizeOf(props.size, `${field}.size`),
    volumeMode: kplus.PersistentVolumeMode.FILE_SYSTEM,
  });
}

export function isShared(props: PersistenceProps): boolean {
  return props.accessMode === AccessMode.READ_WRITE_MANY;
}

/** Records what is wrong with one component's storage, under `field`. */
export function checkPersistence(problems: Problems, field: string, props: PersistenceProps): void {
  problems.value(`${field}.storageClassName`, props.storageClassName, objectName);
  problems.value(`${field}.size`, props.size, size);
}
