import { find, ofKind, synthApp } from '../support/synth';

const externalExport = {
  server: 'nfs.example.test',
  share: '/exports/harbor',
  squash: 'root_squash',
};

describe('the shared NFS storage', () => {
  test('installs csi-driver-nfs and a ReadWriteMany class for the registry by default', () => {
    const { objects } = synthApp();

    const storageClass = find(objects, 'StorageClass', 'nfs-csi');
    const claim = find(objects, 'PersistentVolumeClaim', 'harbor-registry');

    expect(find(objects, 'CSIDriver', 'nfs.csi.k8s.io')).toBeDefined();
    expect(
      ofKind(objects, 'DaemonSet')
        .filter((d) => d.metadata.name.startsWith('csi-nfs'))
        .map((d) => d.metadata.namespace),
    ).toEqual(['csi-nfs']);
    expect(storageClass).toMatchObject({
      provisioner: 'nfs.csi.k8s.io',
      reclaimPolicy: 'Retain',
      parameters: { server: 'nfs.example.test', share: '/exports/harbor' },
    });
    expect(claim.spec).toMatchObject({
      storageClassName: 'nfs-csi',
      accessModes: ['ReadWriteMany'],
    });
  });

  test('mounts NFS 4.1 hard unless told otherwise (field failures #8 #40)', () => {
    const storageClass = find(synthApp().objects, 'StorageClass', 'nfs-csi');

    expect(storageClass.mountOptions).toEqual(['nfsvers=4.1', 'hard']);
  });

  test('lets the privileged driver run in its own namespace', () => {
    const namespace = find(synthApp().objects, 'Namespace', 'csi-nfs');

    expect(namespace.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
    expect(namespace.metadata.namespace).toBeUndefined();
  });

  test('counts its class as NFS, so the database refuses it', () => {
    expect(() =>
      synthApp({ database: { storage: { storageClassName: 'nfs-csi', size: '5Gi' } } }),
    ).toThrow(/database\.storage\.storageClassName: "nfs-csi" is an NFS class/);
  });

  test('puts an opted-in database on a hard mount (field failure #8)', () => {
    const { objects } = synthApp({
      database: { storage: { storageClassName: 'nfs-csi', size: '5Gi' }, allowNfs: true },
    });

    expect(find(objects, 'PersistentVolumeClaim', 'harbor-database').spec.storageClassName).toBe(
      'nfs-csi',
    );
    expect(find(objects, 'StorageClass', 'nfs-csi').mountOptions).toContain('hard');
  });

  test('offers the legacy nfs-subdir provisioner with a node preflight (field failures #36 #37)', () => {
    const { objects } = synthApp({ nfs: { type: 'nfsSubdir', export: externalExport } });

    const provisioner = ofKind(objects, 'Deployment').find(
      (d) => d.metadata.namespace === 'csi-nfs',
    );
    const preflight = ofKind(objects, 'DaemonSet')[0];

    expect(provisioner?.spec.template.spec.containers[0].image).toBe(
      'registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2',
    );
    expect(preflight.metadata.labels.preflight).toBe('nfs-client');
    expect(find(objects, 'StorageClass', 'nfs-csi').allowVolumeExpansion).toBe(false);
    expect(ofKind(objects, 'CSIDriver')).toEqual([]);
  });

  test('binds the registry claim to a static volume for a known export', () => {
    const { objects } = synthApp({
      nfs: { type: 'static', storageClassName: 'nfs-csi', export: externalExport },
    });

    const volume = ofKind(objects, 'PersistentVolume')[0];

    expect(volume.spec).toMatchObject({
      nfs: { server: 'nfs.example.test', path: '/exports/harbor' },
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: 'nfs-csi',
      claimRef: { namespace: 'harbor', name: 'harbor-registry' },
    });
    expect(volume.spec.mountOptions).toEqual(['nfsvers=4.1', 'hard']);
    expect(ofKind(objects, 'StorageClass')).toEqual([]);
  });

  test('refuses a static volume the registry claim would not bind to', () => {
    expect(() =>
      synthApp({ nfs: { type: 'static', storageClassName: 'other', export: externalExport } }),
    ).toThrow(/registryStorage\.storageClassName: "nfs-csi" is not the class nfs provides/);
  });

  test('runs a demo NFS server in the cluster on request', () => {
    const { objects } = synthApp({
      nfs: {
        export: null,
        inClusterServer: {
          clusterIP: '10.96.200.10',
          storage: { storageClassName: 'standard', size: '20Gi' },
        },
      },
    });

    const service = ofKind(objects, 'Service').find((s) => s.metadata.namespace === 'csi-nfs');

    expect(service?.spec.clusterIP).toBe('10.96.200.10');
    expect(find(objects, 'StorageClass', 'nfs-csi').parameters.server).toBe('10.96.200.10');
  });

  test('refuses an export and a demo server together, or neither', () => {
    const server = {
      clusterIP: '10.96.200.10',
      storage: { storageClassName: 'standard', size: '1Gi' },
    };

    expect(() => synthApp({ nfs: { inClusterServer: server } })).toThrow(/nfs: needs exactly one/);
  });

  test('names the export field that is wrong (field failures #40 #41)', () => {
    expect(() => synthApp({ nfs: { export: { share: 'exports/harbor' } } })).toThrow(
      /nfs\.export\.share: "exports\/harbor" is not an absolute path/,
    );
    expect(() => synthApp({ nfs: { export: { squash: undefined } } })).toThrow(
      /nfs\.export\.squash/,
    );
    expect(() => synthApp({ nfs: { export: { version: '3' } } })).toThrow(
      /nfs\.export\.version: .*rpc\.statd/,
    );
    expect(() => synthApp({ nfs: { export: { mountOptions: ['soft'] } } })).toThrow(
      /nfs\.export\.mountOptions\[0\]: "soft" is refused/,
    );
  });

  test('refuses a renamed class the registry does not use', () => {
    expect(() => synthApp({ nfs: { storageClassName: 'harbor-nfs' } })).toThrow(
      /registryStorage\.storageClassName: "nfs-csi" is not the class nfs provides, "harbor-nfs"/,
    );
  });

  test('keeps the driver out of the Harbor namespace, and reuses kube-system as it is', () => {
    expect(() => synthApp({ nfs: { namespace: 'harbor' } })).toThrow(
      /nfs\.namespace: "harbor" is Harbor's namespace too/,
    );

    const { objects } = synthApp({ nfs: { namespace: 'kube-system' } });

    expect(ofKind(objects, 'Namespace').map((n) => n.metadata.name)).not.toContain('kube-system');
    expect(find(objects, 'DaemonSet', 'csi-nfs-node').metadata.namespace).toBe('kube-system');
  });

  test('runs a demo server only on a class other than the one it serves', () => {
    const server = {
      clusterIP: '10.96.200.10',
      storage: { storageClassName: 'nfs-csi', size: '1Gi' },
    };

    expect(() => synthApp({ nfs: { export: null, inClusterServer: server } })).toThrow(
      /nfs\.inClusterServer\.storage\.storageClassName: "nfs-csi" is the class this server provides/,
    );
  });

  test('leaves ownership to the export on in-tree NFS volumes, which ignore fsGroup', () => {
    const { objects } = synthApp({
      nfs: { type: 'static', export: { ...externalExport, squash: 'no_root_squash' } },
    });

    const registry = find(objects, 'Deployment', 'harbor-registry');
    expect(registry.spec.template.spec.securityContext.fsGroup).toBeUndefined();
  });

  test('refuses export settings that cannot mount or do nothing', () => {
    const bad = (exportOverride: Record<string, unknown>, message: RegExp) =>
      expect(() => synthApp({ nfs: { export: exportOverride } })).toThrow(message);

    bad({ mountOptions: ['timeo=0'] }, /mountOptions\[0\]: "timeo=0"/);
    bad({ mountOptions: ['timeo=600', 'timeo=10'] }, /mountOptions\[1\]: repeats timeo/);
    bad({ server: '10.0.0.5', mountOptions: ['proto=tcp6'] }, /"proto=tcp6" needs an IPv6 server/);
    bad({ server: '0.0.0.0' }, /nfs\.export\.server: "0\.0\.0\.0" is not an address/);
    bad({ anonUid: 10000 }, /nfs\.export\.anonUid: applies to all_squash only/);
    bad({ version: 4.1 }, /nfs\.export\.version: 4\.1 is not allowed.*write it in quotes/);
    expect(() => synthApp({ nfs: { mountPermissions: '0700' } })).toThrow(
      /nfs\.mountPermissions: "0700" leaves others without write/,
    );
  });

  test('needs nothing of its own when the classes exist already', () => {
    const { objects } = synthApp({ nfs: { type: 'none' }, nfsStorageClasses: ['nfs-csi'] });

    expect(ofKind(objects, 'StorageClass')).toEqual([]);
    expect(ofKind(objects, 'CSIDriver')).toEqual([]);
  });
});
