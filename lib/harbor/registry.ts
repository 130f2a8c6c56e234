import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import {
  HarborComponentProps,
  LogLevel,
  RedisDatabase,
  caBundleMount,
  secretEnv,
  secretFileVolume,
} from './common';
import { HARBOR_UID } from './core';
import {
  componentPorts,
  internalTlsDir,
  internalTlsEnv,
  internalTlsMounts,
  probeScheme,
} from './internal-tls';
import { metricsContainerPorts, metricsServicePorts, registryDebugConfig } from './metrics';
import { PersistenceProps, dataClaim, isShared } from './persistence';
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
import { Problems } from '../private/validation';

export interface HarborRegistryProps extends HarborComponentProps {
  /** Where image layers and manifests are stored. */
  readonly storage: PersistenceProps;

  /**
   * More than one replica needs a ReadWriteMany volume.
   * @default 1
   */
  readonly replicas?: number;

  /** @default - the requests of a small installation */
  readonly resources?: ComponentResources;

  /**
   * Serve Prometheus metrics on port 8001 (`METRICS_PORT`), from distribution's debug server.
   * @default false
   */
  readonly metrics?: boolean;
}

export const REGISTRY_PORT = 5000;
export const REGISTRYCTL_PORT = 8080;

/**
 * The image store (distribution) and registryctl, which runs garbage collection on the same
 * files: one pod, two containers, one volume, one configuration.
 */
export class HarborRegistry extends Construct {
  public readonly deployment: kplus.Deployment;
  public readonly service: kplus.Service;
  public readonly claim: kplus.PersistentVolumeClaim;
  public readonly config: kplus.ConfigMap;

  public constructor(scope: Construct, id: string, props: HarborRegistryProps) {
    super(scope, id);

    const replicas = props.replicas ?? 1;
    const problems = new Problems();
    checkRegistryReplicas(problems, 'replicas', 'storage', replicas, props.storage);
    problems.throwIfAny('registry');

    const name = `${props.instance}-registry`;
    const component: Component = {
      instance: props.instance,
      component: 'registry',
      version: props.images.version,
      uid: HARBOR_UID,
      fsGroup: props.storage.fsGroup ?? true,
    };
    const labels = labelsOf(component);
    const logLevel = props.logLevel ?? LogLevel.INFO;
    const redis = props.endpoints.redis;
    const secrets = props.secrets;
    const ports = componentPorts(props.endpoints);
    const tlsDir = internalTlsDir('registry');
    const scheme = probeScheme(props.endpoints);

    this.config = new kplus.ConfigMap(this, 'Config', {
      metadata: { name, labels },
      data: {
        'config.yml': registryConfig(props, logLevel),
        'ctl-config.yml': stringify({
          protocol: props.endpoints.internalTls ? 'https' : 'http',
          port: ports.registryctl.container,
          ...(props.endpoints.internalTls
            ? { https_config: { cert: `${tlsDir}/tls.crt`, key: `${tlsDir}/tls.key` } }
            : {}),
          log_level: logLevel,
          registry_config: '/etc/registry/config.yml',
        }),
      },
    });
    this.claim = dataClaim(this, name, labels, props.storage, 'registry.storage');

    const storage = kplus.Volume.fromPersistentVolumeClaim(this, 'Storage', this.claim, {
      name: 'registry-data',
    });
    const config = kplus.Volume.fromConfigMap(this, 'ConfigVolume', this.config, {
      name: 'registry-config',
    });
    const shared: kplus.VolumeMount[] = [
      { volume: storage, path: '/storage' },
      { volume: config, path: '/etc/registry/config.yml', subPath: 'config.yml', readOnly: true },
      ...caBundleMount(this, props.caBundle),
      // registryctl serves with the registry's certificate
      ...internalTlsMounts(this, props, 'registry', component.fsGroup),
    ];
    const redisPassword: Record<string, kplus.EnvValue> = redis.password
      ? { REGISTRY_REDIS_PASSWORD: secretEnv(this, redis.password) }
      : {};

    this.deployment = componentDeployment(this, component, name, {
      replicas,
      // a ReadWriteOnce volume cannot attach to the new pod while the old one holds it
      strategy: isShared(props.storage)
        ? kplus.DeploymentStrategy.rollingUpdate()
        : kplus.DeploymentStrategy.recreate(),
      terminationGracePeriod: Duration.seconds(120),
      containers: [
        harborContainer(component, {
          name: 'registry',
          image: props.images.registry,
          ports: [
            { number: ports.registry.container, name: ports.registry.name },
            ...metricsContainerPorts(props.metrics),
          ],
          resources: resourcesOf(props.resources ?? REGISTRY_RESOURCES),
          envVariables: {
            REGISTRY_HTTP_SECRET: secretEnv(this, secrets.registryHttpSecret),
            ...redisPassword,
            ...internalTlsEnv(props, 'registry'),
          },
          volumeMounts: [
            ...shared,
            {
              // without an fsGroup the file is root's: only a world-readable mode lets uid 10000 in
              volume: secretFileVolume(
                this,
                'htpasswd',
                secrets.registryHtpasswd,
                'passwd',
                !component.fsGroup,
              ),
              path: '/etc/registry/passwd',
              subPath: 'passwd',
              readOnly: true,
            },
          ],
          ...httpProbes(
            '/',
            ports.registry.container,
            { period: 5, failureThreshold: 60 },
            3,
            scheme,
          ),
        }),
        harborContainer(component, {
          name: 'registryctl',
          image: props.images.registryctl,
          ports: [{ number: ports.registryctl.container, name: ports.registryctl.name }],
          resources: resourcesOf({ cpu: '50m', memory: '64Mi', memoryLimit: '512Mi' }),
          envVariables: {
            CORE_SECRET: secretEnv(this, secrets.coreSecret),
            JOBSERVICE_SECRET: secretEnv(this, secrets.jobserviceSecret),
            REGISTRY_HTTP_SECRET: secretEnv(this, secrets.registryHttpSecret),
            ...redisPassword,
            ...internalTlsEnv(props, 'registry'),
          },
          volumeMounts: [
            ...shared,
            {
              volume: config,
              path: '/etc/registryctl/config.yml',
              subPath: 'ctl-config.yml',
              readOnly: true,
            },
          ],
          ...httpProbes(
            '/api/health',
            ports.registryctl.container,
            { period: 5, failureThreshold: 60 },
            3,
            scheme,
          ),
        }),
      ],
    });
    rollOnChange(this.deployment, this.config);
    this.service = componentService(this, component, props.endpoints.registryService, [
      ...[ports.registry, ports.registryctl].map((port) => ({
        name: port.name,
        port: port.service,
        targetPort: port.container,
      })),
      ...metricsServicePorts(props.metrics),
    ]);
  }
}

/** Several registry pods share one volume only where it can be mounted on many nodes. */
export function checkRegistryReplicas(
  problems: Problems,
  field: string,
  storageField: string,
  replicas: number,
  storage: PersistenceProps,
): void {
  problems.check(
    replicas <= 1 || isShared(storage),
    field,
    `${replicas} replicas share one volume, which needs ${storageField}.accessMode` +
      ' ReadWriteMany; use 1 replica or a ReadWriteMany (NFS) class',
  );
}

/**
 * distribution's config.yml. The HTTP secret and the Redis password come from env
 * (REGISTRY_HTTP_SECRET, REGISTRY_REDIS_PASSWORD), which distribution lets override the file.
 */
export function registryConfig(props: HarborRegistryProps, logLevel: LogLevel): string {
  const redis = props.endpoints.redis;
  return stringify({
    version: 0.1,
    log: { level: logLevel, fields: { service: 'registry' } },
    storage: {
      filesystem: { rootdirectory: '/storage' },
      cache: { layerinfo: 'redis' },
      maintenance: {
        uploadpurging: { enabled: true, age: '168h', interval: '24h', dryrun: false },
      },
      delete: { enabled: true },
      redirect: { disable: false },
    },
    redis: {
      addr: `${redis.host}:${redis.port}`,
      db: RedisDatabase.REGISTRY,
      ...(redis.username ? { username: redis.username } : {}),
      ...(redis.tls ? { enableTLS: true } : {}),
      readtimeout: '10s',
      writetimeout: '10s',
      dialtimeout: '10s',
      pool: { maxidle: 100, maxactive: 500, idletimeout: '60s' },
    },
    http: {
      addr: `:${componentPorts(props.endpoints).registry.container}`,
      relativeurls: false,
      ...(props.endpoints.internalTls
        ? {
            tls: {
              certificate: `${internalTlsDir('registry')}/tls.crt`,
              key: `${internalTlsDir('registry')}/tls.key`,
              minimumtls: 'tls1.2',
            },
          }
        : {}),
      debug: registryDebugConfig(props.metrics ?? false),
    },
    auth: {
      htpasswd: { realm: 'harbor-registry-basic-realm', path: '/etc/registry/passwd' },
    },
    validation: { disabled: true },
    compatibility: { schema1: { enabled: true } },
  });
}

const REGISTRY_RESOURCES: ComponentResources = { cpu: '100m', memory: '256Mi', memoryLimit: '2Gi' };
