import * as path from 'path';
import { ApiObject, App, Chart, YamlOutputType } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { HarborConfig } from './config';
import { checkExposureConfig, exposureOf } from './exposure';
import {
  ArgoCdApplications,
  ArgoCdRootApplication,
  DeliveryArea,
  checkArgoCdSource,
} from '../delivery/argocd';
import { LogLevel } from '../harbor/common';
import { HarborDatabase, DatabaseSslMode } from '../harbor/database';
import { Harbor, HarborProps } from '../harbor/harbor';
import { CaBundleRef } from '../harbor/common';
import { HarborTls } from '../harbor/ingress';
import { AccessMode } from '../harbor/persistence';
import { HarborNetworkPolicies, HarborNetworkPolicyOptions } from '../harbor/network-policies';
import { HarborRedis } from '../harbor/redis';
import { TrivySeverity } from '../harbor/trivy';
import { IssuerKind } from '../pki/issuer-ref';
import { certManagerInstall } from '../pki/issuer-ref';
import { SelfSignedCa } from '../pki/self-signed-ca';
import { VaultPkiSetup } from '../pki/vault-pki-setup';
import { PkiResult, buildPki } from './pki';
import { settingsOf } from './settings';
import { Problems, show } from '../private/validation';
import { clusterScoped } from '../private/workload';
import { CsiDriverNfs, OnDelete } from '../storage/csi-driver-nfs';
import { NfsExport, NfsExportProps, NfsVersion, Squash } from '../storage/nfs-export';
import { InClusterNfsServer } from '../storage/nfs-server';
import { NfsSubdirProvisioner } from '../storage/nfs-subdir-provisioner';
import { StaticNfsVolume } from '../storage/static-nfs-volume';

/** The shared storage the app set up, as Harbor sees it. */
interface SharedStorage {
  readonly chart: Chart;
  readonly storageClassName: string;
  /**
   * Whether the kubelet may hand the registry's volume to its group: only csi-driver-nfs
   * volumes honour fsGroup, and only when the export keeps root.
   */
  readonly fsGroup: boolean;
}

/** Namespaces that exist in every cluster, which the storage chart must not redefine. */
const EXISTING_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/**
 * The NFS provisioner (or static volume) a configuration asks for, in a chart of its own that
 * is applied first. Problems are recorded, prefixed with `nfs.`, rather than thrown.
 */
function buildStorage(
  app: App,
  config: HarborConfig,
  problems: Problems,
): SharedStorage | undefined {
  const nfs = config.nfs;
  if (nfs.type === 'none') return undefined;
  const chart = new Chart(app, 'storage', {
    namespace: nfs.type === 'static' ? undefined : nfs.namespace,
    disableResourceNameHashes: true,
  });
  const capture = <T>(build: () => T, prefix = 'nfs.'): T | undefined =>
    problems.capture(prefix, build);

  problems.check(
    config.registryStorage.storageClassName === nfs.storageClassName,
    'registryStorage.storageClassName',
    `${show(config.registryStorage.storageClassName)} is not the class nfs provides,` +
      ` ${show(nfs.storageClassName)}, which would then serve nothing; name it here, or set` +
      ' nfs.type none',
  );
  if (nfs.type === 'static') {
    const exported = checkedExport(exportProps(nfs.export), problems);
    if (exported) {
      capture(
        () =>
          new StaticNfsVolume(chart, 'RegistryVolume', {
            export: exported,
            subPath: nfs.subPath,
            size: config.registryStorage.size,
            storageClassName: nfs.storageClassName,
            claimNamespace: config.namespace,
            claimName: `${config.instance}-registry`,
          }),
      );
    }
    // an in-tree NFS volume ignores fsGroup: the export's options decide ownership alone
    return { chart, storageClassName: nfs.storageClassName, fsGroup: false };
  }

  problems.check(
    (nfs.export === undefined) !== (nfs.inClusterServer === undefined),
    'nfs',
    'needs exactly one of export (a server that exists) and inClusterServer (a demo server)',
  );
  problems.check(
    nfs.namespace !== config.namespace,
    'nfs.namespace',
    `${show(nfs.namespace)} is Harbor's namespace too, whose pods must stay unprivileged; give` +
      ' the NFS driver a namespace of its own',
  );
  if (!EXISTING_NAMESPACES.includes(nfs.namespace)) {
    const namespace = new kplus.Namespace(chart, 'Namespace', {
      metadata: {
        name: nfs.namespace,
        // the driver mounts for the kubelet: its pods need host paths and privileges
        labels: { 'pod-security.kubernetes.io/enforce': 'privileged' },
      },
    });
    // the chart's namespace is for what runs inside it
    clusterScoped(ApiObject.of(namespace));
  }
  let exported: NfsExport | undefined;
  if (nfs.inClusterServer) {
    problems.check(
      nfs.inClusterServer.storage.storageClassName !== nfs.storageClassName,
      'nfs.inClusterServer.storage.storageClassName',
      `${show(nfs.storageClassName)} is the class this server provides; it cannot keep its own` +
        ' data there, so use a block StorageClass',
    );
    const server = capture(
      () =>
        new InClusterNfsServer(chart, 'NfsServer', {
          ...nfs.inClusterServer!,
          images: { registry: config.images.registry },
        }),
      'nfs.inClusterServer.',
    );
    exported = server?.export;
  } else if (nfs.export) {
    exported = checkedExport(exportProps(nfs.export), problems);
  }
  if (!exported) return undefined;

  if (nfs.type === 'csiDriverNfs') {
    const driver = capture(
      () =>
        new CsiDriverNfs(chart, 'CsiDriverNfs', {
          namespace: nfs.namespace,
          kubeletDir: nfs.kubeletDir,
          images: { registry: config.images.registry },
        }),
    );
    capture(() =>
      driver?.addStorageClass('StorageClass', {
        name: nfs.storageClassName,
        export: exported!,
        subDir: nfs.subDir,
        onDelete: nfs.onDelete as OnDelete | undefined,
        mountPermissions: nfs.mountPermissions,
      }),
    );
  } else {
    capture(
      () =>
        new NfsSubdirProvisioner(chart, 'NfsSubdirProvisioner', {
          images: { registry: config.images.registry },
          export: exported!,
          storageClassName: nfs.storageClassName,
          onDelete: nfs.onDelete as OnDelete | undefined,
          pathPattern: nfs.pathPattern,
          preflight: nfs.preflight,
        }),
    );
  }
  return {
    chart,
    storageClassName: nfs.storageClassName,
    fsGroup: nfs.type === 'csiDriverNfs' && exported.squash === Squash.NO_ROOT_SQUASH,
  };
}

/** The export, or undefined after recording its problems under `nfs.export.`. */
function checkedExport(props: NfsExportProps, problems: Problems): NfsExport | undefined {
  const found = NfsExport.check(props, 'nfs.export.');
  problems.addAll(found);
  return found.length === 0 ? new NfsExport(props) : undefined;
}

function exportProps(
  config: NonNullable<Extract<HarborConfig['nfs'], { type: 'static' }>['export']>,
): NfsExportProps {
  return {
    ...config,
    squash: config.squash as Squash,
    version: config.version as NfsVersion | undefined,
  };
}

/**
 * Argo CD Applications for the charts, in waves: storage, then the namespace and issuers, then
 * Harbor, whose own issuers and certificates sync in an earlier wave than its workloads.
 */
const SYNC_WAVE = 'argocd.argoproj.io/sync-wave';

function deliverWithArgoCd(
  app: App,
  config: HarborConfig,
  namespaceChart: Chart,
  harborChart: Chart,
  storage: SharedStorage | undefined,
  pki: PkiResult,
): App {
  const source = config.argocd!;
  const pkiChart = pki.charts.find((chart) => chart.node.id === 'pki');
  const vaultChart = pki.charts.find((chart) => chart.node.id === 'vault');
  const harborFiles = ['*-harbor.k8s.yaml', ...(pkiChart ? [] : ['*-namespace.k8s.yaml'])];
  const area = (name: string, files: string[], namespace: string, wave: number) => ({
    name,
    files,
    namespace,
    wave,
  });
  const areas: DeliveryArea[] = [
    ...(storage
      ? [
          area(
            `${config.instance}-storage`,
            ['*-storage.k8s.yaml'],
            'namespace' in config.nfs ? config.nfs.namespace : config.namespace,
            0,
          ),
        ]
      : []),
    ...(vaultChart
      ? [area(`${config.instance}-vault`, ['*-vault.k8s.yaml'], vaultChart.namespace!, 1)]
      : []),
    ...(pkiChart
      ? [
          area(
            `${config.instance}-pki`,
            ['*-namespace.k8s.yaml', '*-pki.k8s.yaml'],
            config.namespace,
            vaultChart ? 2 : 1,
          ),
        ]
      : []),
    area(config.instance, harborFiles, config.namespace, pkiChart && vaultChart ? 3 : 2),
    ...pki.companions.map((chart) =>
      area(
        `${config.instance}-${chart.node.id}`,
        [`*-${chart.node.id}.k8s.yaml`],
        chart.namespace!,
        pkiChart && vaultChart ? 3 : 2,
      ),
    ),
  ];
  const charts = [harborChart, namespaceChart, ...pki.charts, ...pki.companions];
  for (const object of charts.flatMap((chart) => chart.node.findAll())) {
    if (!(object instanceof ApiObject)) continue;
    // the namespace first, wherever its file is synced; then issuers and certificates
    if (object.kind === 'Namespace') object.metadata.addAnnotation(SYNC_WAVE, '-2');
    if (['Issuer', 'ClusterIssuer', 'Certificate'].includes(object.kind)) {
      object.metadata.addAnnotation(SYNC_WAVE, '-1');
    }
    // the Application-level option alone has not always spared a CR whose CRD is still missing
    if (isCustomResource(object)) skipDryRunWhenMissing(object);
  }

  // a folder of their own: kubectl -f and the areas' directory sources do not descend into it
  const argoApp = new App({
    outdir: path.join(app.outdir, ARGOCD_FOLDER),
    yamlOutputType: YamlOutputType.FILE_PER_CHART,
  });
  const apps = new Chart(argoApp, 'apps', { disableResourceNameHashes: true });
  new ArgoCdApplications(apps, 'Applications', { ...source, areas });
  const root = new Chart(argoApp, 'root', { disableResourceNameHashes: true });
  new ArgoCdRootApplication(root, 'Root', {
    ...source,
    path: `${source.path}/${ARGOCD_FOLDER}`,
    name: `${config.instance}-apps`,
  });
  return argoApp;
}

/** API groups Kubernetes serves itself; every other group is a CustomResourceDefinition's. */
const BUILT_IN_GROUPS = new Set([
  '',
  'apps',
  'batch',
  'policy',
  'autoscaling',
  'networking.k8s.io',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'node.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'certificates.k8s.io',
]);

function isCustomResource(object: ApiObject): boolean {
  const slash = object.apiVersion.indexOf('/');
  return !BUILT_IN_GROUPS.has(slash < 0 ? '' : object.apiVersion.slice(0, slash));
}

/** Adds `SkipDryRunOnMissingResource=true` to an object's Argo CD sync options. */
function skipDryRunWhenMissing(object: ApiObject): void {
  const key = 'argocd.argoproj.io/sync-options';
  const existing: string | undefined = object.metadata.toJson().annotations?.[key];
  const option = 'SkipDryRunOnMissingResource=true';
  if (existing?.split(',').includes(option)) return;
  object.metadata.addAnnotation(key, existing ? `${existing},${option}` : option);
}

/** The sub-folder of the output that holds the Argo CD Applications. */
export const ARGOCD_FOLDER = 'argocd';

/** What the app built, for its summary and for tests. */
export interface Stack {
  readonly app: App;
  readonly harbor: Harbor;
  /** The issuers, Vault, the trust bundle and node trust. */
  readonly pki: PkiResult;
  readonly ca?: SelfSignedCa;
  /** The Argo CD Applications, written to their own sub-folder. */
  readonly argocd?: App;
}

/** Every StorageClass backed by NFS, which databases refuse. */
function nfsClasses(config: HarborConfig, storage?: SharedStorage): string[] {
  return [...(storage ? [storage.storageClassName] : []), ...config.nfsStorageClasses];
}

/**
 * Robots' pull Secrets go to the namespaces of the pods that pull, never to one that belongs to
 * Kubernetes or to another part of this platform, whose objects another Application owns.
 */
function checkPullSecretNamespaces(config: HarborConfig, problems: Problems): void {
  const install = certManagerInstall(config.certManager);
  const owners = new Map<string, string>([
    ['kube-system', 'a namespace Kubernetes owns'],
    ['kube-public', 'a namespace Kubernetes owns'],
    ['kube-node-lease', 'a namespace Kubernetes owns'],
    [install.namespace, "cert-manager's namespace"],
    [install.clusterResourceNamespace, "cert-manager's cluster resource namespace"],
    [config.trust?.trustNamespace ?? 'cert-manager', "trust-manager's trust namespace"],
  ]);
  if ('namespace' in config.nfs) owners.set(config.nfs.namespace, "the NFS driver's namespace");
  if (config.tls.type === 'vault' && config.tls.inClusterServer) {
    owners.set(config.tls.inClusterServer.namespace ?? 'vault', "the Vault server's namespace");
  }
  if (config.trust?.nodes) {
    owners.set(
      config.trust.nodes.namespace ?? `${config.instance}-node-trust`,
      'the node trust namespace',
    );
  }
  (config.settings?.robots ?? []).forEach((robot, i) => {
    (robot.pullSecret?.namespaces ?? []).forEach((namespace, j) => {
      const owner = owners.get(namespace);
      problems.check(
        owner === undefined,
        `settings.robots[${i}].pullSecret.namespaces[${j}]`,
        `${show(namespace)} is ${owner}; list the namespaces of the pods that pull`,
      );
    });
  });
}

/** The NetworkPolicy options, when the configuration turns them on. */
function networkPolicyOptions(config: HarborConfig): HarborNetworkPolicyOptions | undefined {
  if (!config.networkPolicies?.enabled) return undefined;
  const { enabled: _enabled, ...options } = config.networkPolicies;
  const tls = config.tls;
  // through a Gateway, the solver runs in the Gateway's namespace: here only if that is Harbor's
  const http01 = tls.type === 'acme' && tls.dns01 === undefined;
  const exposure = config.exposure;
  const solverHere =
    exposure?.type !== 'gatewayApi' || exposure.gateway.namespace === config.namespace;
  return { ...options, acmeHttp01Solvers: http01 && solverHere };
}

/**
 * The Vault PKI setup Job runs in Harbor's namespace when Vault is outside the cluster (an
 * in-cluster server keeps it in Vault's namespace), and then needs its own way out.
 */
function allowVaultSetup(policies: HarborNetworkPolicies, pki: PkiResult, namespace: string): void {
  const setups = pki.charts
    .filter((chart) => chart.namespace === namespace)
    .flatMap((chart) => chart.node.findAll())
    .filter((c): c is VaultPkiSetup => c instanceof VaultPkiSetup);
  for (const setup of setups) {
    const labels = Object.fromEntries(
      ['app.kubernetes.io/name', 'app.kubernetes.io/instance'].map((key) => [
        key,
        setup.job.podMetadata.getLabel(key)!,
      ]),
    );
    policies.allowVaultSetup('vault-pki-setup', labels, setup.environment.VAULT_ADDR);
  }
}

/** The props of the Harbor construct that a configuration describes. */
function harborProps(
  config: HarborConfig,
  pki: { tls: HarborTls; caBundle?: CaBundleRef },
  storage?: SharedStorage,
): HarborProps {
  const db = config.database;
  const redis = config.redis;
  const trivy = config.trivy;
  // a squashed root cannot chgrp, so on such an export the kubelet must not try
  const fsGroupOn = (volume: { storageClassName: string }) =>
    storage?.storageClassName !== volume.storageClassName || storage.fsGroup;
  const withMode = <T extends { accessMode?: string }>(storage: T) => ({
    ...storage,
    accessMode: storage.accessMode as AccessMode | undefined,
  });
  return {
    instance: config.instance,
    host: config.host,
    port: config.port,
    tls: pki.tls,
    internalTls: config.internalTls?.enabled
      ? {
          ...config.internalTls,
          issuer: config.internalTls.issuer && {
            ...config.internalTls.issuer,
            kind: config.internalTls.issuer.kind as IssuerKind | undefined,
          },
        }
      : undefined,
    caBundle: pki.caBundle,
    images: config.images,
    registryStorage: {
      ...withMode(config.registryStorage),
      fsGroup: fsGroupOn(config.registryStorage),
    },
    nfsStorageClasses: nfsClasses(config, storage),
    database:
      db.type === 'internal'
        ? HarborDatabase.internal({ ...db, storage: withMode(db.storage) })
        : HarborDatabase.external({ ...db, sslMode: db.sslMode as DatabaseSslMode | undefined }),
    redis:
      redis.type === 'internal'
        ? HarborRedis.internal({ ...redis, storage: withMode(redis.storage) })
        : HarborRedis.external(redis),
    trivy: trivy.enabled
      ? {
          ...trivy,
          storage: withMode(trivy.storage),
          severities: trivy.severities as TrivySeverity[] | undefined,
        }
      : undefined,
    existingSecrets: config.existingSecrets,
    replicas: config.replicas,
    highAvailability: config.highAvailability,
    settings: config.settings && settingsOf(config.settings),
    resources: config.resources,
    exposure: exposureOf(config),
    logLevel: config.logLevel as LogLevel,
    ipv6: config.ipv6,
    metrics: config.metrics,
    networkPolicies: networkPolicyOptions(config),
    backup: config.backup.enabled
      ? {
          ...config.backup,
          storage: {
            ...withMode(config.backup.storage),
            fsGroup: fsGroupOn(config.backup.storage),
          },
        }
      : undefined,
  };
}

/**
 * Composes the whole platform from a validated configuration. Charts depend on each other in
 * apply order, so cdk8s numbers the files and `kubectl apply -f dist/` follows them.
 */
export function buildStack(config: HarborConfig, outdir: string, source = 'configuration'): Stack {
  const app = new App({ outdir, yamlOutputType: YamlOutputType.FILE_PER_CHART });
  const namespace = config.namespace;
  const problems = new Problems();

  const storage = buildStorage(app, config, problems);
  const base = new Chart(app, 'namespace', { disableResourceNameHashes: true });
  if (storage) base.addDependency(storage.chart);
  const harborNamespace = new kplus.Namespace(base, 'Namespace', {
    metadata: {
      name: namespace,
      labels: { 'app.kubernetes.io/part-of': 'harbor' },
      // deleting the Argo CD Application must not take the data claims and Secrets with it
      annotations: { 'argocd.argoproj.io/sync-options': 'Delete=false' },
    },
  });

  const pki = buildPki(app, config, base, nfsClasses(config, storage), problems);
  // the bundle's ConfigMap reaches the namespaces that carry its label
  for (const [key, value] of Object.entries(pki?.trustBundle?.namespaceLabels ?? {})) {
    ApiObject.of(harborNamespace).metadata.addLabel(key, value);
  }
  // a placeholder keeps Harbor's own checks running when the chain has problems of its own
  const chain = pki ?? { tls: HarborTls.fromSecret(`${config.instance}-tls`) };
  problems.addAll(Harbor.check(harborProps(config, chain, storage)));
  checkExposureConfig(config, chain.tls, problems);
  if (config.argocd) problems.addAll(checkArgoCdSource(config.argocd));
  checkPullSecretNamespaces(config, problems);
  problems.throwIfAny(`configuration in ${source}`);

  const chart = new Chart(app, 'harbor', { namespace, disableResourceNameHashes: true });
  chart.addDependency(pki!.charts[pki!.charts.length - 1] ?? base);
  for (const companion of pki!.companions) companion.addDependency(chart);
  // what only the built objects show, such as two robots writing one Secret, is reported alike
  const built = problems.capture(
    '',
    () => new Harbor(chart, 'Harbor', harborProps(config, pki!, storage)),
  );
  problems.throwIfAny(`configuration in ${source}`);
  const harbor = built!;
  if (harbor.networkPolicies) allowVaultSetup(harbor.networkPolicies, pki!, namespace);
  const argocd = config.argocd
    ? deliverWithArgoCd(app, config, base, chart, storage, pki!)
    : undefined;

  return { app, harbor, pki: pki!, ca: pki!.selfSignedCa, argocd };
}
