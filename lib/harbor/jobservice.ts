import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import {
  HarborComponentProps,
  LogLevel,
  REDIS_PASSWORD_ENV,
  RedisDatabase,
  caBundleMount,
  noProxy,
  redisUrl,
  secretEnv,
} from './common';
import { HARBOR_UID, REGISTRY_USER } from './core';
import {
  componentPorts,
  internalTlsDir,
  internalTlsEnv,
  internalTlsMounts,
  internalUrls,
  probeScheme,
} from './internal-tls';
import {
  jobserviceMetricConfig,
  metricNameEnv,
  metricsContainerPorts,
  metricsServicePorts,
} from './metrics';
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

export interface HarborJobserviceProps extends HarborComponentProps {
  /** @default 1 */
  readonly replicas?: number;

  /**
   * Concurrent jobs per replica (replication, scans, garbage collection).
   * @default 10
   */
  readonly workers?: number;

  /** @default - the requests of a small installation */
  readonly resources?: ComponentResources;

  /**
   * Serve Prometheus metrics on port 8001 (`METRICS_PORT`).
   * @default false
   */
  readonly metrics?: boolean;
}

export const JOBSERVICE_PORT = 8080;

/**
 * Harbor's job runner. Its job logs go to the database and stdout rather than to files, so it
 * keeps no volume and scales without shared storage.
 */
export class HarborJobservice extends Construct {
  public readonly deployment: kplus.Deployment;
  public readonly service: kplus.Service;
  public readonly config: kplus.ConfigMap;

  public constructor(scope: Construct, id: string, props: HarborJobserviceProps) {
    super(scope, id);

    const workers = props.workers ?? 10;
    if (!Number.isInteger(workers) || workers < 1) {
      throw new Error(`jobservice.workers: ${workers} is not a positive whole number`);
    }

    const name = `${props.instance}-jobservice`;
    const component: Component = {
      instance: props.instance,
      component: 'jobservice',
      version: props.images.version,
      uid: HARBOR_UID,
    };
    const labels = labelsOf(component);
    const endpoints = props.endpoints;
    const logLevel = props.logLevel ?? LogLevel.INFO;
    const level = logLevel.toUpperCase();
    const queueUrl = redisUrl(endpoints.redis, RedisDatabase.JOBSERVICE);
    const port = componentPorts(endpoints).jobservice;
    const urls = internalUrls(endpoints);
    const tlsDir = internalTlsDir('jobservice');

    this.config = new kplus.ConfigMap(this, 'Config', {
      metadata: { name, labels },
      data: {
        'config.yml': stringify({
          protocol: endpoints.internalTls ? 'https' : 'http',
          port: port.container,
          ...(endpoints.internalTls
            ? { https_config: { cert: `${tlsDir}/tls.crt`, key: `${tlsDir}/tls.key` } }
            : {}),
          worker_pool: {
            workers,
            backend: 'redis',
            redis_pool: {
              // the real URL, with its password, comes from JOB_SERVICE_POOL_REDIS_URL
              redis_url: redisUrl(
                { ...endpoints.redis, password: undefined },
                RedisDatabase.JOBSERVICE,
              ),
              namespace: 'harbor_job_service_namespace',
              idle_timeout_second: 3600,
            },
          },
          job_loggers: [
            { name: 'DB', level, sweeper: { duration: 14, settings: {} } },
            { name: 'STD_OUTPUT', level },
          ],
          loggers: [{ name: 'STD_OUTPUT', level }],
          metric: jobserviceMetricConfig(props.metrics ?? false),
          reaper: { max_update_hours: 24, max_dangling_hours: 168 },
        }),
      },
    });
    const secrets = props.secrets;

    this.deployment = componentDeployment(this, component, name, {
      replicas: props.replicas ?? 1,
      terminationGracePeriod: Duration.seconds(120),
      containers: [
        harborContainer(component, {
          name: 'jobservice',
          image: props.images.jobservice,
          ports: [
            { number: port.container, name: endpoints.internalTls ? 'https' : 'http' },
            ...metricsContainerPorts(props.metrics),
          ],
          resources: resourcesOf(
            props.resources ?? { cpu: '100m', memory: '256Mi', memoryLimit: '1Gi' },
          ),
          envVariables: {
            CORE_URL: kplus.EnvValue.fromValue(urls.core),
            TOKEN_SERVICE_URL: kplus.EnvValue.fromValue(urls.tokenService),
            REGISTRY_URL: kplus.EnvValue.fromValue(urls.registry),
            REGISTRY_CONTROLLER_URL: kplus.EnvValue.fromValue(urls.registryController),
            REGISTRY_CREDENTIAL_USERNAME: kplus.EnvValue.fromValue(REGISTRY_USER),
            REGISTRY_HTTP_CLIENT_TIMEOUT: kplus.EnvValue.fromValue('30'),
            JOBSERVICE_WEBHOOK_JOB_MAX_RETRY: kplus.EnvValue.fromValue('3'),
            JOBSERVICE_WEBHOOK_JOB_HTTP_CLIENT_TIMEOUT: kplus.EnvValue.fromValue('3'),
            LOG_LEVEL: kplus.EnvValue.fromValue(logLevel),
            NO_PROXY: kplus.EnvValue.fromValue(noProxy(endpoints)),
            ...(props.metrics ? metricNameEnv('jobservice') : {}),
            CORE_SECRET: secretEnv(this, secrets.coreSecret),
            JOBSERVICE_SECRET: secretEnv(this, secrets.jobserviceSecret),
            REGISTRY_CREDENTIAL_PASSWORD: secretEnv(this, secrets.registryPassword),
            ...(endpoints.redis.password
              ? { [REDIS_PASSWORD_ENV]: secretEnv(this, endpoints.redis.password) }
              : {}),
            JOB_SERVICE_POOL_REDIS_URL: kplus.EnvValue.fromValue(queueUrl),
            ...internalTlsEnv(props, 'jobservice'),
          },
          volumeMounts: [
            {
              volume: kplus.Volume.fromConfigMap(this, 'ConfigVolume', this.config, {
                name: 'config',
              }),
              path: '/etc/jobservice/config.yml',
              subPath: 'config.yml',
              readOnly: true,
            },
            ...caBundleMount(this, props.caBundle),
            ...internalTlsMounts(this, props, 'jobservice'),
          ],
          // jobservice exits until core answers; the startup probe leaves it ten minutes for that
          ...httpProbes(
            '/api/v1/stats',
            port.container,
            { period: 10, failureThreshold: 60 },
            3,
            probeScheme(endpoints),
          ),
        }),
      ],
    });
    rollOnChange(this.deployment, this.config);
    this.service = componentService(this, component, endpoints.jobserviceService, [
      { name: port.name, port: port.service, targetPort: port.container },
      ...metricsServicePorts(props.metrics),
    ]);
  }
}
