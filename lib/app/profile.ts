/**
 * The built-in non-production profile: what `npm run synth` writes with no configuration file.
 * A configuration file overrides any part of it.
 */
export const DEFAULT_CONFIG = {
  instance: 'harbor',
  namespace: 'harbor',
  host: 'harbor.example.test',
  logLevel: 'info',
  ipv6: false,
  images: { version: 'v2.15.2' },
  // a Vault in the cluster holds the private chain; cert-manager has it sign Harbor's certificate
  tls: {
    type: 'vault',
    inClusterServer: { namespace: 'vault', storage: { storageClassName: 'standard', size: '5Gi' } },
    setup: {},
    maxDuration: '2160h',
    duration: '2160h',
    renewBefore: '720h',
  },
  // trust-manager publishes the root to Harbor and to every node's container runtime
  trust: { trustNamespace: 'cert-manager', nodes: {} },
  registryStorage: { storageClassName: 'nfs-csi', size: '50Gi', accessMode: 'ReadWriteMany' },
  nfs: {
    type: 'csiDriverNfs',
    namespace: 'csi-nfs',
    storageClassName: 'nfs-csi',
    onDelete: 'retain',
    export: { server: 'nfs.example.test', share: '/exports/harbor', squash: 'root_squash' },
  },
  nfsStorageClasses: [],
  // placeholders: name your repository, or set argocd to null for kubectl alone
  argocd: {
    repoURL: 'https://git.example.test/platform/gitops.git',
    targetRevision: 'main',
    path: 'clusters/example/harbor',
  },
  database: { type: 'internal', storage: { storageClassName: 'standard', size: '5Gi' } },
  redis: { type: 'internal', storage: { storageClassName: 'standard', size: '1Gi' } },
  trivy: { enabled: true, storage: { storageClassName: 'standard', size: '5Gi' } },
  backup: {
    enabled: true,
    storage: { storageClassName: 'nfs-csi', size: '20Gi', accessMode: 'ReadWriteMany' },
    schedule: '30 2 * * *',
    retain: 14,
  },
  replicas: {},
  existingSecrets: {},
  // Harbor's own settings, applied by the settings Job: a private project that scans every
  // push and serves only cosign-signed images, and a robot CI pipelines push and sign with
  settings: {
    projects: [{ name: 'apps', scanOnPush: true, signatures: ['cosign'] }],
    robots: [
      {
        name: 'ci',
        level: { project: 'apps' },
        permissions: ['push'],
        description: 'CI pipelines push and sign images in apps',
      },
    ],
  },
} as const;
