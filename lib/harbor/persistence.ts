import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { sizeOf } from './resources';

/** Where one Harbor component keeps its data. */
export interface PersistenceProps {
  /** @see https://kubernetes.io/docs/concepts/storage/storage-classes/ */
  readonly storageClassName: string;

  /** Requested size, e.g. `50Gi`. NFS provisioners do not enforce it. */
  readonly size: string;

  /** @default PersistentVolumeAccessMode.READ_WRITE_ONCE */
  readonly accessMode?: kplus.PersistentVolumeAccessMode;
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
    accessModes: [props.accessMode ?? kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
    storage: sizeOf(props.size, `${field}.size`),
    volumeMode: kplus.PersistentVolumeMode.FILE_SYSTEM,
  });
}

export function isShared(props: PersistenceProps): boolean {
  return props.accessMode === kplus.PersistentVolumeAccessMode.READ_WRITE_MANY;
}
