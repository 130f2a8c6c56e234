import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  HarborComponentProps,
  LogLevel,
  REDIS_PASSWORD_ENV,
  RedisDatabase,
  CaBundleRef,
  SecretKeyRef,
  caBundleMount,
  keyFileVolume,
  noProxy,
  redisUrl,
  secretEnv,
  secretFileVolume,
} from './common';
import {
  componentPorts,
  internalTlsEnv,
  internalTlsMounts,
  internalUrls,
  probeScheme,
} from './internal-tls';
import { metricsContainerPorts, metricsEnv, metricsServicePorts } from './metrics';
import { ComponentResources, resourcesOf } from './resources';
import {
  Component,
  componentDeployment,
  componentService,
  harborContainer,
  labelsOf,
  rollOnChange,
} from '../private/component';
import { readAsset } from '../private/assets';
import { httpProbes } from '../private/workload';

/**
 * User settings core applies at every start through `CONFIG_OVERWRITE_JSON`. While it is set,
 * Harbor refuses every configuration change through the API or the UI, and a setting Harbor
 * rejects stops core from starting.
 * @see https://goharbor.io/docs/main/install-config/configure-user-settings-cli/
 */
export interface ConfigOverwrite {
  /** The settings without secrets, in Harbor's native JSON types. */
  readonly json: Record<string, unknown>;
  /** Secret settings by configuration key; each value is read from a Secret at pod start. */
  readonly secrets: Record<string, SecretKeyRef>;
}

export interface HarborCoreProps extends HarborComponentProps {
  /** @default 1 */
  readonly replicas?: number;

  /**
   * A Secret key with the CA certificate core serves at `/api/v2.0/systeminfo/getcert`, the
   * portal's "download registry certificate" link.
   * @default - the link answers 404
   */
  readonly caDownload?: CaBundleRef;

  /** @default - the requests of a small installation */
  readonly resources?: ComponentResources;

  /**
   * Serve Prometheus metrics on port 8001 (`METRICS_PORT`).
   * @default false
   */
  readonly metrics?: boolean;

  /**
   * User settings for `CONFIG_OVERWRITE_JSON`. The plain settings go into a ConfigMap; an init
   * container merges the secret ones in from their Secrets, onto a memory-backed volume that
   * only the pod reads. A changed plain setting rolls core; a changed Secret value reaches core
   * at its next restart.
   * @default - no CONFIG_OVERWRITE_JSON: settings stay editable in the UI
   */
  readonly configOverwrite?: ConfigOverwrite;
}

/** Port core listens on for HTTP. */
export const CORE_PORT = 8080;

/**
 * Harbor core: the API, the token service and the reverse proxy in front of the registry.
 * Its database migrations run at every start, so its startup probe allows up to an hour.
 */
export class HarborCore extends Construct {
  public readonly deployment: kplus.Deployment;
  public readonly service: kplus.Service;
  public readonly config: kplus.ConfigMap;
  /** The plain `CONFIG_OVERWRITE_JSON` settings and the scripts that deliver them. */
  public readonly overwrite?: kplus.ConfigMap;

  public constructor(scope: Construct, id: string, props: HarborCoreProps) {
    super(scope, id);

    const name = `${props.instance}-core`;
    const endpoints = props.endpoints;
    const component: Component = {
      instance: props.instance,
      component: 'core',
      version: props.images.version,
      uid: HARBOR_UID,
    };
    const labels = labelsOf(component);
    const logLevel = props.logLevel ?? LogLevel.INFO;
    const port = componentPorts(endpoints).core;
    const urls = internalUrls(endpoints);
    const db = endpoints.database;

    // file-shaped settings and env settings live apart, so no file ever becomes an env var
    this.config = new kplus.ConfigMap(this, 'Config', {
      metadata: { name, labels },
      data: {
        'app.conf': [
          'appname = Harbor',
          'runmode = prod',
          'enablegzip = true',
          '',
          '[prod]',
          `httpport = ${port.container}`,
          '',
        ].join('\n'),
      },
    });
    const env = new kplus.ConfigMap(this, 'Env', {
      metadata: { name: `${name}-env`, labels },
      data: {
        CONFIG_PATH: '/etc/core/app.conf',
        EXT_ENDPOINT: endpoints.externalUrl,
        CORE_URL: urls.core,
        CORE_LOCAL_URL: urls.coreLocal,
        TOKEN_SERVICE_URL: urls.tokenService,
        JOBSERVICE_URL: urls.jobservice,
        PORTAL_URL: urls.portal,
        REGISTRY_URL: urls.registry,
        REGISTRY_CONTROLLER_URL: urls.registryController,
        REGISTRY_CREDENTIAL_USERNAME: REGISTRY_USER,
        REGISTRY_STORAGE_PROVIDER_NAME: 'filesystem',
        WITH_TRIVY: String(endpoints.trivyService !== undefined),
        ...(endpoints.trivyService ? { TRIVY_ADAPTER_URL: urls.trivy! } : {}),
        DATABASE_TYPE: 'postgresql',
        POSTGRESQL_HOST: db.host,
        POSTGRESQL_PORT: String(db.port),
        POSTGRESQL_USERNAME: db.username,
        POSTGRESQL_DATABASE: db.database,
        POSTGRESQL_SSLMODE: db.sslMode,
        POSTGRESQL_MAX_IDLE_CONNS: String(db.maxIdleConnections),
        POSTGRESQL_MAX_OPEN_CONNS: String(db.maxOpenConnections),
        LOG_LEVEL: logLevel,
        QUOTA_UPDATE_PROVIDER: 'db',
        // without these lists Harbor offers no endpoint type for replication or proxy caches
        REPLICATION_ADAPTER_WHITELIST: REPLICATION_ADAPTERS.join(','),
        PERMITTED_REGISTRY_TYPES_FOR_PROXY_CACHE: PROXY_CACHE_TYPES.join(','),
        NO_PROXY: noProxy(endpoints),
        ...metricsEnv('core', props.metrics ?? false),
      },
    });

    const secrets = props.secrets;
    const volumeMounts: kplus.VolumeMount[] = [
      {
        volume: kplus.Volume.fromConfigMap(this, 'AppConf', this.config, { name: 'config' }),
        path: '/etc/core/app.conf',
        subPath: 'app.conf',
        readOnly: true,
      },
      {
        volume: secretFileVolume(this, 'secret-key', secrets.secretKey, 'key'),
        path: '/etc/core/key',
        subPath: 'key',
        readOnly: true,
      },
      {
        volume: secretFileVolume(this, 'token-key', secrets.tokenKey, 'private_key.pem'),
        path: '/etc/core/private_key.pem',
        subPath: 'private_key.pem',
        readOnly: true,
      },
      ...(props.caDownload
        ? [
            {
              volume: keyFileVolume(this, 'ca-download', props.caDownload, 'ca.crt'),
              path: '/etc/core/ca',
              readOnly: true,
            },
          ]
        : []),
      ...caBundleMount(this, props.caBundle),
      ...internalTlsMounts(this, props, 'core'),
    ];

    const overwrite = props.configOverwrite
      ? this.overwriteDelivery(component, name, props.configOverwrite, props.images.prepare)
      : undefined;
    this.overwrite = overwrite?.configMap;
    if (overwrite) volumeMounts.push(...overwrite.coreMounts);

    this.deployment = componentDeployment(this, component, name, {
      replicas: props.replicas ?? 1,
      terminationGracePeriod: Duration.seconds(120),
      initContainers: overwrite ? [overwrite.init] : [],
      containers: [
        harborContainer(component, {
          name: 'core',
          image: props.images.core,
          ...(overwrite ? { command: overwrite.command } : {}),
          ports: [
            { number: port.container, name: endpoints.internalTls ? 'https' : 'http' },
            ...metricsContainerPorts(props.metrics),
          ],
          resources: resourcesOf(props.resources ?? CORE_RESOURCES),
          envFrom: [kplus.Env.fromConfigMap(env)],
          envVariables: {
            CORE_SECRET: secretEnv(this, secrets.coreSecret),
            JOBSERVICE_SECRET: secretEnv(this, secrets.jobserviceSecret),
            CSRF_KEY: secretEnv(this, secrets.csrfKey),
            HARBOR_ADMIN_PASSWORD: secretEnv(this, secrets.adminPassword),
            POSTGRESQL_PASSWORD: secretEnv(this, db.password),
            REGISTRY_CREDENTIAL_PASSWORD: secretEnv(this, secrets.registryPassword),
            ...(endpoints.redis.password
              ? { [REDIS_PASSWORD_ENV]: secretEnv(this, endpoints.redis.password) }
              : {}),
            _REDIS_URL_CORE: kplus.EnvValue.fromValue(
              redisUrl(endpoints.redis, RedisDatabase.CORE, '?idle_timeout_seconds=30'),
            ),
            _REDIS_URL_REG: kplus.EnvValue.fromValue(
              redisUrl(endpoints.redis, RedisDatabase.REGISTRY, '?idle_timeout_seconds=30'),
            ),
            ...internalTlsEnv(props, 'core'),
          },
          volumeMounts,
          // /api/v2.0/ping answers without touching the database or Redis, so an outage of either
          // never makes Kubernetes kill core while it waits for them
          ...httpProbes(
            '/api/v2.0/ping',
            port.container,
            { initialDelay: 10, period: 10, failureThreshold: 360 },
            2,
            probeScheme(endpoints),
          ),
        }),
      ],
    });
    rollOnChange(this.deployment, this.config, env, ...(this.overwrite ? [this.overwrite] : []));
    this.service = componentService(this, component, endpoints.coreService, [
      { name: port.name, port: port.service, targetPort: port.container },
      ...metricsServicePorts(props.metrics),
    ]);
  }

  /**
   * The pieces that bring `CONFIG_OVERWRITE_JSON` into core without a secret in any manifest:
   * a ConfigMap with the plain settings and two scripts, an init container that merges the
   * Secret values in, and a wrapper command that exports the result and runs core's entrypoint.
   */
  private overwriteDelivery(
    component: Component,
    name: string,
    overwrite: ConfigOverwrite,
    prepareImage: string,
  ): OverwriteDelivery {
    const configMap = new kplus.ConfigMap(this, 'Overwrite', {
      metadata: { name: `${name}-overwrite`, labels: labelsOf(component) },
      data: {
        [OVERWRITE_BASE]: JSON.stringify(overwrite.json, null, 2),
        'merge-config-overwrite.py': readAsset('lib/harbor/scripts/merge-config-overwrite.py'),
        'core-overwrite.sh': readAsset('lib/harbor/scripts/core-overwrite.sh'),
      },
    });
    const files = kplus.Volume.fromConfigMap(this, 'OverwriteFiles', configMap, {
      name: 'config-overwrite',
    });
    // memory-backed: the merged settings hold secrets and must never reach the node's disk
    const merged = kplus.Volume.fromEmptyDir(this, 'OverwriteMerged', 'config-overwrite-merged', {
      medium: kplus.EmptyDirMedium.MEMORY,
      sizeLimit: Size.mebibytes(1),
    });

    const secretEnvs = Object.fromEntries(
      Object.keys(overwrite.secrets)
        .sort()
        .map((key) => [key, overwriteEnv(key)]),
    );
    const init = harborContainer(component, {
      name: 'config-overwrite',
      image: prepareImage,
      command: ['python3', `${OVERWRITE_FILES}/merge-config-overwrite.py`],
      resources: {
        cpu: { request: kplus.Cpu.millis(10) },
        memory: { request: Size.mebibytes(32), limit: Size.mebibytes(64) },
      },
      envVariables: {
        OVERWRITE_BASE_FILE: kplus.EnvValue.fromValue(`${OVERWRITE_FILES}/${OVERWRITE_BASE}`),
        OVERWRITE_OUTPUT_FILE: kplus.EnvValue.fromValue(OVERWRITE_MERGED),
        OVERWRITE_SECRET_ENVS: kplus.EnvValue.fromValue(JSON.stringify(secretEnvs)),
        ...Object.fromEntries(
          Object.entries(overwrite.secrets).map(([key, ref]) => [
            overwriteEnv(key),
            secretEnv(this, ref),
          ]),
        ),
      },
      volumeMounts: [
        { volume: files, path: OVERWRITE_FILES, readOnly: true },
        { volume: merged, path: OVERWRITE_MERGED_DIR },
      ],
    });

    return {
      configMap,
      init,
      command: ['/bin/sh', `${OVERWRITE_FILES}/core-overwrite.sh`, OVERWRITE_MERGED],
      coreMounts: [
        { volume: files, path: OVERWRITE_FILES, readOnly: true },
        { volume: merged, path: OVERWRITE_MERGED_DIR, readOnly: true },
      ],
    };
  }
}

interface OverwriteDelivery {
  readonly configMap: kplus.ConfigMap;
  readonly init: kplus.ContainerProps;
  readonly command: string[];
  readonly coreMounts: kplus.VolumeMount[];
}

const OVERWRITE_FILES = '/etc/core/overwrite';
const OVERWRITE_BASE = 'overwrite.json';
const OVERWRITE_MERGED_DIR = '/run/harbor-config';
const OVERWRITE_MERGED = `${OVERWRITE_MERGED_DIR}/overwrite.json`;

/** The init container's env var of one secret setting: `OVERWRITE_LDAP_SEARCH_PASSWORD`. */
function overwriteEnv(key: string): string {
  return `OVERWRITE_${key.toUpperCase()}`;
}

/** uid and gid of every Harbor-built image except the database and Redis. */
export const HARBOR_UID = 10000;

/** The registry's basic-auth user; core and jobservice log in with it. */
export const REGISTRY_USER = 'harbor_registry_user';

/** Registry types Harbor can replicate to and from. */
export const REPLICATION_ADAPTERS = [
  'ali-acr',
  'aws-ecr',
  'azure-acr',
  'docker-hub',
  'docker-registry',
  'github-ghcr',
  'google-gcr',
  'harbor',
  'huawei-SWR',
  'jfrog-artifactory',
  'tencent-tcr',
  'volcengine-cr',
];

/** Registry types a proxy-cache project may front. */
export const PROXY_CACHE_TYPES = [
  'docker-hub',
  'harbor',
  'azure-acr',
  'ali-acr',
  'aws-ecr',
  'google-gcr',
  'docker-registry',
  'github-ghcr',
  'jfrog-artifactory',
];

const CORE_RESOURCES: ComponentResources = { cpu: '100m', memory: '256Mi', memoryLimit: '1Gi' };
