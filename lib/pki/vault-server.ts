import { createHash } from 'crypto';
import { Construct } from 'constructs';
import * as certmanager from '../../imports/cert-manager.io';
import * as k8s from '../../imports/k8s';
import { IssuerRef, toIssuerRef } from './issuer-ref';
import { SecretKeyRef } from '../harbor/common';
import { HARBOR_UID } from '../harbor/core';
import { HarborImages } from '../harbor/images';
import { readAsset } from '../private/assets';
import {
  imageRegistry,
  label,
  namespace as namespaceCheck,
  objectName,
  size,
} from '../private/checks';
import { Problems, show } from '../private/validation';
import { clusterScoped } from '../private/workload';
import { mirrorImage, pinnedImage } from '../storage/images';

/** The command-line program of the server image, which is also the server binary. */
export enum VaultCli {
  VAULT = 'vault',
  BAO = 'bao',
}

/** Where the server keeps its Raft data. */
export interface VaultStorageProps {
  /** A StorageClass of block volumes (ReadWriteOnce), not NFS. */
  readonly storageClassName: string;

  /**
   * Size of the data claim.
   * @default '10Gi'
   */
  readonly size?: string;
}

export interface VaultServerProps {
  /** Namespace of every namespaced object. */
  readonly namespace: string;

  /** Where the Raft data lives. */
  readonly storage: VaultStorageProps;

  /**
   * The cert-manager issuer of the listener certificate. Vault cannot issue its own, so this is
   * another CA, such as the self-signed CA; it must fill `ca.crt` (a CA issuer does, ACME does not).
   */
  readonly issuer: IssuerRef;

  /**
   * StorageClasses backed by NFS, which the data claim refuses.
   * @default []
   */
  readonly nfsStorageClasses?: string[];

  /**
   * Name of the StatefulSet and Service; the headless Service is `<name>-internal`, the init
   * Secret `<name>-init`.
   * @default 'vault'
   */
  readonly name?: string;

  /**
   * The server image, pinned, used as given. OpenBao's (`OPENBAO_IMAGE`) works the same way.
   * @default VAULT_IMAGE, through `images.registry` when that is set
   */
  readonly image?: string;

  /**
   * The CLI the image ships.
   * @default - VaultCli.BAO when the image's repository is `openbao`, else VaultCli.VAULT
   */
  readonly cli?: VaultCli;

  /**
   * Directory the configuration is mounted at.
   * @default - '/vault/config', or '/openbao/config' with VaultCli.BAO
   */
  readonly configDir?: string;

  /**
   * Directory the Raft data claim is mounted at.
   * @default - '/vault/data', or '/openbao/file' with VaultCli.BAO
   */
  readonly dataDir?: string;

  /**
   * Serve the web UI.
   * @default false
   */
  readonly ui?: boolean;

  /**
   * Registry host and path of a mirror that keeps upstream repository paths.
   * @default - the upstream registries
   */
  readonly images?: { readonly registry?: string };

  /**
   * Harbor's images; the init Job's Python step runs in `prepare`.
   * @default new HarborImages({ registry: images.registry })
   */
  readonly harborImages?: HarborImages;
}

/** HashiCorp Vault, as `hashicorp/vault-helm` runs it. */
export const VAULT_IMAGE = 'docker.io/hashicorp/vault:2.0.4';
/** OpenBao's Alpine image (openbao/openbao Dockerfile: config /openbao/config, data /openbao/file). */
export const OPENBAO_IMAGE = 'docker.io/openbao/openbao:2.7.1';

const API_PORT = 8200;
const CLUSTER_PORT = 8201;
const VAULT_UID = 100;
const VAULT_GID = 1000;
const TLS_DIR = '/vault/tls';
const UNSEAL_DIR = '/vault/unseal';
const SCRIPTS_DIR = '/vault/scripts';
const WORK_DIR = '/work';

/**
 * A single Vault (or OpenBao) server in the cluster, for non-production clusters only: it
 * initializes and unseals itself, which no production Vault should do.
 *
 * - The unseal key and the root token live in the Secret `<name>-init`, next to the data they
 *   protect. Anyone who can read Secrets in this namespace, or etcd and its backups, owns
 *   Vault, and with it every PKI secrets engine: they can mint certificates that nodes trust.
 * - Revoke the root token (`vault token revoke <token>`) once setup is done, and remove
 *   `root-token` from the Secret; keep the unseal key only as long as restarts must be
 *   unattended.
 * - Raft data stays on block storage, never NFS (BoltDB needs working fsync and locks).
 * - One replica, no HA: while the pod restarts or its node is down, nothing is served, and the
 *   data is lost with its volume.
 * - A one-shot Job initializes the server and unseals it the first time; an unseal sidecar
 *   in the server pod unseals it after every restart.
 * - HashiCorp Vault is under the Business Source License (BUSL 1.1); OpenBao, its fork, is
 *   under MPL 2.0. Choose the image with the licence your use allows.
 */
export class VaultServer extends Construct {
  public readonly statefulSet: k8s.KubeStatefulSet;
  public readonly service: k8s.KubeService;
  public readonly headlessService: k8s.KubeService;
  public readonly certificate: certmanager.Certificate;
  public readonly job: k8s.KubeJob;
  public readonly serviceAccount: k8s.KubeServiceAccount;
  /** `https://<name>.<namespace>.svc:8200`. */
  public readonly address: string;
  /** The CA that signed the listener certificate, in PEM: the `ca.crt` of its Secret. */
  public readonly caBundle: SecretKeyRef;
  /** Name of the Secret the init Job creates, with `unseal-key` and `root-token`. */
  public readonly initSecretName: string;
  public readonly cli: VaultCli;

  public constructor(scope: Construct, id: string, props: VaultServerProps) {
    super(scope, id);

    const problems = new Problems();
    problems.value('namespace', props.namespace, namespaceCheck);
    problems.value('name', props.name, label);
    problems.value('storage.storageClassName', props.storage.storageClassName, objectName);
    problems.value('storage.size', props.storage.size, size);
    problems.value('image', props.image, pinnedImage);
    problems.value('images.registry', props.images?.registry, imageRegistry);
    problems.value('issuer.name', props.issuer.name, objectName);
    problems.value('configDir', props.configDir, absolutePath);
    problems.value('dataDir', props.dataDir, absolutePath);
    (props.nfsStorageClasses ?? []).forEach((name, i) =>
      problems.value(`nfsStorageClasses[${i}]`, name, objectName),
    );
    if ((props.nfsStorageClasses ?? []).includes(props.storage.storageClassName)) {
      problems.add(
        'storage.storageClassName',
        `${show(props.storage.storageClassName)} is an NFS class, and Raft's BoltDB needs` +
          ' working fsync and locks; use a block StorageClass',
      );
    }
    if (props.name && props.name.length > 40) {
      problems.add('name', `${show(props.name)} is too long; use at most 40 characters`);
    }
    problems.throwIfAny('Vault server');

    const name = props.name ?? 'vault';
    const ns = props.namespace;
    const image = props.image ?? mirrorImage(VAULT_IMAGE, props.images?.registry);
    const cli = props.cli ?? cliOf(image);
    const configDir =
      props.configDir ?? (cli === VaultCli.BAO ? '/openbao/config' : '/vault/config');
    const dataDir = props.dataDir ?? (cli === VaultCli.BAO ? '/openbao/file' : '/vault/data');
    const harborImages =
      props.harborImages ?? new HarborImages({ registry: props.images?.registry });
    const labels = {
      'app.kubernetes.io/name': cli === VaultCli.BAO ? 'openbao' : 'vault',
      'app.kubernetes.io/instance': name,
      'app.kubernetes.io/managed-by': 'cdk8s-harbor',
    };
    // the init Job's pods carry the labels above too: the Services route to the server alone
    const serverLabels = { ...labels, 'app.kubernetes.io/component': 'server' };
    const internal = `${name}-internal`;
    const tlsSecret = `${name}-tls`;
    const podHost = `${name}-0.${internal}.${ns}.svc`;
    this.cli = cli;
    this.initSecretName = `${name}-init`;
    this.address = `https://${name}.${ns}.svc:${API_PORT}`;
    this.caBundle = { name: tlsSecret, key: 'ca.crt' };
    const metadata = (suffix = '') => ({ name: `${name}${suffix}`, namespace: ns, labels });

    this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: metadata(),
    });
    // Kubernetes auth checks the tokens clients present with a TokenReview
    const delegator = new k8s.KubeClusterRoleBinding(this, 'AuthDelegator', {
      metadata: { name: `${ns}-${name}-auth-delegator`, labels },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'system:auth-delegator',
      },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    });
    clusterScoped(delegator);

    this.certificate = new certmanager.Certificate(this, 'Certificate', {
      metadata: metadata('-tls'),
      spec: {
        secretName: tlsSecret,
        commonName: `${name}.${ns}.svc`,
        dnsNames: [
          name,
          `${name}.${ns}`,
          `${name}.${ns}.svc`,
          `${name}.${ns}.svc.cluster.local`,
          `${name}-0.${internal}`,
          podHost,
          `${podHost}.cluster.local`,
        ],
        // the CLI in the pod talks to 127.0.0.1 and verifies the certificate
        ipAddresses: ['127.0.0.1'],
        duration: '2160h',
        renewBefore: '360h',
        privateKey: { algorithm: certmanager.CertificateSpecPrivateKeyAlgorithm.ECDSA, size: 256 },
        usages: [
          certmanager.CertificateSpecUsages.SERVER_AUTH,
          certmanager.CertificateSpecUsages.DIGITAL_SIGNATURE,
        ],
        issuerRef: toIssuerRef(props.issuer),
      },
    });

    const hcl = serverConfig({
      nodeId: `${name}-0`,
      dataDir,
      apiAddr: this.address,
      clusterAddr: `https://${podHost}:${CLUSTER_PORT}`,
      ui: props.ui ?? false,
    });
    const unsealScript = readAsset('lib/pki/scripts/vault-unseal.sh');
    const initScript = readAsset('lib/pki/scripts/vault-init.sh');
    const storeScript = readAsset('lib/pki/scripts/store-vault-init.py');
    const config = new k8s.KubeConfigMap(this, 'Config', {
      metadata: metadata('-config'),
      data: { 'server.hcl': hcl },
    });
    const scripts = new k8s.KubeConfigMap(this, 'Scripts', {
      metadata: metadata('-scripts'),
      data: {
        'vault-init.sh': initScript,
        'vault-unseal.sh': unsealScript,
        'store-vault-init.py': storeScript,
      },
    });

    this.headlessService = new k8s.KubeService(this, 'Internal', {
      metadata: metadata('-internal'),
      spec: {
        clusterIp: 'None',
        publishNotReadyAddresses: true,
        selector: serverLabels,
        ports: [servicePort('https', API_PORT), servicePort('https-internal', CLUSTER_PORT)],
      },
    });
    this.service = new k8s.KubeService(this, 'Service', {
      metadata: metadata(),
      spec: {
        type: 'ClusterIP',
        // the init Job must reach a sealed, hence unready, pod
        publishNotReadyAddresses: true,
        selector: serverLabels,
        ports: [servicePort('https', API_PORT)],
      },
    });

    const local = cliEnv(cli, `https://127.0.0.1:${API_PORT}`, `${TLS_DIR}/ca.crt`);
    const tlsVolume = { name: 'tls', secret: { secretName: tlsSecret, defaultMode: 0o440 } };
    const configDigest = digest({ hcl, unsealScript });
    this.statefulSet = new k8s.KubeStatefulSet(this, 'Resource', {
      metadata: metadata(),
      spec: {
        replicas: 1,
        serviceName: internal,
        podManagementPolicy: 'Parallel',
        // the selector stays as first released: a StatefulSet's selector cannot change
        selector: { matchLabels: labels },
        template: {
          metadata: {
            labels: serverLabels,
            annotations: { 'cdk8s-harbor/config-digest': configDigest },
          },
          spec: {
            serviceAccountName: this.serviceAccount.name,
            // the server reviews client tokens with its own
            automountServiceAccountToken: true,
            terminationGracePeriodSeconds: 10,
            securityContext: restrictedPod(VAULT_UID, VAULT_GID, true),
            containers: [
              {
                name: cli,
                image,
                imagePullPolicy: 'IfNotPresent',
                command: ['docker-entrypoint.sh', cli, 'server', `-config=${configDir}/server.hcl`],
                env: [
                  ...local,
                  { name: 'SKIP_CHOWN', value: 'true' },
                  { name: 'SKIP_SETCAP', value: 'true' },
                  { name: 'HOME', value: '/home/vault' },
                ],
                ports: [
                  { name: 'https', containerPort: API_PORT, protocol: 'TCP' },
                  { name: 'https-internal', containerPort: CLUSTER_PORT, protocol: 'TCP' },
                ],
                // `status` exits 0 only when the server is initialized and unsealed
                readinessProbe: {
                  exec: { command: [cli, 'status'] },
                  initialDelaySeconds: 5,
                  periodSeconds: 5,
                  timeoutSeconds: 3,
                  failureThreshold: 2,
                },
                securityContext: restrictedContainer(VAULT_UID, VAULT_GID),
                resources: {
                  requests: {
                    cpu: k8s.Quantity.fromString('100m'),
                    memory: k8s.Quantity.fromString('128Mi'),
                  },
                  limits: { memory: k8s.Quantity.fromString('512Mi') },
                },
                volumeMounts: [
                  { name: 'config', mountPath: configDir, readOnly: true },
                  { name: 'data', mountPath: dataDir },
                  { name: 'tls', mountPath: TLS_DIR, readOnly: true },
                  { name: 'home', mountPath: '/home/vault' },
                ],
              },
              {
                name: 'unseal',
                image,
                imagePullPolicy: 'IfNotPresent',
                command: ['/bin/sh', `${SCRIPTS_DIR}/vault-unseal.sh`],
                env: [
                  ...local,
                  { name: 'VAULT_CLI', value: cli },
                  { name: 'UNSEAL_KEY_FILE', value: `${UNSEAL_DIR}/unseal-key` },
                  { name: 'HOME', value: '/home/vault' },
                ],
                securityContext: restrictedContainer(VAULT_UID, VAULT_GID),
                resources: {
                  requests: {
                    cpu: k8s.Quantity.fromString('5m'),
                    memory: k8s.Quantity.fromString('16Mi'),
                  },
                  limits: { memory: k8s.Quantity.fromString('64Mi') },
                },
                volumeMounts: [
                  { name: 'scripts', mountPath: SCRIPTS_DIR, readOnly: true },
                  { name: 'tls', mountPath: TLS_DIR, readOnly: true },
                  { name: 'unseal', mountPath: UNSEAL_DIR, readOnly: true },
                  { name: 'home', mountPath: '/home/vault' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: config.name } },
              { name: 'scripts', configMap: { name: scripts.name } },
              tlsVolume,
              {
                name: 'unseal',
                // absent until the init Job has run; the kubelet fills it in later
                secret: {
                  secretName: this.initSecretName,
                  optional: true,
                  defaultMode: 0o440,
                  items: [{ key: 'unseal-key', path: 'unseal-key' }],
                },
              },
              { name: 'home', emptyDir: { sizeLimit: k8s.Quantity.fromString('16Mi') } },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data', labels },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: props.storage.storageClassName,
              volumeMode: 'Filesystem',
              resources: {
                requests: { storage: k8s.Quantity.fromString(props.storage.size ?? '10Gi') },
              },
            },
          },
        ],
      },
    });

    this.job = this.initJob({
      name,
      ns,
      labels,
      image,
      cli,
      python: harborImages.prepare,
      scripts: scripts.name,
      tlsSecret,
      scriptDigest: digest({ initScript, unsealScript, storeScript, image }),
    });
  }

  /**
   * Init, store, unseal: three steps in one pod, sharing a memory-backed emptyDir, so the
   * init output never reaches a disk or a log.
   */
  private initJob(o: {
    name: string;
    ns: string;
    labels: Record<string, string>;
    image: string;
    cli: VaultCli;
    python: string;
    scripts: string;
    tlsSecret: string;
    scriptDigest: string;
  }): k8s.KubeJob {
    const name = `${o.name}-init`;
    const labels = { ...o.labels, 'app.kubernetes.io/component': 'init' };
    const metadata = { name, namespace: o.ns, labels };
    // the created Secret carries no instance label, so no GitOps tool prunes it as a stray
    const secretLabels = { 'app.kubernetes.io/managed-by': 'cdk8s-harbor-vault-init' };

    const account = new k8s.KubeServiceAccount(this, 'InitServiceAccount', {
      metadata,
      automountServiceAccountToken: false,
    });
    new k8s.KubeRole(this, 'InitRole', {
      metadata,
      rules: [
        // create, never update: an existing Secret is never overwritten
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        {
          apiGroups: [''],
          resources: ['secrets'],
          resourceNames: [this.initSecretName],
          verbs: ['get'],
        },
      ],
    });
    new k8s.KubeRoleBinding(this, 'InitRoleBinding', {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: o.ns }],
    });

    const remote = cliEnv(o.cli, this.address, `${TLS_DIR}/ca.crt`);
    const mounts = [
      { name: 'scripts', mountPath: SCRIPTS_DIR, readOnly: true },
      { name: 'work', mountPath: WORK_DIR },
    ];
    const vaultMounts = [...mounts, { name: 'ca', mountPath: TLS_DIR, readOnly: true }];
    const small = {
      requests: { cpu: k8s.Quantity.fromString('10m'), memory: k8s.Quantity.fromString('16Mi') },
      limits: { memory: k8s.Quantity.fromString('128Mi') },
    };
    const home = { name: 'HOME', value: WORK_DIR };

    // the Job's spec is immutable: new content gets a new name, which `kubectl apply` creates
    return new k8s.KubeJob(this, 'InitJob', {
      metadata: { ...metadata, name: `${name}-${o.scriptDigest}` },
      spec: {
        // no deadline: the server's pod may wait long for its volume and image
        backoffLimit: 10,
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: account.name,
            automountServiceAccountToken: true,
            // OnFailure keeps the pod and its emptyDir, so a failed store step retries with
            // the init output still there
            restartPolicy: 'OnFailure',
            securityContext: restrictedPod(VAULT_UID, VAULT_GID, false),
            initContainers: [
              {
                name: 'init',
                image: o.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['/bin/sh', `${SCRIPTS_DIR}/vault-init.sh`],
                env: [
                  ...remote,
                  home,
                  { name: 'VAULT_CLI', value: o.cli },
                  { name: 'INIT_OUTPUT', value: `${WORK_DIR}/init.json` },
                ],
                securityContext: restrictedContainer(VAULT_UID, VAULT_GID),
                resources: small,
                volumeMounts: vaultMounts,
              },
              {
                name: 'store',
                image: o.python,
                imagePullPolicy: 'IfNotPresent',
                command: ['python3', `${SCRIPTS_DIR}/store-vault-init.py`],
                env: [
                  { name: 'INIT_SECRET', value: this.initSecretName },
                  { name: 'NAMESPACE', value: o.ns },
                  { name: 'WORK_DIR', value: WORK_DIR },
                  { name: 'SECRET_LABELS', value: JSON.stringify(secretLabels) },
                ],
                // Harbor's user, in the server's group, so both read the 0640 files
                securityContext: restrictedContainer(HARBOR_UID, VAULT_GID),
                resources: small,
                volumeMounts: mounts,
              },
            ],
            containers: [
              {
                name: 'unseal',
                image: o.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['/bin/sh', `${SCRIPTS_DIR}/vault-unseal.sh`],
                env: [
                  ...remote,
                  home,
                  { name: 'VAULT_CLI', value: o.cli },
                  { name: 'UNSEAL_ONCE', value: 'true' },
                  { name: 'UNSEAL_INTERVAL', value: '5' },
                  { name: 'UNSEAL_KEY_FILE', value: `${WORK_DIR}/unseal-key` },
                ],
                securityContext: restrictedContainer(VAULT_UID, VAULT_GID),
                resources: small,
                volumeMounts: vaultMounts,
              },
            ],
            volumes: [
              { name: 'scripts', configMap: { name: o.scripts } },
              {
                name: 'work',
                emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Mi') },
              },
              {
                name: 'ca',
                secret: {
                  secretName: o.tlsSecret,
                  defaultMode: 0o444,
                  // the CA only: this pod has no business with the server's key
                  items: [{ key: 'ca.crt', path: 'ca.crt' }],
                },
              },
            ],
          },
        },
      },
    });
  }
}

interface ServerConfig {
  readonly nodeId: string;
  readonly dataDir: string;
  readonly apiAddr: string;
  readonly clusterAddr: string;
  readonly ui: boolean;
}

function serverConfig(c: ServerConfig): string {
  return [
    `ui = ${c.ui}`,
    // mlock needs IPC_LOCK, which a restricted pod drops; swap is off on Kubernetes nodes
    'disable_mlock = true',
    `api_addr = "${c.apiAddr}"`,
    `cluster_addr = "${c.clusterAddr}"`,
    '',
    'listener "tcp" {',
    `  address = "0.0.0.0:${API_PORT}"`,
    `  cluster_address = "0.0.0.0:${CLUSTER_PORT}"`,
    `  tls_cert_file = "${TLS_DIR}/tls.crt"`,
    `  tls_key_file = "${TLS_DIR}/tls.key"`,
    '}',
    '',
    'storage "raft" {',
    `  path = "${c.dataDir}"`,
    `  node_id = "${c.nodeId}"`,
    '}',
    '',
  ].join('\n');
}

/** The address and CA for both CLIs: OpenBao reads `BAO_*`, Vault `VAULT_*`. */
function cliEnv(cli: VaultCli, addr: string, caCert: string): k8s.EnvVar[] {
  const prefixes = cli === VaultCli.BAO ? ['BAO', 'VAULT'] : ['VAULT'];
  return prefixes.flatMap((prefix) => [
    { name: `${prefix}_ADDR`, value: addr },
    { name: `${prefix}_CACERT`, value: caCert },
  ]);
}

function cliOf(image: string): VaultCli {
  const repository = image.split('@')[0].split('/').pop()?.split(':')[0];
  return repository === 'openbao' ? VaultCli.BAO : VaultCli.VAULT;
}

function servicePort(name: string, port: number): k8s.ServicePort {
  return { name, port, targetPort: k8s.IntOrString.fromNumber(port), protocol: 'TCP' };
}

function restrictedPod(user: number, group: number, fsGroup: boolean): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: user,
    runAsGroup: group,
    fsGroup: fsGroup ? group : undefined,
    fsGroupChangePolicy: fsGroup ? 'OnRootMismatch' : undefined,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function restrictedContainer(user: number, group: number): k8s.SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: user,
    runAsGroup: group,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  };
}

function digest(content: unknown): string {
  return createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 8);
}

const absolutePath = (value: string): string | undefined =>
  /^(\/[A-Za-z0-9._-]+)+$/.test(value)
    ? undefined
    : 'is not an absolute directory path; use e.g. "/vault/data"';
