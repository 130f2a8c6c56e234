import { K8sObject, synthApp } from './support/synth';

const EXPORT = { server: 'nfs.example.test', share: '/exports/harbor', squash: 'root_squash' };

/**
 * Pods that cannot meet Pod Security "restricted", and why; the README names the same. They run
 * in the NFS driver's namespace or the node trust namespace, both labelled privileged, never in
 * Harbor's.
 */
const EXCEPTIONS: Record<string, string> = {
  'csi-nfs-controller': 'the NFS plugin mounts shares for the kubelet: privileged, host network',
  'csi-nfs-node': 'the NFS plugin mounts into the kubelet directory: privileged, host paths',
  'nfs-subdir-provisioner-nfs-client-preflight': 'reads the host /sbin for mount.nfs',
  'nfs-subdir-provisioner': 'creates and removes claim directories on the share as root',
  'nfs-server': "the demo server runs the kernel's nfsd: privileged",
  'harbor-node-trust': "writes the registry's CA into the nodes' /etc as root: host paths",
};

function podsOf(objects: K8sObject[]): Array<{ name: string; namespace: string; pod: K8sObject }> {
  return objects.flatMap((o) => {
    const pod = o.spec?.template?.spec ?? o.spec?.jobTemplate?.spec?.template?.spec;
    return pod ? [{ name: o.metadata.name, namespace: o.metadata.namespace, pod }] : [];
  });
}

/** What Pod Security "restricted" (Kubernetes 1.27+) would refuse in a pod, in words. */
function restrictedViolations(pod: K8sObject): string[] {
  const found: string[] = [];
  const podContext = pod.securityContext ?? {};
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) found.push('host namespaces');
  for (const volume of pod.volumes ?? []) {
    const allowed = ['configMap', 'secret', 'emptyDir', 'persistentVolumeClaim', 'projected'];
    if (!Object.keys(volume).some((k) => allowed.includes(k))) found.push(`volume ${volume.name}`);
  }
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    const context = c.securityContext ?? {};
    if (context.privileged) found.push(`${c.name} privileged`);
    if (context.allowPrivilegeEscalation !== false) found.push(`${c.name} may escalate`);
    if ((context.runAsNonRoot ?? podContext.runAsNonRoot) !== true) found.push(`${c.name} as root`);
    if ((context.runAsUser ?? podContext.runAsUser) === 0) found.push(`${c.name} uid 0`);
    if (!(context.capabilities?.drop ?? []).includes('ALL')) found.push(`${c.name} keeps caps`);
    const added = (context.capabilities?.add ?? []).filter(
      (cap: string) => cap !== 'NET_BIND_SERVICE',
    );
    if (added.length > 0) found.push(`${c.name} adds ${added.join(',')}`);
    const seccomp = context.seccompProfile?.type ?? podContext.seccompProfile?.type;
    if (!['RuntimeDefault', 'Localhost'].includes(seccomp)) found.push(`${c.name} seccomp`);
  }
  return found;
}

/**
 * The files of Secret and ConfigMap volumes a container cannot read: the kubelet gives them to
 * root, and to the pod's fsGroup only when it has one, so a non-root user without an fsGroup
 * reads only world-readable modes.
 */
function unreadableFiles(pod: K8sObject): string[] {
  const podContext = pod.securityContext ?? {};
  const volumes = new Map<string, K8sObject>(
    (pod.volumes ?? []).map((v: K8sObject) => [v.name, v]),
  );
  const found: string[] = [];
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    const user = c.securityContext?.runAsUser ?? podContext.runAsUser;
    if (user === undefined || user === 0) continue;
    for (const mount of c.volumeMounts ?? []) {
      const source = volumes.get(mount.name)?.secret ?? volumes.get(mount.name)?.configMap;
      if (!source) continue;
      for (const mode of [
        source.defaultMode ?? 0o644,
        ...(source.items ?? []).map((i: K8sObject) => i.mode),
      ]) {
        if (mode === undefined) continue;
        const readable =
          (mode & 0o004) !== 0 || (podContext.fsGroup !== undefined && (mode & 0o040) !== 0);
        if (!readable) found.push(`${c.name} ${mount.mountPath} (mode ${mode.toString(8)})`);
      }
    }
  }
  return found;
}

describe('Pod Security', () => {
  const variants: Record<string, Record<string, unknown>> = {
    'the built-in profile': {},
    'nfs-subdir with its preflight': { nfs: { type: 'nfsSubdir', export: EXPORT } },
    'a demo NFS server': {
      nfs: {
        export: null,
        inClusterServer: {
          clusterIP: '10.96.200.10',
          storage: { storageClassName: 'standard', size: '1Gi' },
        },
      },
    },
    'external services, replicas': {
      database: { type: 'external', host: 'pg.example.test', password: { name: 'p', key: 'k' } },
      redis: { type: 'external', host: 'redis.example.test' },
      replicas: { core: 2, portal: 2, registry: 2, jobservice: 2 },
    },
    'a CA bundle from a Secret, an external database backed up over verify-full': {
      trust: null,
      caBundle: { name: 'corporate-ca', key: 'ca.crt' },
      database: {
        type: 'external',
        host: 'pg.example.test',
        sslMode: 'verify-full',
        password: { name: 'p', key: 'k' },
      },
    },
    'metrics, internal TLS, network policies, user settings through the environment': {
      metrics: { enabled: true },
      internalTls: { enabled: true },
      networkPolicies: {
        enabled: true,
        externalEgress: [{ cidrs: ['192.0.2.0/24'], ports: [443] }],
      },
      settings: {
        userSettingsVia: 'environment',
        authentication: {
          type: 'oidc',
          name: 'idp',
          endpoint: 'https://idp.example.test',
          clientId: 'harbor',
          clientSecret: { name: 'harbor-oidc', key: 'secret' },
        },
      },
    },
  };

  test.each(Object.entries(variants))(
    'every pod of %s is restricted or a named exception',
    (_, o) => {
      for (const { name, namespace, pod } of podsOf(synthApp(o).objects)) {
        const violations = restrictedViolations(pod);
        if (name in EXCEPTIONS) {
          // an exception must really need it, and must stay out of Harbor's namespace
          expect([name, violations.length > 0]).toEqual([name, true]);
          expect(namespace).not.toBe('harbor');
        } else {
          expect([name, violations]).toEqual([name, []]);
        }
      }
    },
  );

  test.each(Object.entries(variants))(
    'every file a pod of %s mounts is readable by its user',
    (_, o) => {
      for (const { name, pod } of podsOf(synthApp(o).objects)) {
        expect([name, unreadableFiles(pod)]).toEqual([name, []]);
      }
    },
  );

  test('labels the driver and node trust namespaces privileged, and Harbor is not in them', () => {
    const { objects } = synthApp();

    const namespaces = objects.filter((o) => o.kind === 'Namespace');
    const labels = Object.fromEntries(namespaces.map((n) => [n.metadata.name, n.metadata.labels]));

    expect(labels['csi-nfs']['pod-security.kubernetes.io/enforce']).toBe('privileged');
    expect(labels['harbor-node-trust']['pod-security.kubernetes.io/enforce']).toBe('privileged');
    expect(labels.vault['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(labels.harbor['pod-security.kubernetes.io/enforce']).toBeUndefined();
  });
});
