import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
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
import { HARBOR_UID } from './core';
import { componentPorts, internalCaMount } from './internal-tls';
import { METRICS_PATH, METRICS_PORT, metricsContainerPorts, metricsServicePorts } from './metrics';
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

export interface HarborExporterProps extends HarborComponentProps {
  /** @default - the requests of a small installation */
  readonly resources?: ComponentResources;
}

/**
 * Harbor's exporter: metrics read from the database (projects, repositories, quotas), from
 * jobservice's queues in Redis and from core's health API, served on port 8001. One replica is
 * enough; Prometheus scrapes it alone, and it caches its answers between scrapes.
 */
export class HarborExporter extends Construct {
  public readonly deployment: kplus.Deployment;
  public readonly service: kplus.Service;
  public readonly config: kplus.ConfigMap;

  public constructor(scope: Construct, id: string, props: HarborExporterProps) {
    super(scope, id);

    const name = `${props.instance}-exporter`;
    const component: Component = {
      instance: props.instance,
      component: 'exporter',
      version: props.images.version,
      uid: HARBOR_UID,
    };
    const endpoints = props.endpoints;
    const db = endpoints.database;
    const redis = endpoints.redis;

    // the exporter reads its settings from env with the prefix HARBOR_ (viper)
    this.config = new kplus.ConfigMap(this, 'Env', {
      metadata: { name: `${name}-env`, labels: labelsOf(component) },
      data: {
        LOG_LEVEL: props.logLevel ?? LogLevel.INFO,
        HARBOR_EXPORTER_PORT: String(METRICS_PORT),
        HARBOR_EXPORTER_METRICS_PATH: METRICS_PATH,
        HARBOR_EXPORTER_METRICS_ENABLED: 'true',
        // seconds an answer is served from cache, and how often stale entries are dropped
        HARBOR_EXPORTER_CACHE_TIME: '23',
        HARBOR_EXPORTER_CACHE_CLEAN_INTERVAL: '14400',
        HARBOR_METRIC_NAMESPACE: 'harbor',
        HARBOR_METRIC_SUBSYSTEM: 'exporter',
        HARBOR_SERVICE_SCHEME: endpoints.internalTls ? 'https' : 'http',
        HARBOR_SERVICE_HOST: endpoints.coreService,
        HARBOR_SERVICE_PORT: String(componentPorts(endpoints).core.service),
        // the queues jobservice keeps, under the namespace its config.yml names
        HARBOR_REDIS_NAMESPACE: 'harbor_job_service_namespace',
        HARBOR_REDIS_TIMEOUT: '3600',
        HARBOR_DATABASE_HOST: db.host,
        HARBOR_DATABASE_PORT: String(db.port),
        HARBOR_DATABASE_USERNAME: db.username,
        HARBOR_DATABASE_DBNAME: db.database,
        HARBOR_DATABASE_SSLMODE: db.sslMode,
        // a few counting queries per scrape; a core-sized pool would only take connections
        HARBOR_DATABASE_MAX_IDLE_CONNS: '2',
        HARBOR_DATABASE_MAX_OPEN_CONNS: '10',
        NO_PROXY: noProxy(endpoints),
      },
    });

    this.deployment = componentDeployment(this, component, name, {
      replicas: 1,
      containers: [
        harborContainer(component, {
          name: 'exporter',
          image: props.images.exporter,
          ports: metricsContainerPorts(true),
          resources: resourcesOf(props.resources ?? EXPORTER_RESOURCES),
          envFrom: [kplus.Env.fromConfigMap(this.config)],
          envVariables: {
            HARBOR_DATABASE_PASSWORD: secretEnv(this, db.password),
            // declared before the URL, whose $(HARBOR_REDIS_PASSWORD) the kubelet expands
            ...(redis.password ? { [REDIS_PASSWORD_ENV]: secretEnv(this, redis.password) } : {}),
            HARBOR_REDIS_URL: kplus.EnvValue.fromValue(redisUrl(redis, RedisDatabase.JOBSERVICE)),
          },
          volumeMounts: [...caBundleMount(this, props.caBundle), ...internalCaMount(this, props)],
          ...httpProbes('/', METRICS_PORT, { period: 10, failureThreshold: 30 }),
        }),
      ],
    });
    rollOnChange(this.deployment, this.config);
    this.service = componentService(this, component, name, metricsServicePorts(true));
  }
}

const EXPORTER_RESOURCES: ComponentResources = { cpu: '50m', memory: '64Mi', memoryLimit: '512Mi' };
