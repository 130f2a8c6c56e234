import { Construct } from 'constructs';
import {
  DatabaseConnection,
  HarborComponentProps,
  HarborEndpoints,
  LogLevel,
  RedisConnection,
  SecretKeyRef,
} from './common';
import { HarborCore } from './core';
import { HarborDatabase, InternalDatabase, externalConnection } from './database';
import { HarborImages, HarborImagesProps } from './images';
import { HarborIngress, HarborTls } from './ingress';
import { HarborJobservice } from './jobservice';
import { PersistenceProps, isShared } from './persistence';
import { HarborPortal } from './portal';
import { HarborRedis, InternalRedis, externalRedisConnection } from './redis';
import { HarborRegistry } from './registry';
import { ExistingHarborSecrets, HarborSecrets } from './secrets';
import { HarborTrivy, TrivyOptions } from './trivy';
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
   * A Secret key with the PEM CA certificates Harbor's components must trust besides the
   * public roots: the private CA of the registry itself, an OIDC provider, replication
   * targets. Core also serves it as the registry certificate download.
   * @default - public roots only
   */
  readonly caBundle?: SecretKeyRef;

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

  /** @default - one of each */
  readonly replicas?: HarborReplicas;

  /**
   * The IngressClass of the ingress-nginx controller in front of Harbor.
   * @default 'nginx'
   */
  readonly ingressClassName?: string;

  /** @default LogLevel.INFO */
  readonly logLevel?: LogLevel;

  /**
   * Let the portal listen on IPv6 too. Leave it off where nodes have IPv6 disabled.
   * @default false
   */
  readonly ipv6?: boolean;
}

const DNS_NAME =
  /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const INSTANCE = /^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$/;

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
  public readonly ingress: HarborIngress;

  public constructor(scope: Construct, id: string, props: HarborProps) {
    super(scope, id);

    validate(props);

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
    };
    const common: HarborComponentProps = {
      instance: this.instance,
      images: this.images,
      secrets: this.secrets.refs,
      endpoints,
      caBundle: props.caBundle,
      logLevel: props.logLevel,
    };
    const replicas = props.replicas ?? {};

    this.core = new HarborCore(this, 'Core', {
      ...common,
      replicas: replicas.core,
      caDownload: props.caBundle,
    });
    this.portal = new HarborPortal(this, 'Portal', {
      ...common,
      replicas: replicas.portal,
      ipv6: props.ipv6,
    });
    this.registry = new HarborRegistry(this, 'Registry', {
      ...common,
      storage: props.registryStorage,
      replicas: replicas.registry,
    });
    this.jobservice = new HarborJobservice(this, 'Jobservice', {
      ...common,
      replicas: replicas.jobservice,
    });
    if (props.trivy) {
      this.trivy = new HarborTrivy(this, 'Trivy', { ...common, ...props.trivy });
    }

    this.ingress = new HarborIngress(this, 'Ingress', {
      instance: this.instance,
      version: this.images.version,
      host: props.host,
      tls: props.tls,
      coreService: this.core.service,
      portalService: this.portal.service,
      className: props.ingressClassName,
    });
  }
}

/** Checks every prop that can contradict another or Harbor's rules, and reports them all. */
function validate(props: HarborProps): void {
  const problems = new Problems();
  const instance = props.instance ?? 'harbor';
  const nfs = new Set(props.nfsStorageClasses ?? []);

  problems.check(
    INSTANCE.test(instance),
    'instance',
    `${show(instance)} is not a short DNS label; use lowercase letters, digits and '-',` +
      ' at most 30 characters, starting with a letter',
  );
  if (IPV4.test(props.host) || props.host.includes(':')) {
    problems.add(
      'host',
      `${show(props.host)} is an IP address; Harbor needs a DNS name that the` +
        ' certificate and the ingress rule can carry',
    );
  } else {
    problems.check(
      DNS_NAME.test(props.host),
      'host',
      `${show(props.host)} is not a DNS name; use lowercase labels like registry.example.test`,
    );
  }
  const port = props.port ?? 443;
  problems.check(
    Number.isInteger(port) && port >= 1 && port <= 65535,
    'port',
    `${show(port)} is not a TCP port; use 1 to 65535`,
  );
  if (!props.tls.issuer) {
    problems.check(
      (props.tls.secretName ?? '').length > 0,
      'tls.secretName',
      'is empty; name the kubernetes.io/tls Secret that holds the certificate',
    );
  }

  const registryReplicas = props.replicas?.registry ?? 1;
  problems.check(
    registryReplicas <= 1 || isShared(props.registryStorage),
    'replicas.registry',
    `${registryReplicas} replicas share one volume, which needs registryStorage.accessMode` +
      ' ReadWriteMany; use 1 replica or a ReadWriteMany (NFS) class',
  );
  for (const [component, count] of Object.entries(props.replicas ?? {})) {
    problems.check(
      count === undefined || (Number.isInteger(count) && count >= 1),
      `replicas.${component}`,
      `${show(count)} is not a whole number of at least 1`,
    );
  }

  const db = props.database.internalOptions;
  if (db && nfs.has(db.storage.storageClassName) && !db.allowNfs) {
    problems.add(
      'database.storage.storageClassName',
      `${show(db.storage.storageClassName)} is` +
        ' an NFS class, and PostgreSQL on NFS fails on ownership (uid 999, mode 0700) and fsync;' +
        ' use a block StorageClass, an external database, or set database.allowNfs',
    );
  }
  const external = props.database.externalOptions;
  if (external) {
    problems.check(external.host.length > 0, 'database.host', 'is empty; name the PostgreSQL host');
    const dbPort = external.port ?? 5432;
    problems.check(
      Number.isInteger(dbPort) && dbPort >= 1 && dbPort <= 65535,
      'database.port',
      `${show(dbPort)} is not a TCP port`,
    );
  }
  if (props.existingSecrets?.databasePassword && !db) {
    problems.add(
      'existingSecrets.databasePassword',
      'applies to the internal database only;' +
        ' an external database names its password in database.password',
    );
  }

  const redis = props.redis.internalOptions;
  if (redis && nfs.has(redis.storage.storageClassName) && !redis.allowNfs) {
    problems.add(
      'redis.storage.storageClassName',
      `${show(redis.storage.storageClassName)} is` +
        ' an NFS class, and the redis volume on NFS fails when the export squashes or re-owns' +
        ' uid 999; use a block StorageClass, an external Redis, or set redis.allowNfs',
    );
  }
  const trivy = props.trivy;
  if (trivy && nfs.has(trivy.storage.storageClassName) && !trivy.allowNfs) {
    problems.add(
      'trivy.storage.storageClassName',
      `${show(trivy.storage.storageClassName)} is` +
        ' an NFS class; the scanner cache needs no sharing, so use a block StorageClass or set' +
        ' trivy.allowNfs',
    );
  }

  problems.throwIfAny('Harbor configuration');
}
