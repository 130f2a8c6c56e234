import { ApiObject, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import {
  CaBundleRef,
  DatabaseConnection,
  HarborComponentProps,
  HarborEndpoints,
  LogLevel,
  RedisConnection,
  SecretKeyRef,
} from './common';
import {
  DatabaseBackupOptions,
  HarborDatabaseBackup,
  checkBackupSource,
  checkDatabaseBackup,
} from './backup';
import { HarborCore } from './core';
import {
  HarborDatabase,
  InternalDatabase,
  InternalDatabaseOptions,
  externalConnection,
} from './database';
import { HarborExporter } from './exporter';
import { HarborImages, HarborImagesProps, checkImages } from './images';
import { ExposureType, HarborExposure, checkExposure } from './exposure';
import { HarborHttpRoute } from './http-route';
import { HarborIngress, HarborTls, checkCertificate } from './ingress';
import {
  HarborInternalTls,
  InternalTlsOptions,
  checkInternalTls,
  internalUrls,
} from './internal-tls';
import { HarborJobservice } from './jobservice';
import {
  HarborNetworkPolicies,
  HarborNetworkPolicyOptions,
  checkNetworkPolicies,
} from './network-policies';
import {
  HarborMetricsOptions,
  HarborServiceMonitor,
  checkMetrics,
  serviceMonitorOn,
} from './metrics';
import { PersistenceProps, checkPersistence } from './persistence';
import { HarborPortal } from './portal';
import { HarborRedis, InternalRedis, InternalRedisOptions, externalRedisConnection } from './redis';
import { HarborRegistry, checkRegistryReplicas } from './registry';
import { ComponentResources, checkResources } from './resources';
import { ExistingHarborSecrets, HarborSecrets } from './secrets';
import { HarborTrivy, TrivyOptions, trivyNetworking } from './trivy';
import { checkSettings } from './settings/check';
import { HarborSettingsDeclaration } from './settings/declaration';
import { HarborSettings } from './settings/settings';
import {
  dataKey,
  dnsName,
  instanceName,
  objectName,
  port,
  serverAddress,
  urlUser,
} from '../private/checks';
import { selectorLabels } from '../private/labels';
import { Problems, show } from '../private/validation';

/** Replica counts of the stateless components. */
export interface HarborReplicas {
  /** @default 1 */
  readonly core?: number;
  /** @default 1 */
  readonly portal?: number;
  /** More than one needs a ReadWriteMany registry volume. @default 1 */
  readonly registry?: number;
  /** @default 1 */
  readonly jobservice?: number;
}

/** CPU and memory of the stateless components. */
export interface HarborResources {
  /** @default - 100m, 256Mi, limit 1Gi; HA: 500m, 1Gi, limit 2Gi */
  readonly core?: ComponentResources;
  /** @default - 50m, 64Mi, limit 256Mi; HA: 100m, 128Mi, limit 256Mi */
  readonly portal?: ComponentResources;
  /** @default - 100m, 256Mi, limit 2Gi; HA: 500m, 512Mi, limit 4Gi */
  readonly registry?: ComponentResources;
  /** @default - 100m, 256Mi, limit 1Gi; HA: 250m, 512Mi, limit 2Gi */
  readonly jobservice?: ComponentResources;
}

export interface HarborProps {
  /**
   * Name of this Harbor; every object's name starts with it.
   * @default 'harbor'
   */
  readonly instance?: string;

  /** The host name users type in `docker login`; the certificate and ingress are for it. */
  readonly host: string;

  /**
   * The HTTPS port clients use, when the ingress is not on 443.
   * @default 443
   */
  readonly port?: number;

  /** Where the ingress certificate comes from. */
  readonly tls: HarborTls;

  /**
   * A Secret or ConfigMap key with the PEM CA certificates Harbor's components must trust besides the
   * public roots: the private CA of the registry itself, an OIDC provider, replication
   * targets. Core also serves it as the registry certificate download.
   * @default - public roots only
   */
  readonly caBundle?: CaBundleRef;

  /**
   * A Secret or ConfigMap key with the CA certificate the portal offers as the registry certificate.
   * @default - `caBundle` when the certificate comes from an issuer; none for a provided one
   */
  readonly caDownload?: CaBundleRef;

  /** @default - Harbor HARBOR_VERSION from docker.io */
  readonly images?: HarborImagesProps;

  /** Image blobs and manifests: a shared (NFS) class with ReadWriteMany for more replicas. */
  readonly registryStorage: PersistenceProps;

  readonly database: HarborDatabase;
  readonly redis: HarborRedis;

  /**
   * The Trivy scanner, which scans images on push where a project asks for it.
   * @default - no scanner
   */
  readonly trivy?: TrivyOptions;

  /** @default - every secret is generated in the cluster */
  readonly existingSecrets?: ExistingHarborSecrets;

  /**
   * StorageClasses backed by NFS. PostgreSQL, Redis and the Trivy cache refuse them unless
   * their `allowNfs` is set.
   * @default []
   */
  readonly nfsStorageClasses?: string[];

  /**
   * Replica counts of the stateless components.
   * @default - one of each; two of each with `highAvailability`
   */
  readonly replicas?: HarborReplicas;

  /**
   * Run every stateless component (core, portal, registry, jobservice) at least twice, spread
   * over nodes with a PodDisruptionBudget each, sized for production. It needs an external
   * PostgreSQL and Redis, since the built-in ones are single pods, and a ReadWriteMany
   * registry volume. Trivy stays one pod: a restart delays scans, never pulls or pushes.
   * @default false
   */
  readonly highAvailability?: boolean;

  /**
   * CPU and memory of the stateless components.
   * @default - small requests; larger ones with `highAvailability`
   */
  readonly resources?: HarborResources;

  /**
   * The IngressClass of the ingress-nginx controller in front of Harbor, when `exposure` is not
   * given: a short form of `HarborExposure.ingressNginx({ className })`.
   * @default 'nginx'
   */
  readonly ingressClassName?: string;

  /**
   * How Harbor is reached: an Ingress for ingress-nginx or Traefik, or a Gateway API HTTPRoute.
   * @default - HarborExposure.ingressNginx({ className: ingressClassName })
   */
  readonly exposure?: HarborExposure;

  /** @default LogLevel.INFO */
  readonly logLevel?: LogLevel;

  /**
   * A scheduled dump of Harbor's database (internal or external) to a claim, usually on the
   * NFS class, with retention.
   * @default - no backup
   */
  readonly backup?: DatabaseBackupOptions;

  /**
   * Let the portal listen on IPv6 too. Leave it off where nodes have IPv6 disabled.
   * @default false
   */
  readonly ipv6?: boolean;

  /**
   * Prometheus metrics of core, jobservice and the registry, Harbor's exporter, and optionally
   * a ServiceMonitor for the Prometheus operator.
   * @default - no metrics endpoints, no exporter
   */
  readonly metrics?: HarborMetricsOptions;

  /**
   * NetworkPolicies that deny every connection in Harbor's namespace except the ones Harbor
   * makes: client traffic from the ingress controller, the components' calls to each other,
   * DNS, and the external endpoints listed here.
   * @default - no NetworkPolicies
   */
  readonly networkPolicies?: HarborNetworkPolicyOptions;

  /**
   * HTTPS between core, portal, registry, registryctl, jobservice and Trivy, with a
   * cert-manager certificate per component, and from the ingress controller to core and the
   * portal. PostgreSQL and Redis connections are not changed by it. Harbor reads certificates
   * at start only: restart its pods after every renewal (see `InternalTlsOptions`).
   * @default - plain HTTP inside the namespace
   */
  readonly internalTls?: InternalTlsOptions;

  /**
   * Harbor's configuration as code (projects, robots and their pull Secrets, replication,
   * scanners, user settings), applied by the settings Job after every sync.
   * @default - no settings Job: Harbor is configured by hand
   */
  readonly settings?: HarborSettingsDeclaration;
}

/**
 * A complete Harbor: core, portal, registry with registryctl, jobservice, optionally Trivy,
 * PostgreSQL and Redis (built in or external), the ingress with its certificate, and the
 * in-cluster secrets Job. The external URL is derived from `host` and `port`, never given
 * separately, so it cannot disagree with the certificate or the ingress.
 */
export class Harbor extends Construct {
  public readonly instance: string;
  /** `https://host[:port]`, as Harbor advertises itself. */
  public readonly externalUrl: string;
  public readonly images: HarborImages;
  public readonly secrets: HarborSecrets;
  public readonly core: HarborCore;
  public readonly portal: HarborPortal;
  public readonly registry: HarborRegistry;
  public readonly jobservice: HarborJobservice;
  public readonly trivy?: HarborTrivy;
  public readonly database?: InternalDatabase;
  public readonly redis?: InternalRedis;
  /** How Harbor is reached, with its defaults filled in. */
  public readonly exposure: HarborExposure;
  /** The Ingress, for ingress-nginx and Traefik. */
  public readonly ingress?: HarborIngress;
  /** The HTTPRoute, for the Gateway API. */
  public readonly httpRoute?: HarborHttpRoute;
  public readonly backup?: HarborDatabaseBackup;
  /** Present when metrics are enabled. */
  public readonly exporter?: HarborExporter;
  public readonly serviceMonitor?: HarborServiceMonitor;
  /** Present when `networkPolicies` is given. */
  public readonly networkPolicies?: HarborNetworkPolicies;
  /** The component certificates, when internal TLS is on. */
  public readonly internalTls?: HarborInternalTls;
  /**
   * The CA certificate a client of core inside the cluster must trust, when internal TLS is
   * on; give it to whatever calls `coreUrl`.
   */
  public readonly internalCa?: CaBundleRef;
  /** How a pod in Harbor's namespace reaches core's API: `http://<instance>-core:80`, or https. */
  public readonly coreUrl: string;
  /** The settings Job and its document, when `settings` is given. */
  public readonly settings?: HarborSettings;

  /**
   * Every problem of the props, without building anything: malformed values, settings that
   * contradict each other, and Harbor's own rules. The constructor throws them all at once.
   */
  public static check(props: HarborProps): readonly string[] {
    const problems = new Problems();
    validate(props, problems);
    return problems.all;
  }

  public constructor(scope: Construct, id: string, props: HarborProps) {
    super(scope, id);

    const problems = new Problems();
    validate(props, problems);
    problems.throwIfAny('Harbor configuration');

    this.instance = props.instance ?? 'harbor';
    const port = props.port ?? 443;
    this.externalUrl = `https://${props.host}${port === 443 ? '' : `:${port}`}`;
    this.images = new HarborImages(props.images);
    const internalDb = props.database.internalOptions;
    const internalRedis = props.redis.internalOptions;

    this.secrets = new HarborSecrets(this, 'Secrets', {
      instance: this.instance,
      images: this.images,
      existing: props.existingSecrets,
      databasePassword: internalDb !== undefined,
    });

    let database: DatabaseConnection;
    if (internalDb) {
      this.database = new InternalDatabase(this, 'Database', {
        ...internalDb,
        instance: this.instance,
        images: this.images,
        password: this.secrets.databasePassword!,
      });
      database = this.database.connection;
    } else {
      database = externalConnection(props.database.externalOptions!);
    }

    let redis: RedisConnection;
    if (internalRedis) {
      this.redis = new InternalRedis(this, 'Redis', {
        ...internalRedis,
        instance: this.instance,
        images: this.images,
      });
      redis = this.redis.connection;
    } else {
      redis = externalRedisConnection(props.redis.externalOptions!);
    }

    const endpoints: HarborEndpoints = {
      externalUrl: this.externalUrl,
      coreService: `${this.instance}-core`,
      portalService: `${this.instance}-portal`,
      registryService: `${this.instance}-registry`,
      jobserviceService: `${this.instance}-jobservice`,
      trivyService: props.trivy ? `${this.instance}-trivy` : undefined,
      database,
      redis,
      internalTls: props.internalTls?.enabled ?? false,
    };
    this.coreUrl = internalUrls(endpoints).core;
    if (endpoints.internalTls) {
      this.internalTls = new HarborInternalTls(this, 'InternalTls', {
        ...props.internalTls!,
        instance: this.instance,
        version: this.images.version,
        endpoints,
      });
      this.internalCa = this.internalTls.caBundle;
    }
    const common: HarborComponentProps = {
      instance: this.instance,
      images: this.images,
      secrets: this.secrets.refs,
      endpoints,
      caBundle: props.caBundle,
      logLevel: props.logLevel,
    };
    const replicas = { ...(props.highAvailability ? HA_REPLICAS : {}), ...props.replicas };
    const resources = { ...(props.highAvailability ? HA_RESOURCES : {}), ...props.resources };

    // before core, which takes the CONFIG_OVERWRITE_JSON half of the user settings from it
    if (props.settings) {
      this.settings = new HarborSettings(this, 'Settings', {
        ...props.settings,
        instance: this.instance,
        registry: `${props.host}${port === 443 ? '' : `:${port}`}`,
        coreUrl: this.coreUrl,
        caBundle: this.internalCa,
        credentials: { username: 'admin', password: this.secrets.refs.adminPassword },
        images: this.images,
      });
    }
    this.core = new HarborCore(this, 'Core', {
      ...common,
      replicas: replicas.core,
      metrics: props.metrics?.enabled,
      resources: resources.core,
      // the download is the registry's own CA: a private issuer's; a commercial one needs none
      caDownload: props.caDownload ?? (props.tls.issuer ? props.caBundle : undefined),
      configOverwrite: this.settings?.overwrite,
    });
    this.portal = new HarborPortal(this, 'Portal', {
      ...common,
      replicas: replicas.portal,
      resources: resources.portal,
      ipv6: props.ipv6,
    });
    this.registry = new HarborRegistry(this, 'Registry', {
      ...common,
      storage: props.registryStorage,
      replicas: replicas.registry,
      metrics: props.metrics?.enabled,
      resources: resources.registry,
    });
    this.jobservice = new HarborJobservice(this, 'Jobservice', {
      ...common,
      replicas: replicas.jobservice,
      metrics: props.metrics?.enabled,
      resources: resources.jobservice,
    });
    if (props.trivy) {
      this.trivy = new HarborTrivy(this, 'Trivy', { ...common, ...props.trivy });
    }

    if (props.metrics?.enabled) {
      this.exporter = new HarborExporter(this, 'Exporter', {
        ...common,
        resources: props.metrics.exporterResources,
      });
    }
    if (serviceMonitorOn(props.metrics)) {
      this.serviceMonitor = new HarborServiceMonitor(this, 'ServiceMonitor', {
        ...props.metrics!.serviceMonitor,
        instance: this.instance,
        version: this.images.version,
      });
    }

    if (props.backup) {
      this.backup = new HarborDatabaseBackup(this, 'Backup', {
        ...props.backup,
        instance: this.instance,
        images: this.images,
        connection: database,
        caBundle: props.backup.caBundle ?? props.caBundle,
      });
    }

    // two instances of one name in one namespace would overwrite each other's objects
    this.node.addValidation({ validate: () => duplicateObjects(Chart.of(this)) });

    this.exposure =
      props.exposure ?? HarborExposure.ingressNginx({ className: props.ingressClassName });
    const entry = {
      instance: this.instance,
      version: this.images.version,
      host: props.host,
      tls: props.tls,
      coreService: this.core.service,
      portalService: this.portal.service,
      exposure: this.exposure,
      internalTls: endpoints.internalTls,
    };
    if (this.exposure.type === ExposureType.GATEWAY_API) {
      this.httpRoute = new HarborHttpRoute(this, 'HttpRoute', entry);
    } else {
      this.ingress = new HarborIngress(this, 'Ingress', entry);
    }

    if (props.networkPolicies) {
      const scanner = props.trivy && trivyNetworking(props.trivy, new Problems());
      this.networkPolicies = new HarborNetworkPolicies(this, 'NetworkPolicies', {
        ...props.networkPolicies,
        instance: this.instance,
        version: this.images.version,
        services: {
          core: this.core.service,
          portal: this.portal.service,
          registry: this.registry.service,
          jobservice: this.jobservice.service,
          trivy: this.trivy?.service,
          database: this.database?.service,
          redis: this.redis?.service,
        },
        externalDatabasePort: internalDb ? undefined : database.port,
        externalRedisPort: internalRedis ? undefined : redis.port,
        trivyOnline: scanner
          ? !(scanner.skipUpdate && scanner.skipJavaDbUpdate && scanner.offlineScan)
          : false,
        backup: props.backup !== undefined,
      });
      if (this.exporter) {
        this.networkPolicies.allowWorkload('exporter', selectorLabels(this.instance, 'exporter'), {
          calls: ['core', 'database', 'redis'],
          service: this.exporter.service,
        });
      }
      if (this.settings) {
        this.networkPolicies.allowWorkload('settings', selectorLabels(this.instance, 'settings'), {
          calls: ['core'],
          kubernetesApi: true,
        });
      }
    }
  }
}

/** Objects of one kind, namespace and name that a chart holds more than once. */
function duplicateObjects(chart: Chart): string[] {
  const seen = new Map<string, number>();
  for (const object of chart.node.findAll()) {
    if (!(object instanceof ApiObject)) continue;
    const key = `${object.kind} ${object.metadata.namespace ?? ''}/${object.name}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen.entries()]
    .filter(([, count]) => count > 1)
    .map(([key]) => `${key} is defined more than once; give each Harbor its own instance name`);
}

/** Records what is wrong with a Secret reference, under `field`. */
function checkRef(problems: Problems, field: string, ref: SecretKeyRef | undefined): void {
  if (!ref) return;
  problems.value(`${field}.name`, ref.name, objectName);
  problems.value(`${field}.key`, ref.key, dataKey);
}

function checkNfsPlacement(
  problems: Problems,
  field: string,
  storage: PersistenceProps,
  nfs: ReadonlySet<string>,
  allowNfs: boolean | undefined,
  why: string,
): void {
  if (nfs.has(storage.storageClassName) && !allowNfs) {
    problems.add(
      `${field}.storage.storageClassName`,
      `${show(storage.storageClassName)} is an NFS class, and ${why}; use a block` +
        ` StorageClass or set ${field}.allowNfs`,
    );
  }
}

/** The storage, resources and NFS placement of a built-in database or Redis. */
function checkInternal(
  problems: Problems,
  field: string,
  options: InternalDatabaseOptions | InternalRedisOptions | undefined,
  nfs: ReadonlySet<string>,
  why: string,
): void {
  if (!options) return;
  checkPersistence(problems, `${field}.storage`, options.storage);
  checkResources(problems, `${field}.resources`, options.resources);
  checkNfsPlacement(problems, field, options.storage, nfs, options.allowNfs, why);
}

/** Every prop that can be malformed, contradict another, or break one of Harbor's rules. */
function validate(props: HarborProps, problems: Problems): void {
  const nfs = new Set(props.nfsStorageClasses ?? []);

  problems.value('instance', props.instance ?? 'harbor', instanceName);
  problems.value('host', props.host, dnsName);
  problems.value('port', props.port, port);
  checkCertificate(problems, 'tls', props.tls);
  if (props.internalTls) checkInternalTls(problems, 'internalTls', props.internalTls);
  if (props.internalTls?.enabled && props.exposure?.type === ExposureType.GATEWAY_API) {
    // an HTTPRoute reaches an HTTPS backend only through a BackendTLSPolicy, which the
    // Gateway API release this library targets has no stable version of
    problems.add(
      'internalTls.enabled',
      'true cannot be combined with exposure gatewayApi: an HTTPRoute to an HTTPS backend' +
        ' needs a BackendTLSPolicy, which is not a stable Gateway API here; expose Harbor' +
        ' through ingress-nginx or Traefik (exposure.type nginx or traefik), or leave internalTls off',
    );
  }
  checkRef(problems, 'caBundle', props.caBundle);
  checkImages(problems, 'images', props.images ?? {});
  problems.value('ingressClassName', props.ingressClassName, objectName);
  if (props.exposure) checkExposure(problems, 'exposure', props.exposure);
  problems.check(
    props.exposure === undefined || props.ingressClassName === undefined,
    'ingressClassName',
    `${show(props.ingressClassName)} is the short form of an ingress-nginx exposure, and` +
      ' exposure is given too; set the class in the exposure (className) only',
  );
  problems.value('logLevel', props.logLevel, (level) =>
    Object.values(LogLevel).includes(level)
      ? undefined
      : `is not a log level; use one of ${Object.values(LogLevel).join(', ')}`,
  );
  (props.nfsStorageClasses ?? []).forEach((name, i) =>
    problems.value(`nfsStorageClasses[${i}]`, name, objectName),
  );

  checkPersistence(problems, 'registryStorage', props.registryStorage);
  for (const [component, count] of Object.entries(props.replicas ?? {})) {
    problems.value(`replicas.${component}`, count, (n: number) =>
      Number.isInteger(n) && n >= 1 && n <= 20 ? undefined : 'is not a whole number from 1 to 20',
    );
  }
  for (const [component, resources] of Object.entries(props.resources ?? {})) {
    checkResources(problems, `resources.${component}`, resources);
  }
  if (props.highAvailability) checkHighAvailability(problems, props);
  checkRegistryReplicas(
    problems,
    'replicas.registry',
    'registryStorage',
    props.replicas?.registry ?? (props.highAvailability ? HA_REPLICAS.registry : 1),
    props.registryStorage,
  );

  const db = props.database.internalOptions;
  checkInternal(
    problems,
    'database',
    db,
    nfs,
    'PostgreSQL on NFS fails on ownership (uid 999, mode 0700) and fsync (or use an' +
      ' external database)',
  );
  const externalDb = props.database.externalOptions;
  if (externalDb) {
    problems.value('database.host', externalDb.host, serverAddress);
    problems.value('database.port', externalDb.port, port);
    problems.value('database.database', externalDb.database, notEmpty);
    problems.value('database.username', externalDb.username, notEmpty);
    checkRef(problems, 'database.password', externalDb.password);
  }

  checkInternal(
    problems,
    'redis',
    props.redis.internalOptions,
    nfs,
    'the redis volume on NFS fails when the export squashes or re-owns uid 999 (or use an' +
      ' external Redis)',
  );
  const externalRedis = props.redis.externalOptions;
  if (externalRedis) {
    problems.value('redis.host', externalRedis.host, serverAddress);
    problems.value('redis.port', externalRedis.port, port);
    problems.value('redis.username', externalRedis.username, urlUser);
    checkRef(problems, 'redis.password', externalRedis.password);
  }

  const trivy = props.trivy;
  if (trivy) {
    checkPersistence(problems, 'trivy.storage', trivy.storage);
    checkResources(problems, 'trivy.resources', trivy.resources);
    problems.value('trivy.severities', trivy.severities, (list) =>
      list.length > 0 ? undefined : 'is empty; list at least one severity',
    );
    trivyNetworking(trivy, problems);
    checkNfsPlacement(
      problems,
      'trivy',
      trivy.storage,
      nfs,
      trivy.allowNfs,
      'the scanner cache needs no sharing',
    );
  }

  if (props.backup) checkDatabaseBackup(problems, 'backup', props.backup);
  if (props.backup && externalDb) {
    checkBackupSource(problems, 'database', externalDb, props.backup.caBundle ?? props.caBundle);
  }
  if (props.networkPolicies) {
    checkNetworkPolicies(problems, 'networkPolicies', props.networkPolicies, {
      trivy: props.trivy !== undefined,
      externalDatabase: props.database.externalOptions !== undefined,
      externalRedis: props.redis.externalOptions !== undefined,
    });
  }
  checkMetrics(problems, 'metrics', props.metrics);
  if (props.settings) {
    checkSettings(problems, 'settings', props.settings);
  }
  const front = props.exposure?.type;
  if (props.networkPolicies && !props.networkPolicies.ingressController && front) {
    problems.check(
      front === ExposureType.INGRESS_NGINX,
      'networkPolicies.ingressController',
      `is left at ingress-nginx's pods, but exposure.type is ${show(front)}: nothing would reach` +
        ' core and portal; give the namespace and pod labels of the proxy in front of Harbor',
    );
  }
  if (props.networkPolicies && props.settings) {
    checkSettingsEgress(problems, props.networkPolicies, props.settings);
  }

  const existing = props.existingSecrets ?? {};
  for (const key of SECRET_REFS) checkRef(problems, `existingSecrets.${key}`, existing[key]);
  problems.value('existingSecrets.registryCredentials', existing.registryCredentials, objectName);
  if (existing.databasePassword && !db) {
    problems.add(
      'existingSecrets.databasePassword',
      'applies to the internal database only; an external database names its password in' +
        ' database.password',
    );
  }
}

const SECRET_REFS = [
  'secretKey',
  'csrfKey',
  'coreSecret',
  'jobserviceSecret',
  'registryHttpSecret',
  'adminPassword',
  'tokenKey',
  'databasePassword',
] as const;

const notEmpty = (value: string) => (value.length > 0 ? undefined : 'is empty');

/**
 * Servers the settings make core or jobservice call outside the cluster, which the network
 * policies would cut off without an egress rule: a failure only at login or replication time.
 */
function checkSettingsEgress(
  problems: Problems,
  policies: HarborNetworkPolicyOptions,
  settings: HarborSettingsDeclaration,
): void {
  if ((policies.externalEgress ?? []).length > 0) return;
  const outside = [
    ...(settings.registries ?? []).map((r, i) => `settings.registries[${i}] (${r.url})`),
    ...(settings.scanners ?? []).map((s, i) => `settings.scanners[${i}] (${s.url})`),
    ...(settings.authentication?.oidcOptions
      ? [`settings.authentication (${settings.authentication.oidcOptions.endpoint})`]
      : []),
    ...(settings.authentication?.ldapOptions
      ? [`settings.authentication (${settings.authentication.ldapOptions.url})`]
      : []),
    ...(settings.auditLog?.forwardEndpoint
      ? [`settings.auditLog.forwardEndpoint (${settings.auditLog.forwardEndpoint})`]
      : []),
  ];
  if (outside.length === 0) return;
  problems.add(
    'networkPolicies.externalEgress',
    `is empty, so core and jobservice cannot reach ${outside.join(', ')}; list the addresses` +
      ' and ports of those servers (0.0.0.0/0 for any address)',
  );
}

const HA_REPLICAS = { core: 2, portal: 2, registry: 2, jobservice: 2 } as const;

const HA_RESOURCES: HarborResources = {
  core: { cpu: '500m', memory: '1Gi', memoryLimit: '2Gi' },
  portal: { cpu: '100m', memory: '128Mi', memoryLimit: '256Mi' },
  registry: { cpu: '500m', memory: '512Mi', memoryLimit: '4Gi' },
  jobservice: { cpu: '250m', memory: '512Mi', memoryLimit: '2Gi' },
};

/** What the HA profile needs: no single pod in the path of a pull or a push. */
function checkHighAvailability(problems: Problems, props: HarborProps): void {
  for (const [component, count] of Object.entries(props.replicas ?? {})) {
    problems.check(
      count === undefined || count >= 2,
      `replicas.${component}`,
      `${count} replica leaves no ${component} during a node drain, which highAvailability` +
        ' rules out; use 2 or more, or turn highAvailability off',
    );
  }
  problems.check(
    props.database.externalOptions !== undefined,
    'database.type',
    '"internal" is a single PostgreSQL pod, which highAvailability rules out; use an external' +
      ' (replicated) PostgreSQL with type external',
  );
  problems.check(
    props.redis.externalOptions !== undefined,
    'redis.type',
    '"internal" is a single Redis pod, which highAvailability rules out; use an external' +
      ' (replicated) Redis with type external',
  );
}
