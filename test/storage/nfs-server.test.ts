import { Chart, Testing } from 'cdk8s';
import { NfsVersion, Squash } from '../../lib/storage/nfs-export';
import { InClusterNfsServer, InClusterNfsServerProps } from '../../lib/storage/nfs-server';
import { NfsSubdirProvisioner } from '../../lib/storage/nfs-subdir-provisioner';
import { StaticNfsVolume } from '../../lib/storage/static-nfs-volume';
import { expectValidObjects } from '../support/schema';
import { K8sObject, containerOf, find, podSpec } from '../support/synth';

const base: InClusterNfsServerProps = {
  clusterIP: '10.96.0.49',
  storage: { storageClassName: 'local-path', size: '50Gi' },
};

function setup(props: Partial<InClusterNfsServerProps> = {}): {
  chart: Chart;
  server: InClusterNfsServer;
} {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'nfs' });
  const server = new InClusterNfsServer(chart, 'server', { ...base, ...props });
  return { chart, server };
}

function synth(props: Partial<InClusterNfsServerProps> = {}): K8sObject[] {
  const objects = Testing.synth(setup(props).chart);
  expectValidObjects(objects);
  return objects;
}

describe('InClusterNfsServer', () => {
  test('runs one privileged pinned nfsd, recreated, on a block claim', () => {
    const objects = synth();

    const deployment = find(objects, 'Deployment', 'nfs-server');
    const container = containerOf(deployment, 'nfs-server');
    const claim = find(objects, 'PersistentVolumeClaim', 'nfs-server-data');

    expect(deployment.spec).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
    expect(container.image).toBe('registry.k8s.io/e2e-test-images/volume/nfs:1.4');
    expect(container.securityContext).toEqual({ privileged: true });
    expect(container.args).toEqual(['/exports']);
    expect(container.volumeMounts).toEqual([{ name: 'data', mountPath: '/exports' }]);
    expect(podSpec(deployment).volumes).toEqual([
      { name: 'data', persistentVolumeClaim: { claimName: 'nfs-server-data' } },
    ]);
    expect(claim.spec).toMatchObject({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'local-path',
      resources: { requests: { storage: '50Gi' } },
    });
  });

  test('serves NFS v4 on its fixed cluster IP', () => {
    const objects = synth();

    const service = find(objects, 'Service', 'nfs-server');
    const deployment = find(objects, 'Deployment', 'nfs-server');

    expect(service.spec).toMatchObject({
      type: 'ClusterIP',
      clusterIP: '10.96.0.49',
      ports: [{ name: 'nfs', port: 2049, targetPort: 2049, protocol: 'TCP' }],
    });
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
  });

  test('exports its root by cluster IP, for the constructs that mount it', () => {
    const { server } = setup();

    expect(server.export).toMatchObject({
      server: '10.96.0.49',
      share: '/',
      squash: Squash.NO_ROOT_SQUASH,
      version: NfsVersion.V4_1,
      mountOptions: ['nfsvers=4.1', 'hard'],
    });
    expect(
      server.exportWith({ version: NfsVersion.V4_2, mountOptions: ['noatime'] }),
    ).toMatchObject({ mountOptions: ['nfsvers=4.2', 'hard', 'noatime'] });
  });

  test('feeds a provisioner and a static volume', () => {
    const { chart, server } = setup();
    new NfsSubdirProvisioner(chart, 'provisioner', {
      export: server.export,
      storageClassName: 'nfs-demo',
    });
    new StaticNfsVolume(chart, 'volume', {
      export: server.export,
      subPath: 'registry',
      size: '10Gi',
      storageClassName: 'registry-static',
      claimName: 'harbor-registry',
    });

    const objects = Testing.synth(chart);

    expectValidObjects(objects);
    const provisioner = containerOf(
      find(objects, 'Deployment', 'nfs-subdir-provisioner'),
      'nfs-subdir-external-provisioner',
    );
    expect(provisioner.env).toEqual(
      expect.arrayContaining([
        { name: 'NFS_SERVER', value: '10.96.0.49' },
        { name: 'NFS_PATH', value: '/' },
      ]),
    );
    expect(find(objects, 'PersistentVolume', 'nfs-harbor-registry').spec.nfs).toEqual({
      server: '10.96.0.49',
      path: '/registry',
    });
  });

  test('refuses NFS v3, whose side ports the Service does not expose', () => {
    const { server } = setup();

    expect(() => server.exportWith({ version: NfsVersion.V3 })).toThrow(
      /version: "3" needs rpcbind, mountd and statd/,
    );
  });

  test('pulls its image through a mirror, or takes a pinned one as given', () => {
    const image = (objects: K8sObject[]) =>
      containerOf(find(objects, 'Deployment', 'nfs-server'), 'nfs-server').image;

    expect(image(synth({ images: { registry: 'registry.example.test/mirror' } }))).toBe(
      'registry.example.test/mirror/e2e-test-images/volume/nfs:1.4',
    );
    expect(image(synth({ image: 'registry.example.test/nfs:1.4' }))).toBe(
      'registry.example.test/nfs:1.4',
    );
    expect(() => synth({ image: 'registry.example.test/nfs:latest' })).toThrow(
      /image: ".*:latest" moves with every push/,
    );
  });

  test('throws on a cluster IP that no node could mount', () => {
    expect(() => synth({ clusterIP: 'None' })).toThrow(
      /clusterIP: "None" makes a headless Service/,
    );
    expect(() => synth({ clusterIP: 'nfs-server.nfs.svc' })).toThrow(
      /clusterIP: "nfs-server.nfs.svc" is not an IPv4 address/,
    );
    expect(() => synth({ clusterIP: '127.0.0.1' })).toThrow(
      /clusterIP: "127.0.0.1" cannot be a Service address/,
    );
  });

  test('throws on bad storage, all at once', () => {
    const make = () => synth({ storage: { storageClassName: 'Fast SSD', size: '50G' } });

    expect(make).toThrow(/storage.storageClassName: "Fast SSD" is not a Kubernetes object name/);
    expect(make).toThrow(/storage.size: "50G" is not a size/);
  });
});
