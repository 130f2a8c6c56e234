import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  HarborComponentProps,
  LogLevel,
  REDIS_PASSWORD_ENV,
  RedisDatabase,
  CaBundleRef,
  caBundleMount,
  keyFileVolume,
  noProxy,
  redisUrl,
  secretEnv,
  secretFileVolume,
} from './common';
import { ComponentResources, resourcesOf } from './resources';
import {
  Component,
  componentDeployment,
  componentService,
  harborContainer,
  labelsOf,
  rollOnChange,
} from '../private/component';
import { httpProbes } from '../private/workload';

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
          `httpport = ${CORE_PORT}`,
          '',
        ].join('\n'),
      },
    });
    const env = new kplus.ConfigMap(this, 'Env', {
      metadata: { name: `${name}-env`, labels },
      data: {
        CONFIG_PATH: '/etc/core/app.conf',
        EXT_ENDPOINT: endpoints.externalUrl,
        CORE_URL: `http://${endpoints.coreService}:80`,
        CORE_LOCAL_URL: `http://127.0.0.1:${CORE_PORT}`,
        TOKEN_SERVICE_URL: `http://${endpoints.coreService}:80/service/token`,
        JOBSERVICE_URL: `http://${endpoints.jobserviceService}`,
        PORTAL_URL: `http://${endpoints.portalService}`,
        REGISTRY_URL: `http://${endpoints.registryService}:5000`,
        REGISTRY_CONTROLLER_URL: `http://${endpoints.registryService}:8080`,
        REGISTRY_CREDENTIAL_USERNAME: REGISTRY_USER,
        REGISTRY_STORAGE_PROVIDER_NAME: 'filesystem',
        WITH_TRIVY: String(endpoints.trivyService !== undefined),
        ...(endpoints.trivyService
          ? { TRIVY_ADAPTER_URL: `http://${endpoints.trivyService}:8080` }
          : {}),
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
        METRIC_ENABLE: 'false',
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
    ];

    this.deployment = componentDeployment(this, component, name, {
      replicas: props.replicas ?? 1,
      terminationGracePeriod: Duration.seconds(120),
      containers: [
        harborContainer(component, {
          name: 'core',
          image: props.images.core,
          ports: [{ number: CORE_PORT, name: 'http' }],
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
          },
          volumeMounts,
          // /api/v2.0/ping answers without touching the database or Redis, so an outage of either
          // never makes Kubernetes kill core while it waits for them
          ...httpProbes(
            '/api/v2.0/ping',
            CORE_PORT,
            { initialDelay: 10, period: 10, failureThreshold: 360 },
            2,
          ),
        }),
      ],
    });
    rollOnChange(this.deployment, this.config, env);
    this.service = componentService(this, component, endpoints.coreService, [
      { name: 'http-web', port: 80, targetPort: CORE_PORT },
    ]);
  }
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
