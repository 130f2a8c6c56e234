import { Chart, Testing } from 'cdk8s';
import { NfsExport, NfsVersion, Squash } from '../../lib/storage/nfs-export';
import { StaticNfsVolume, StaticNfsVolumeProps } from '../../lib/storage/static-nfs-volume';
import { expectValidObjects } from '../support/schema';
import { K8sObject, ofKind } from '../support/synth';

const nfs = new NfsExport({
  server: 'nas.example.test',
  share: '/exports/harbor',
  squash: Squash.ALL_SQUASH,
  anonUid: 10000,
  anonGid: 10000,
  version: NfsVersion.V3,
  allowNoLock: true,
});

const base: StaticNfsVolumeProps = {
  export: nfs,
  size: '500Gi',
  storageClassName: 'harbor-registry-static',
  claimName: 'harbor-registry',
};

function synth(props: Partial<StaticNfsVolumeProps> = {}, namespace = 'harbor'): K8sObject {
  const chart = new Chart(Testing.app(), 'test', { namespace });
  new StaticNfsVolume(chart, 'volume', { ...base, ...props });
  const objects = Testing.synth(chart);
  expectValidObjects(objects);
  expect(objects).toHaveLength(1);
  return ofKind(objects, 'PersistentVolume')[0];
}

describe('StaticNfsVolume', () => {
  test('mounts the export with its mount options, retained, with no namespace', () => {
    const volume = synth();

    expect(volume.metadata.name).toBe('harbor-harbor-registry');
    expect(volume.metadata.namespace).toBeUndefined();
    expect(volume.spec).toEqual({
      capacity: { storage: '500Gi' },
      accessModes: ['ReadWriteMany', 'ReadWriteOnce'],
      volumeMode: 'Filesystem',
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: 'harbor-registry-static',
      mountOptions: ['nfsvers=3', 'hard', 'nolock'],
      nfs: { server: 'nas.example.test', path: '/exports/harbor' },
      claimRef: { namespace: 'harbor', name: 'harbor-registry' },
    });
  });

  test('is pre-bound to the named claim of another namespace', () => {
    const volume = synth({ claimNamespace: 'registry', name: 'registry-blobs' });

    expect(volume.metadata.name).toBe('registry-blobs');
    expect(volume.spec.claimRef).toEqual({ namespace: 'registry', name: 'harbor-registry' });
  });

  test('mounts a directory under the share', () => {
    expect(synth({ subPath: 'registry/blobs/' }).spec.nfs.path).toBe(
      '/exports/harbor/registry/blobs',
    );
  });

  test('joins a directory under the root share without a double slash', () => {
    const root = new NfsExport({ server: '10.96.0.49', share: '/', squash: Squash.NO_ROOT_SQUASH });

    expect(synth({ export: root, subPath: 'registry' }).spec.nfs.path).toBe('/registry');
    expect(synth({ export: root }).spec.nfs.path).toBe('/');
  });

  test('keeps Argo CD from pruning or deleting it', () => {
    expect(synth().metadata.annotations).toEqual({
      'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false',
    });
  });

  test('throws on a bad size, class, claim or path, all at once', () => {
    const make = () =>
      new StaticNfsVolume(new Chart(Testing.app(), 'test', { namespace: 'harbor' }), 'v', {
        export: nfs,
        size: '1TB',
        storageClassName: 'Static',
        claimName: 'Harbor_Registry',
        claimNamespace: 'kube-system',
        subPath: '../other',
      });

    expect(make).toThrow(/size: "1TB" is not a size; use e.g. "512Mi" or "50Gi"/);
    expect(make).toThrow(/storageClassName: "Static" is not a Kubernetes object name/);
    expect(make).toThrow(/claimName: "Harbor_Registry" is not a Kubernetes object name/);
    expect(make).toThrow(/claimNamespace: "kube-system" is a namespace Kubernetes owns/);
    expect(make).toThrow(/subPath: "\.\.\/other" is not a relative path/);
  });

  test('throws on an absolute subPath', () => {
    expect(() => synth({ subPath: '/etc' })).toThrow(/subPath: "\/etc" is absolute/);
  });

  test('throws without a claim namespace in a chart without one', () => {
    const chart = new Chart(Testing.app(), 'test');

    expect(() => new StaticNfsVolume(chart, 'v', base)).toThrow(/claimNamespace: \(not set\)/);
  });

  test('keeps no namespace to drop in a chart without one', () => {
    const chart = new Chart(Testing.app(), 'test');
    new StaticNfsVolume(chart, 'v', { ...base, claimNamespace: 'harbor' });

    const [volume] = Testing.synth(chart);

    expect(volume.metadata.namespace).toBeUndefined();
    expect(volume.spec.claimRef.namespace).toBe('harbor');
  });
});
