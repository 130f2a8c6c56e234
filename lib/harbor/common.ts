import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { HarborImages } from './images';

/** A key of a Secret that exists in the cluster, or that the secrets Job creates. */
export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

/**
 * A key holding PEM CA certificates: of a Secret, or with `configMap: true` of a ConfigMap, such
 * as the one a trust-manager Bundle writes. CA certificates are public; either kind will do.
 */
export interface CaBundleRef extends SecretKeyRef {
  /** @default false */
  readonly configMap?: boolean;
}

/** Log levels every Harbor component understands. */
export enum LogLevel {
  DEBUG = 'debug',
  INFO = 'info',
  WARNING = 'warning',
  ERROR = 'error',
  FATAL = 'fatal',
}

/** Where Harbor's shared secrets live; see `HarborSecrets`. */
export interface HarborSecretRefs {
  /** AES key that encrypts credentials stored in the database: exactly 16 bytes. */
  readonly secretKey: SecretKeyRef;
  /** CSRF key of the UI: exactly 32 characters. */
  readonly csrfKey: SecretKeyRef;
  /** Shared secret core presents to the other components. */
  readonly coreSecret: SecretKeyRef;
  /** Shared secret jobservice presents to the other components. */
  readonly jobserviceSecret: SecretKeyRef;
  /** The registry's `http.secret`; the same for every registry replica. */
  readonly registryHttpSecret: SecretKeyRef;
  /** Password core and jobservice use against the registry. */
  readonly registryPassword: SecretKeyRef;
  /** The bcrypt htpasswd line that matches `registryPassword`. */
  readonly registryHtpasswd: SecretKeyRef;
  /** The admin password core sets at its first start. */
  readonly adminPassword: SecretKeyRef;
  /** RSA private key (PEM) that signs registry tokens. */
  readonly tokenKey: SecretKeyRef;
}

/** How Harbor's components reach PostgreSQL. */
export interface DatabaseConnection {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly username: string;
  readonly sslMode: string;
  readonly password: SecretKeyRef;
  /** Connection pool size per pod. */
  readonly maxOpenConnections: number;
  readonly maxIdleConnections: number;
}

/** How Harbor's components reach Redis (or Valkey). */
export interface RedisConnection {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly username?: string;
  /** No password when undefined (the internal Valkey runs without one). */
  readonly password?: SecretKeyRef;
}

/** Addresses of one Harbor instance, inside the cluster and outside. */
export interface HarborEndpoints {
  /** What users type in `docker login`, with scheme: `https://host[:port]`. */
  readonly externalUrl: string;
  readonly coreService: string;
  readonly portalService: string;
  readonly registryService: string;
  readonly jobserviceService: string;
  /** Undefined when scanning is off. */
  readonly trivyService?: string;
  readonly database: DatabaseConnection;
  readonly redis: RedisConnection;
  /**
   * Core, portal, registry, registryctl, jobservice and Trivy serve HTTPS to each other with
   * the certificates of `HarborInternalTls`; see `internalUrls` and `componentPorts`.
   * @default false
   */
  readonly internalTls?: boolean;
}

/** What every Harbor component needs to know about the instance it belongs to. */
export interface HarborComponentProps {
  /** Name of the Harbor instance; every object name starts with it. */
  readonly instance: string;
  readonly images: HarborImages;
  readonly secrets: HarborSecretRefs;
  readonly endpoints: HarborEndpoints;
  /**
   * A Secret key holding the PEM CA bundle that Harbor's components trust in addition to their
   * system roots (mounted into `/harbor_cust_cert/`).
   * @default - only the images' own trust store
   */
  readonly caBundle?: CaBundleRef;
  /** @default LogLevel.INFO */
  readonly logLevel?: LogLevel;
}

/** Redis database index of each client; Harbor's own components agree on these. */
export enum RedisDatabase {
  CORE = 0,
  JOBSERVICE = 1,
  REGISTRY = 2,
  TRIVY = 5,
}

/** Name of the env var that carries the Redis password inside each container. */
export const REDIS_PASSWORD_ENV = 'HARBOR_REDIS_PASSWORD';

/**
 * A Redis URL for one database. A password is never written into the URL: the kubelet expands
 * `$(HARBOR_REDIS_PASSWORD)` from an env var that must be declared before the URL's.
 */
export function redisUrl(redis: RedisConnection, db: RedisDatabase, query = ''): string {
  const scheme = redis.tls ? 'rediss' : 'redis';
  const user = redis.username ?? '';
  const auth = redis.password ? `${user}:$(${REDIS_PASSWORD_ENV})@` : '';
  return `${scheme}://${auth}${redis.host}:${redis.port}/${db}${query}`;
}

/** Returns an existing child construct of that id or creates it. */
function childOf<T extends Construct>(scope: Construct, id: string, create: () => T): T {
  return (scope.node.tryFindChild(id) as T | undefined) ?? create();
}

/** The Secret a reference names, as a cdk8s-plus handle. */
export function secretOf(scope: Construct, name: string): kplus.ISecret {
  return childOf(scope, `secret-${name}`, () =>
    kplus.Secret.fromSecretName(scope, `secret-${name}`, name),
  );
}

/** An env var value read from a Secret key. */
export function secretEnv(scope: Construct, ref: SecretKeyRef): kplus.EnvValue {
  return kplus.EnvValue.fromSecretValue({ secret: secretOf(scope, ref.name), key: ref.key });
}

/**
 * A volume that projects one Secret key as one file. It is readable by the pod's fsGroup; a
 * pod without one (on an NFS export that squashes) gets root's files and needs `everyone`.
 */
export function secretFileVolume(
  scope: Construct,
  volumeName: string,
  ref: SecretKeyRef,
  path: string,
  everyone = false,
): kplus.Volume {
  return childOf(scope, `volume-${volumeName}`, () =>
    kplus.Volume.fromSecret(scope, `volume-${volumeName}`, secretOf(scope, ref.name), {
      name: volumeName,
      items: { [ref.key]: { path } },
      defaultMode: everyone ? 0o444 : 0o440,
    }),
  );
}

/** A volume that projects one key of a Secret or ConfigMap as one file. */
export function keyFileVolume(
  scope: Construct,
  volumeName: string,
  ref: CaBundleRef,
  path: string,
): kplus.Volume {
  // CA certificates are public: readable by every user, whether or not the pod has an fsGroup
  if (!ref.configMap) return secretFileVolume(scope, volumeName, ref, path, true);
  return childOf(scope, `volume-${volumeName}`, () =>
    kplus.Volume.fromConfigMap(
      scope,
      `volume-${volumeName}`,
      childOf(scope, `configmap-${ref.name}`, () =>
        kplus.ConfigMap.fromConfigMapName(scope, `configmap-${ref.name}`, ref.name),
      ),
      { name: volumeName, items: { [ref.key]: { path } }, defaultMode: 0o444 },
    ),
  );
}

/**
 * Mounts the extra CA bundle where Harbor's entrypoint (install_cert.sh) appends it to the
 * image's trust store, so the component trusts the private CA for OIDC, replication and scans.
 */
export function caBundleMount(scope: Construct, caBundle?: CaBundleRef): kplus.VolumeMount[] {
  if (!caBundle) return [];
  const volume = keyFileVolume(scope, 'ca-bundle', caBundle, 'custom-ca.crt');
  return [
    { volume, path: '/harbor_cust_cert/custom-ca.crt', subPath: 'custom-ca.crt', readOnly: true },
  ];
}

/** The proxy exclusions Harbor's components need so internal calls never leave the cluster. */
export function noProxy(endpoints: HarborEndpoints): string {
  return [
    endpoints.coreService,
    endpoints.portalService,
    endpoints.registryService,
    endpoints.jobserviceService,
    endpoints.trivyService,
    endpoints.database.host,
    endpoints.redis.host,
    '127.0.0.1',
    'localhost',
    '.local',
    '.internal',
  ]
    .filter((entry): entry is string => entry !== undefined)
    .join(',');
}
