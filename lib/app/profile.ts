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
  tls: { type: 'selfSigned', duration: '2160h', renewBefore: '720h' },
  ingressClassName: 'nginx',
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
} as const;
