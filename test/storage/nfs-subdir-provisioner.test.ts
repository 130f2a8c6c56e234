import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { OnDelete } from '../../lib/storage/csi-driver-nfs';
import { NfsExport, NfsVersion, Squash } from '../../lib/storage/nfs-export';
import {
  NFS_CLIENT_PREFLIGHT_SCRIPT,
  NfsSubdirProvisioner,
  NfsSubdirProvisionerProps,
} from '../../lib/storage/nfs-subdir-provisioner';
import { run } from '../support/processes';
import { expectValidObjects } from '../support/schema';
import { K8sObject, containerOf, find, ofKind, podSpec } from '../support/synth';

const nfs = new NfsExport({
  server: '192.0.2.10',
  share: '/exports/harbor',
  squash: Squash.NO_ROOT_SQUASH,
});

function synth(props: Partial<NfsSubdirProvisionerProps> = {}): K8sObject[] {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'storage' });
  new NfsSubdirProvisioner(chart, 'provisioner', {
    export: nfs,
    storageClassName: 'nfs-legacy',
    ...props,
  });
  const objects = Testing.synth(chart);
  expectValidObjects(objects);
  return objects;
}

function construct(props: Partial<NfsSubdirProvisionerProps>): () => void {
  return () => synth(props);
}

describe('NfsSubdirProvisioner', () => {
  test('runs the pinned v4.0.2 image once, recreated, with the share at /persistentvolumes', () => {
    const objects = synth();

    const deployment = find(objects, 'Deployment', 'nfs-subdir-provisioner');
    const container = containerOf(deployment, 'nfs-subdir-external-provisioner');

    expect(deployment.metadata.namespace).toBe('storage');
    expect(deployment.spec).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
    expect(container.image).toBe(
      'registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2',
    );
    expect(container.env).toEqual([
      { name: 'PROVISIONER_NAME', value: 'k8s-sigs.io/nfs-subdir-external-provisioner' },
      { name: 'NFS_SERVER', value: '192.0.2.10' },
      { name: 'NFS_PATH', value: '/exports/harbor' },
    ]);
    expect(container.volumeMounts).toEqual([
      { name: 'nfs-client-root', mountPath: '/persistentvolumes' },
    ]);
    expect(podSpec(deployment).volumes).toEqual([
      {
        name: 'nfs-client-root',
        persistentVolumeClaim: { claimName: 'nfs-subdir-provisioner-root' },
      },
    ]);
    expect(podSpec(deployment).serviceAccountName).toBe('nfs-subdir-provisioner');
  });

  test('mounts the share with the export mount options through a volume of its own', () => {
    const objects = synth();

    const claim = find(objects, 'PersistentVolumeClaim', 'nfs-subdir-provisioner-root');
    const volume = find(objects, 'PersistentVolume', claim.spec.volumeName);

    expect(claim.metadata.namespace).toBe('storage');
    expect(volume.spec).toMatchObject({
      nfs: { server: '192.0.2.10', path: '/exports/harbor' },
      mountOptions: ['nfsvers=4.1', 'hard'],
      storageClassName: claim.spec.storageClassName,
      claimRef: { namespace: 'storage', name: 'nfs-subdir-provisioner-root' },
      persistentVolumeReclaimPolicy: 'Retain',
    });
    expect(ofKind(objects, 'StorageClass').map((c) => c.metadata.name)).toEqual(['nfs-legacy']);
  });

  test('grants exactly the upstream cluster rules and an Endpoints lock in its namespace', () => {
    const objects = synth();

    const clusterRole = find(objects, 'ClusterRole', 'nfs-subdir-provisioner');
    const clusterBinding = find(objects, 'ClusterRoleBinding', 'nfs-subdir-provisioner');
    const role = find(objects, 'Role', 'nfs-subdir-provisioner-leader-election');
    const binding = find(objects, 'RoleBinding', 'nfs-subdir-provisioner-leader-election');

    expect(clusterRole.rules).toEqual([
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
    ]);
    expect(role.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['endpoints'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'],
      },
    ]);
    const subject = {
      kind: 'ServiceAccount',
      name: 'nfs-subdir-provisioner',
      namespace: 'storage',
    };
    expect(clusterBinding.subjects).toEqual([subject]);
    expect(clusterBinding.roleRef).toMatchObject({
      kind: 'ClusterRole',
      name: clusterRole.metadata.name,
    });
    expect(binding.subjects).toEqual([subject]);
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: role.metadata.name });
    expect(role.metadata.namespace).toBe('storage');
    expect(clusterRole.metadata.namespace).toBeUndefined();
    expect(clusterBinding.metadata.namespace).toBeUndefined();
  });

  test('offers a class that cannot expand, with the export mount options', () => {
    const objects = synth({
      export: new NfsExport({
        server: 'nas.example.test',
        share: '/harbor',
        squash: Squash.ROOT_SQUASH,
        version: NfsVersion.V4_2,
        mountOptions: ['noatime'],
      }),
    });

    const storageClass = find(objects, 'StorageClass', 'nfs-legacy');

    expect(storageClass.metadata.namespace).toBeUndefined();
    expect(storageClass).toMatchObject({
      provisioner: 'k8s-sigs.io/nfs-subdir-external-provisioner',
      allowVolumeExpansion: false,
      volumeBindingMode: 'Immediate',
      mountOptions: ['nfsvers=4.2', 'hard', 'noatime'],
    });
  });

  test('retains volumes and directories by default, with no archive parameter', () => {
    const storageClass = find(synth(), 'StorageClass', 'nfs-legacy');

    expect(storageClass.reclaimPolicy).toBe('Retain');
    expect(storageClass.parameters).toEqual({ onDelete: 'retain' });
  });

  test('archives or deletes through a Delete reclaim policy (field failure #39)', () => {
    const archive = find(synth({ onDelete: OnDelete.ARCHIVE }), 'StorageClass', 'nfs-legacy');
    const remove = find(synth({ onDelete: OnDelete.DELETE }), 'StorageClass', 'nfs-legacy');

    expect(archive.reclaimPolicy).toBe('Delete');
    expect(archive.parameters).toEqual({ archiveOnDelete: 'true' });
    expect(remove.reclaimPolicy).toBe('Delete');
    expect(remove.parameters).toEqual({ onDelete: 'delete' });
  });

  test('passes a path pattern to the class', () => {
    const storageClass = find(
      synth({ pathPattern: '${.PVC.namespace}-${.PVC.name}', onDelete: OnDelete.DELETE }),
      'StorageClass',
      'nfs-legacy',
    );

    expect(storageClass.parameters).toEqual({
      onDelete: 'delete',
      pathPattern: '${.PVC.namespace}-${.PVC.name}',
    });
  });

  test('throws when archive meets a path pattern (field failure #39)', () => {
    expect(
      construct({ onDelete: OnDelete.ARCHIVE, pathPattern: '${.PVC.namespace}-${.PVC.name}' }),
    ).toThrow(/pathPattern: ".*": archive not supported with pathPattern/);
  });

  test('throws when a nested path pattern meets delete', () => {
    expect(
      construct({ onDelete: OnDelete.DELETE, pathPattern: '${.PVC.namespace}/${.PVC.name}' }),
    ).toThrow(/pathPattern: .* deletes by the last segment/);
    expect(construct({ pathPattern: '${.PVC.namespace}/${.PVC.name}' })).not.toThrow();
  });

  test('throws when a path pattern does not name the claim or leaves the share', () => {
    expect(construct({ pathPattern: 'shared' })).toThrow(
      /pathPattern: "shared" does not name the claim/,
    );
    // a namespace alone would put every claim of it in one directory
    expect(construct({ pathPattern: '${.PVC.namespace}' })).toThrow(/does not name the claim/);
    expect(construct({ pathPattern: '../${.PVC.name}' })).toThrow(
      /pathPattern: "\.\.\/\$\{\.PVC\.name\}" is not a relative path/,
    );
  });

  test('refuses the abandoned nfs-client-provisioner image (field failure #37)', () => {
    for (const image of [
      'quay.io/external_storage/nfs-client-provisioner:latest',
      'quay.io/external_storage/nfs-client-provisioner:v3.1.0-k8s1.11',
      'mirror.example.test/quay/external_storage/nfs-client-provisioner:v3.1.0',
    ]) {
      expect(construct({ image })).toThrow(/image: ".*" is the abandoned .*selfLink/);
    }
  });

  test('refuses latest and untagged images', () => {
    expect(
      construct({ image: 'registry.example.test/nfs-subdir-external-provisioner:latest' }),
    ).toThrow(/image: ".*:latest" moves with every push; pin a release/);
    expect(construct({ image: 'registry.example.test/nfs-subdir-external-provisioner' })).toThrow(
      /image: ".*" has no tag/,
    );
    expect(construct({ image: 'Not An Image' })).toThrow(/image: "Not An Image" is not an image/);
  });

  test('takes a pinned image as given and a digest as a pin', () => {
    const digest = `registry.example.test/nfs@sha256:${'a'.repeat(64)}`;

    const tagged = synth({
      image: 'registry.example.test/nfs:v4.0.2',
      images: { registry: 'm.test' },
    });
    const pinned = synth({ image: digest });

    const image = (objects: K8sObject[]) =>
      containerOf(
        find(objects, 'Deployment', 'nfs-subdir-provisioner'),
        'nfs-subdir-external-provisioner',
      ).image;
    expect(image(tagged)).toBe('registry.example.test/nfs:v4.0.2');
    expect(image(pinned)).toBe(digest);
  });

  test('pulls both images through a mirror', () => {
    const objects = synth({ images: { registry: 'registry.example.test/mirror' } });

    const provisioner = find(objects, 'Deployment', 'nfs-subdir-provisioner');
    const preflight = ofKind(objects, 'DaemonSet')[0];

    expect(containerOf(provisioner, 'nfs-subdir-external-provisioner').image).toBe(
      'registry.example.test/mirror/sig-storage/nfs-subdir-external-provisioner:v4.0.2',
    );
    expect(containerOf(preflight, 'nfs-client-preflight').image).toBe(
      'registry.example.test/mirror/e2e-test-images/busybox:1.36.1-1',
    );
  });

  test('reports every bad prop at once', () => {
    let error: Error | undefined;
    try {
      synth({
        name: 'Bad_Name',
        storageClassName: 'Bad Class',
        provisionerName: 'nfs.csi.k8s.io',
        images: { registry: 'https://mirror' },
      });
    } catch (e) {
      error = e as Error;
    }

    expect(error?.message).toMatch(/name: "Bad_Name" is not a DNS label/);
    expect(error?.message).toMatch(/storageClassName: "Bad Class" is not a Kubernetes object name/);
    expect(error?.message).toMatch(/provisionerName: "nfs.csi.k8s.io" is csi-driver-nfs's name/);
    expect(error?.message).toMatch(/images.registry: "https:\/\/mirror" is not a registry host/);
  });

  test('throws without a chart namespace to bind its ServiceAccount in', () => {
    const chart = new Chart(Testing.app(), 'test');

    expect(
      () => new NfsSubdirProvisioner(chart, 'p', { export: nfs, storageClassName: 'nfs-legacy' }),
    ).toThrow(/namespace: \(not set\)/);
  });

  test('refuses two provisioners of one name in a chart', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'test', { namespace: 'storage' });
    new NfsSubdirProvisioner(chart, 'a', { export: nfs, storageClassName: 'a' });
    new NfsSubdirProvisioner(chart, 'b', { export: nfs, storageClassName: 'b', name: 'b' });

    expect(() => app.synth()).toThrow(/provisionerName: ".*" is also the name of test\/[ab]/);
  });

  describe('node preflight (field failure #36)', () => {
    test('runs on every node, reading /sbin and /usr/sbin read-only as nobody', () => {
      const objects = synth();

      const daemonSet = ofKind(objects, 'DaemonSet')[0];
      const pod = podSpec(daemonSet);
      const container = containerOf(daemonSet, 'nfs-client-preflight');

      expect(daemonSet.metadata.labels.preflight).toBe('nfs-client');
      expect(daemonSet.spec.selector.matchLabels.preflight).toBe('nfs-client');
      expect(daemonSet.spec.template.metadata.labels.preflight).toBe('nfs-client');
      expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
      expect(container.image).toBe('registry.k8s.io/e2e-test-images/busybox:1.36.1-1');
      expect(pod.volumes).toEqual(
        expect.arrayContaining([
          { name: 'host-sbin', hostPath: { path: '/sbin', type: 'Directory' } },
          { name: 'host-usr-sbin', hostPath: { path: '/usr/sbin', type: 'Directory' } },
        ]),
      );
      expect(container.volumeMounts).toEqual(
        expect.arrayContaining([
          { name: 'host-sbin', mountPath: '/host/sbin', readOnly: true },
          { name: 'host-usr-sbin', mountPath: '/host/usr/sbin', readOnly: true },
        ]),
      );
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534 });
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(container.readinessProbe.exec.command).toEqual([
        'sh',
        '/preflight/nfs-client-preflight.sh',
        '--probe',
      ]);
    });

    test('ships the script the pods run', () => {
      const objects = synth();

      const daemonSet = ofKind(objects, 'DaemonSet')[0];
      const script = ofKind(objects, 'ConfigMap').find(
        (c) => c.metadata.name === podSpec(daemonSet).volumes[0].configMap.name,
      );

      expect(containerOf(daemonSet, 'nfs-client-preflight').command).toEqual([
        'sh',
        '/preflight/nfs-client-preflight.sh',
      ]);
      expect(script?.data['nfs-client-preflight.sh']).toBe(NFS_CLIENT_PREFLIGHT_SCRIPT);
    });

    test('is left out on request', () => {
      expect(ofKind(synth({ preflight: false }), 'DaemonSet')).toEqual([]);
    });

    describe('script', () => {
      let dir: string;
      let script: string;

      beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nfs-preflight-'));
        script = path.join(dir, 'nfs-client-preflight.sh');
        fs.writeFileSync(script, NFS_CLIENT_PREFLIGHT_SCRIPT);
        for (const sub of ['host/sbin', 'host/usr/sbin']) {
          fs.mkdirSync(path.join(dir, sub), { recursive: true });
        }
      });

      afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

      const preflight = (...args: string[]) =>
        run('sh', [script, ...args], {
          env: { PATH: process.env.PATH, HOST_ROOT: path.join(dir, 'host'), NODE_NAME: 'node-1' },
          timeoutMs: 10_000,
        });

      test('passes shellcheck', async () => {
        const result = await run('shellcheck', ['--shell=sh', '--severity=style', script], {
          timeoutMs: 30_000,
        });

        expect(result.stdout + result.stderr).toBe('');
        expect(result.code).toBe(0);
      });

      test('reports a node without mount.nfs as not ready', async () => {
        const once = await preflight('--once');
        const probe = await preflight('--probe');

        expect(once.code).toBe(1);
        expect(once.stdout).toMatch(
          /^nfs-client preflight: NOT READY: node node-1 has no mount.nfs in \/sbin or \/usr\/sbin/,
        );
        expect(once.stdout).toMatch(/install nfs-common \(Debian, Ubuntu\) or nfs-utils/);
        expect(probe.code).toBe(1);
        expect(probe.stdout).toBe('');
      });

      test('reports a node with mount.nfs in /usr/sbin as ready', async () => {
        const helper = path.join(dir, 'host/usr/sbin/mount.nfs');
        fs.writeFileSync(helper, '#!/bin/sh\n', { mode: 0o755 });

        const once = await preflight('--once');
        const probe = await preflight('--probe');

        expect(once.code).toBe(0);
        expect(once.stdout).toBe(
          'nfs-client preflight: ready: node node-1 has /usr/sbin/mount.nfs;' +
            ' the kubelet can mount NFS volumes\n',
        );
        expect(probe.code).toBe(0);
      });

      test('counts a host symlink in /sbin whose target this container cannot see', async () => {
        fs.symlinkSync('/nonexistent/usr/sbin/mount.nfs', path.join(dir, 'host/sbin/mount.nfs'));

        const once = await preflight('--once');

        expect(once.code).toBe(0);
        expect(once.stdout).toMatch(/has \/sbin\/mount.nfs/);
      });

      test('ignores a mount.nfs that is not executable', async () => {
        fs.writeFileSync(path.join(dir, 'host/sbin/mount.nfs'), '', { mode: 0o644 });

        expect((await preflight('--probe')).code).toBe(1);
      });

      test('logs once, then stays quiet until the state changes', async () => {
        const logs = path.join(dir, 'out');
        const loop = run('sh', [script], {
          env: {
            PATH: process.env.PATH,
            HOST_ROOT: path.join(dir, 'host'),
            NODE_NAME: 'node-1',
            CHECK_INTERVAL: '0.2',
          },
          outputFiles: { stdout: logs, stderr: path.join(dir, 'err') },
          timeoutMs: 2_500,
        });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        fs.writeFileSync(path.join(dir, 'host/sbin/mount.nfs'), '', { mode: 0o755 });

        const result = await loop;

        const lines = result.stdout.trim().split('\n');
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(/NOT READY/);
        expect(lines[1]).toMatch(/ready: node node-1 has \/sbin\/mount.nfs/);
      });

      test('rejects an unknown argument', async () => {
        const result = await preflight('--bogus');

        expect(result.code).toBe(2);
        expect(result.stderr).toMatch(/usage: .* \[--once \| --probe\]/);
      });
    });
  });
});
