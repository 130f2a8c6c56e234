import { Chart, Testing } from 'cdk8s';
import {
  CSI_NFS_IMAGES,
  CsiDriverNfs,
  CsiDriverNfsProps,
  NfsStorageClassProps,
  OnDelete,
  csiNfsImages,
} from '../../lib/storage/csi-driver-nfs';
import { NfsExport, NfsExportProps, NfsVersion, Squash } from '../../lib/storage/nfs-export';
import { expectValidObjects } from '../support/schema';
import { K8sObject, containerOf, find, ofKind, podSpec } from '../support/synth';

const EXPORT: NfsExportProps = {
  server: 'nfs.example.test',
  share: '/exports/harbor',
  squash: Squash.NO_ROOT_SQUASH,
};

type ClassProps = Omit<NfsStorageClassProps, 'name' | 'export'>;

/** Every object of a chart in namespace csi-nfs, checked against the schemas. */
function synth(props: CsiDriverNfsProps = {}, build?: (driver: CsiDriverNfs) => void) {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'csi-nfs' });
  const driver = new CsiDriverNfs(chart, 'CsiNfs', props);
  build?.(driver);
  const objects: K8sObject[] = chart.toJson();
  expectValidObjects(objects);
  return objects;
}

/** The StorageClass `harbor-nfs` made for an export. */
function storageClass(exportProps: Partial<NfsExportProps> = {}, props: ClassProps = {}) {
  const objects = synth({}, (driver) =>
    driver.addStorageClass('Registry', {
      name: 'harbor-nfs',
      export: new NfsExport({ ...EXPORT, ...exportProps }),
      ...props,
    }),
  );
  return find(objects, 'StorageClass', 'harbor-nfs');
}

/** The error of adding a class with these inputs. */
function classError(exportProps: Partial<NfsExportProps>, props: ClassProps = {}): () => void {
  const driver = new CsiDriverNfs(Testing.chart(), 'CsiNfs');
  return () =>
    driver.addStorageClass('Registry', {
      name: 'harbor-nfs',
      export: new NfsExport({ ...EXPORT, ...exportProps }),
      ...props,
    });
}

const imagesOf = (workload: K8sObject): string[] =>
  podSpec(workload).containers.map((c: K8sObject) => c.image);

describe('CsiDriverNfs', () => {
  test('registers the driver for persistent volumes without attach', () => {
    const driver = find(synth(), 'CSIDriver', 'nfs.csi.k8s.io');

    expect(driver.metadata.namespace).toBeUndefined();
    expect(driver.spec).toEqual({
      attachRequired: false,
      volumeLifecycleModes: ['Persistent'],
      fsGroupPolicy: 'File',
    });
  });

  test('pins every image by version and uses each one', () => {
    const objects = synth();

    const used = [
      ...imagesOf(find(objects, 'Deployment', 'csi-nfs-controller')),
      ...imagesOf(find(objects, 'DaemonSet', 'csi-nfs-node')),
    ];

    expect(new Set(used)).toEqual(new Set(Object.values(csiNfsImages())));
    expect(csiNfsImages()).toEqual({
      nfsplugin: 'registry.k8s.io/sig-storage/nfsplugin:v4.13.4',
      provisioner: 'registry.k8s.io/sig-storage/csi-provisioner:v6.3.0',
      resizer: 'registry.k8s.io/sig-storage/csi-resizer:v2.2.0',
      livenessProbe: 'registry.k8s.io/sig-storage/livenessprobe:v2.19.0',
      nodeDriverRegistrar: 'registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.17.0',
    });
    expect(Object.values(CSI_NFS_IMAGES).every((image) => /:v\d+\.\d+\.\d+$/.test(image))).toBe(
      true,
    );
  });

  test('pulls every image from the mirror', () => {
    const objects = synth({ images: { registry: 'registry.example.test/mirror' } });

    const used = [
      ...imagesOf(find(objects, 'Deployment', 'csi-nfs-controller')),
      ...imagesOf(find(objects, 'DaemonSet', 'csi-nfs-node')),
    ];

    expect(used).toHaveLength(7);
    expect(
      used.every((image) => image.startsWith('registry.example.test/mirror/sig-storage/')),
    ).toBe(true);
    expect(Object.values(csiNfsImages('registry.example.test/mirror'))).toContain(
      'registry.example.test/mirror/sig-storage/nfsplugin:v4.13.4',
    );
  });

  test('elects a leader on Leases and passes claim names to the driver', () => {
    const controller = find(synth(), 'Deployment', 'csi-nfs-controller');

    const provisioner = containerOf(controller, 'csi-provisioner');
    const resizer = containerOf(controller, 'csi-resizer');

    expect(provisioner.args).toEqual(
      expect.arrayContaining([
        '--leader-election',
        '--leader-election-namespace=csi-nfs',
        '--extra-create-metadata=true',
        '--csi-address=/csi/csi.sock',
      ]),
    );
    expect(resizer.args).toEqual(
      expect.arrayContaining(['--leader-election', '--leader-election-namespace=csi-nfs']),
    );
  });

  test('runs no snapshotter and grants nothing on snapshots or secrets', () => {
    const objects = synth();

    const controller = find(objects, 'Deployment', 'csi-nfs-controller');
    const rules = [...ofKind(objects, 'ClusterRole'), ...ofKind(objects, 'Role')].flatMap(
      (role) => role.rules,
    );

    expect(podSpec(controller).containers.map((c: K8sObject) => c.name)).toEqual([
      'csi-provisioner',
      'csi-resizer',
      'liveness-probe',
      'nfs',
    ]);
    expect(JSON.stringify(objects)).not.toMatch(/snapshot/);
    expect(rules.flatMap((rule) => rule.resources)).not.toContain('secrets');
  });

  test('grants the verbs the sidecars call, and reads of nodes as upstream does', () => {
    const objects = synth();

    expect(find(objects, 'ClusterRole', 'csi-nfs-provisioner').rules).toEqual([
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
      {
        apiGroups: ['storage.k8s.io'],
        resources: ['storageclasses'],
        verbs: ['get', 'list', 'watch'],
      },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['storage.k8s.io'], resources: ['csinodes'], verbs: ['get', 'list', 'watch'] },
    ]);
    expect(find(objects, 'ClusterRole', 'csi-nfs-resizer').rules).toEqual([
      {
        apiGroups: [''],
        resources: ['persistentvolumes'],
        verbs: ['get', 'list', 'watch', 'patch'],
      },
      { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['persistentvolumeclaims/status'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
    expect(find(objects, 'Role', 'csi-nfs-leader-election')).toMatchObject({
      metadata: { namespace: 'csi-nfs' },
      rules: [
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          verbs: ['get', 'create', 'update'],
        },
      ],
    });
  });

  test('binds every role to the controller account alone', () => {
    const objects = synth();

    const bindings = [...ofKind(objects, 'ClusterRoleBinding'), ...ofKind(objects, 'RoleBinding')];

    expect(bindings.map((b) => b.roleRef.name).sort()).toEqual([
      'csi-nfs-leader-election',
      'csi-nfs-provisioner',
      'csi-nfs-resizer',
    ]);
    for (const binding of bindings) {
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'csi-nfs-controller-sa', namespace: 'csi-nfs' },
      ]);
    }
    expect(find(objects, 'ServiceAccount', 'csi-nfs-node-sa').automountServiceAccountToken).toBe(
      false,
    );
    expect(ofKind(objects, 'ClusterRole').every((o) => o.metadata.namespace === undefined)).toBe(
      true,
    );
  });

  test('runs the controller on the host network next to the control plane', () => {
    const controller = find(synth(), 'Deployment', 'csi-nfs-controller');

    const pod = podSpec(controller);

    expect(pod).toMatchObject({
      hostNetwork: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      priorityClassName: 'system-cluster-critical',
      serviceAccountName: 'csi-nfs-controller-sa',
      automountServiceAccountToken: true,
    });
    expect(pod.tolerations).toEqual(
      expect.arrayContaining([
        { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
      ]),
    );
    expect(controller.spec.replicas).toBe(1);
  });

  test('privileges the plugin alone, with Bidirectional mounts of the kubelet pods dir', () => {
    const objects = synth();

    for (const workload of [
      find(objects, 'Deployment', 'csi-nfs-controller'),
      find(objects, 'DaemonSet', 'csi-nfs-node'),
    ]) {
      const plugin = containerOf(workload, 'nfs');
      const sidecars = podSpec(workload).containers.filter((c: K8sObject) => c.name !== 'nfs');

      expect(plugin.securityContext).toMatchObject({
        privileged: true,
        capabilities: { add: ['SYS_ADMIN'] },
      });
      expect(plugin.securityContext.seccompProfile).toBeUndefined();
      expect(plugin.volumeMounts).toContainEqual({
        name: 'pods-mount-dir',
        mountPath: '/var/lib/kubelet/pods',
        mountPropagation: 'Bidirectional',
      });
      expect(podSpec(workload).volumes).toContainEqual({
        name: 'pods-mount-dir',
        hostPath: { path: '/var/lib/kubelet/pods', type: 'Directory' },
      });
      for (const sidecar of sidecars) {
        expect(sidecar.securityContext).toMatchObject({
          privileged: false,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
      }
    }
  });

  test('runs a node plugin on every node whatever its taints', () => {
    const node = find(synth(), 'DaemonSet', 'csi-nfs-node');

    const pod = podSpec(node);

    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod).toMatchObject({
      hostNetwork: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      priorityClassName: 'system-node-critical',
      automountServiceAccountToken: false,
    });
    expect(pod.volumes).toEqual(
      expect.arrayContaining([
        {
          name: 'socket-dir',
          hostPath: { path: '/var/lib/kubelet/plugins/csi-nfsplugin', type: 'DirectoryOrCreate' },
        },
        {
          name: 'registration-dir',
          hostPath: { path: '/var/lib/kubelet/plugins_registry', type: 'Directory' },
        },
      ]),
    );
    expect(containerOf(node, 'node-driver-registrar').args).toContain(
      '--kubelet-registration-path=/var/lib/kubelet/plugins/csi-nfsplugin/csi.sock',
    );
  });

  test('moves every host path with kubeletDir', () => {
    const objects = synth({ kubeletDir: '/var/lib/k0s/kubelet' });

    const hostPaths = [
      ...podSpec(find(objects, 'Deployment', 'csi-nfs-controller')).volumes,
      ...podSpec(find(objects, 'DaemonSet', 'csi-nfs-node')).volumes,
    ].flatMap((v: K8sObject) => (v.hostPath ? [v.hostPath.path] : []));
    const plugin = containerOf(find(objects, 'DaemonSet', 'csi-nfs-node'), 'nfs');

    expect(hostPaths).toHaveLength(4);
    expect(hostPaths.every((path: string) => path.startsWith('/var/lib/k0s/kubelet/'))).toBe(true);
    expect(plugin.volumeMounts).toContainEqual(
      expect.objectContaining({ mountPath: '/var/lib/k0s/kubelet/pods' }),
    );
  });

  test('selects its pods by stable labels only', () => {
    const objects = synth();

    for (const [kind, name, component] of [
      ['Deployment', 'csi-nfs-controller', 'controller'],
      ['DaemonSet', 'csi-nfs-node', 'node'],
    ]) {
      const workload = find(objects, kind, name);

      expect(workload.spec.selector).toEqual({
        matchLabels: {
          'app.kubernetes.io/name': 'csi-driver-nfs',
          'app.kubernetes.io/component': component,
        },
      });
      expect(Object.keys(workload.spec.template.metadata.labels)).not.toContain(
        'cdk8s.io/metadata.addr',
      );
    }
  });

  test('keeps controller replicas on separate nodes', () => {
    const controller = find(synth({ controllerReplicas: 2 }), 'Deployment', 'csi-nfs-controller');

    expect(controller.spec.replicas).toBe(2);
    expect(podSpec(controller).affinity.podAntiAffinity).toEqual({
      requiredDuringSchedulingIgnoredDuringExecution: [
        {
          labelSelector: {
            matchLabels: {
              'app.kubernetes.io/name': 'csi-driver-nfs',
              'app.kubernetes.io/component': 'controller',
            },
          },
          topologyKey: 'kubernetes.io/hostname',
        },
      ],
    });
  });

  test('puts its objects in the namespace prop, else the chart, else csi-nfs', () => {
    const namespaceOf = (chart: Chart, props: CsiDriverNfsProps) => {
      new CsiDriverNfs(chart, 'CsiNfs', props);
      const objects = chart.toJson();
      expectValidObjects(objects);
      return find(objects, 'DaemonSet', 'csi-nfs-node').metadata.namespace;
    };

    expect(namespaceOf(Testing.chart(), {})).toBe('csi-nfs');
    expect(namespaceOf(Testing.chart(), { namespace: 'storage' })).toBe('storage');
    expect(namespaceOf(new Chart(Testing.app(), 'test', { namespace: 'nfs' }), {})).toBe('nfs');
  });

  test('throws on bad driver props, naming each', () => {
    expect(
      () =>
        new CsiDriverNfs(Testing.chart(), 'CsiNfs', {
          namespace: 'CSI NFS',
          images: { registry: 'https://registry.example.test' },
          controllerReplicas: 0,
          kubeletDir: 'var/lib/kubelet/',
        }),
    ).toThrow(
      new RegExp(
        [
          'namespace: "CSI NFS" is not a DNS label',
          'images.registry: "https://registry.example.test" is not a registry host',
          'controllerReplicas: 0 is not a replica count',
          'kubeletDir: "var/lib/kubelet/" is not an absolute directory',
        ].join('[^]*'),
      ),
    );
  });
});

describe('CsiDriverNfs.addStorageClass', () => {
  test('provisions a directory per claim on the export, mounted hard with NFS 4.1', () => {
    const sc = storageClass();

    expect(sc.metadata.namespace).toBeUndefined();
    expect(sc).toMatchObject({
      provisioner: 'nfs.csi.k8s.io',
      parameters: {
        server: 'nfs.example.test',
        share: '/exports/harbor',
        subDir: '${pvc.metadata.namespace}/${pvc.metadata.name}',
      },
      mountOptions: ['nfsvers=4.1', 'hard'],
      volumeBindingMode: 'Immediate',
      allowVolumeExpansion: true,
    });
  });

  test('mounts with the export version and options', () => {
    const sc = storageClass({ version: NfsVersion.V4_2, mountOptions: ['noatime', 'timeo=600'] });

    expect(sc.mountOptions).toEqual(['nfsvers=4.2', 'hard', 'noatime', 'timeo=600']);
  });

  test('keeps a given subDir', () => {
    const sc = storageClass({}, { subDir: 'harbor/${pvc.metadata.name}-${pv.metadata.name}' });

    expect(sc.parameters.subDir).toBe('harbor/${pvc.metadata.name}-${pv.metadata.name}');
  });

  test.each([
    [OnDelete.RETAIN, 'Retain', undefined],
    [OnDelete.ARCHIVE, 'Delete', 'archive'],
    [OnDelete.DELETE, 'Delete', 'delete'],
  ])('renders onDelete %s as reclaimPolicy %s', (onDelete, reclaimPolicy, parameter) => {
    const sc = storageClass({}, { onDelete });

    expect(sc.reclaimPolicy).toBe(reclaimPolicy);
    expect(sc.parameters.onDelete).toBe(parameter);
  });

  test('retains claim data by default', () => {
    const sc = storageClass();

    expect(sc.reclaimPolicy).toBe('Retain');
    expect(sc.parameters).not.toHaveProperty('onDelete');
  });

  test.each([
    [{ squash: Squash.NO_ROOT_SQUASH }, undefined],
    [{ squash: Squash.ROOT_SQUASH }, '0777'],
    [{ squash: Squash.ALL_SQUASH, anonUid: 10000, anonGid: 10000 }, '0770'],
  ])('opens claim directories to Harbor on %o', (exportProps, mode) => {
    const sc = storageClass(exportProps);

    expect(sc.parameters.mountPermissions).toBe(mode);
  });

  test('prefers a given mountPermissions', () => {
    const sc = storageClass(
      { squash: Squash.ALL_SQUASH, anonUid: 1000, anonGid: 1000 },
      { mountPermissions: '0775' },
    );

    expect(sc.parameters.mountPermissions).toBe('0775');
  });

  test('throws when all_squash maps clients to another uid than 10000', () => {
    expect(classError({ squash: Squash.ALL_SQUASH, anonUid: 1000, anonGid: 10000 })).toThrow(
      /export\.anonUid: 1000 would own every file under all_squash, but Harbor runs as 10000/,
    );
  });

  test.each([
    [
      'a relative share',
      { share: 'exports/harbor' },
      /share: "exports\/harbor" is not an absolute/,
    ],
    ['a URL as server', { server: 'nfs://nfs.example.test' }, /server: "nfs:\/\/.*" is a URL/],
    ['an unknown mount option', { mountOptions: ['rw'] }, /mountOptions\[0\]: "rw" is not a known/],
    ['a soft mount', { mountOptions: ['soft'] }, /mountOptions\[0\]: "soft" is refused/],
  ])('throws on %s', (_, exportProps, message) => {
    expect(classError(exportProps)).toThrow(message);
  });

  test.each([
    [
      'an unknown variable',
      '${pvc.metadata.labels.app}',
      /subDir: .* uses \$\{pvc\.metadata\.labels\.app\}/,
    ],
    ['an absolute path', '/${pvc.metadata.name}', /subDir: .* is not a relative path/],
    ['a parent directory', '../${pvc.metadata.name}', /subDir: .* is not a relative path/],
    ['no claim name', 'harbor/${pvc.metadata.namespace}', /subDir: .* names no claim/],
  ])('throws on a subDir with %s', (_, subDir, message) => {
    expect(classError({}, { subDir })).toThrow(message);
  });

  test('throws on a mode that is not octal', () => {
    expect(classError({}, { mountPermissions: '0789' })).toThrow(
      /mountPermissions: "0789" is not an octal mode/,
    );
  });

  test('reports every problem of a class at once', () => {
    expect(
      classError(
        { squash: Squash.ALL_SQUASH, anonUid: 0, anonGid: 0 },
        { subDir: '${pv.name}', onDelete: 'remove' as OnDelete },
      ),
    ).toThrow(/subDir[^]*onDelete: "remove"[^]*export\.anonUid[^]*export\.anonGid/);
  });

  test('throws on a second class of the same name', () => {
    const driver = new CsiDriverNfs(Testing.chart(), 'CsiNfs');
    driver.addStorageClass('Registry', { name: 'harbor-nfs', export: new NfsExport(EXPORT) });

    expect(() =>
      driver.addStorageClass('Again', { name: 'harbor-nfs', export: new NfsExport(EXPORT) }),
    ).toThrow(/name: "harbor-nfs" is already a StorageClass of this driver/);
  });
});
