import { ApiObject, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ComponentResources, checkResources } from './resources';
import { Check, label, labelKey, labelValue } from '../private/checks';
import { componentLabels, selectorLabels } from '../private/labels';
import { Problems, show } from '../private/validation';

/** Harbor's Prometheus metrics: the components' own endpoints, the exporter, a ServiceMonitor. */
export interface HarborMetricsOptions {
  /**
   * Serve `/metrics` on port 8001 of core, jobservice and the registry, and run the exporter,
   * which turns the database and the job queues into metrics (projects, quotas, queue sizes).
   */
  readonly enabled: boolean;

  /**
   * A Prometheus operator ServiceMonitor for every Service that serves metrics. The operator's
   * CRDs must be installed in the cluster.
   * @default - no ServiceMonitor; scrape the `http-metrics` ports some other way
   */
  readonly serviceMonitor?: ServiceMonitorOptions;

  /** @default - the requests of a small installation */
  readonly exporterResources?: ComponentResources;
}

export interface ServiceMonitorOptions {
  /** @default true */
  readonly enabled?: boolean;

  /**
   * Namespace of the ServiceMonitor, where the Prometheus operator looks for monitors. It then
   * selects Harbor's Services in Harbor's namespace.
   * @default - Harbor's namespace
   */
  readonly namespace?: string;

  /**
   * Labels of the ServiceMonitor, such as the one a Prometheus's `serviceMonitorSelector`
   * matches (`release: prometheus` with kube-prometheus-stack).
   * @default {}
   */
  readonly labels?: Record<string, string>;

  /**
   * How often Prometheus scrapes, as a Prometheus duration (`30s`, `1m`).
   * @default - the Prometheus's own scrape interval
   * @see https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.Endpoint
   */
  readonly interval?: string;
}

/** Port of every metrics endpoint: core, jobservice, the registry's debug server, the exporter. */
export const METRICS_PORT = 8001;

/** Name of the Service port Prometheus scrapes on every Harbor Service that has one. */
export const METRICS_PORT_NAME = 'http-metrics';

export const METRICS_PATH = '/metrics';

/** Prefix of the metric names of Harbor's own components (`harbor_core_...`). */
const METRIC_NAMESPACE = 'harbor';

/** The components whose Services carry the metrics port. */
export const METRICS_COMPONENTS = ['core', 'jobservice', 'registry', 'exporter'] as const;

/** Whether the options turn the ServiceMonitor on. */
export function serviceMonitorOn(options: HarborMetricsOptions | undefined): boolean {
  return options?.serviceMonitor !== undefined && (options.serviceMonitor.enabled ?? true);
}

/** Records what is wrong with the metrics options, under `field`. */
export function checkMetrics(
  problems: Problems,
  field: string,
  options: HarborMetricsOptions | undefined,
): void {
  if (!options) return;
  checkResources(problems, `${field}.exporterResources`, options.exporterResources);
  const monitor = options.serviceMonitor;
  if (!monitor) return;

  problems.check(
    options.enabled || !(monitor.enabled ?? true),
    `${field}.serviceMonitor.enabled`,
    `true has nothing to scrape while ${field}.enabled is false; set ${field}.enabled to true,` +
      ' or turn the ServiceMonitor off',
  );
  problems.value(`${field}.serviceMonitor.namespace`, monitor.namespace, label);
  problems.value(`${field}.serviceMonitor.interval`, monitor.interval, promDuration);
  for (const [key, value] of Object.entries(monitor.labels ?? {})) {
    problems.value(`${field}.serviceMonitor.labels`, key, labelKey);
    problems.value(`${field}.serviceMonitor.labels.${key}`, value, labelValue);
  }
}

/** A non-zero Prometheus duration, as the ServiceMonitor CRD accepts it. */
const promDuration: Check<string> = (value) =>
  /^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$/.test(value) &&
  /[1-9]/.test(value)
    ? undefined
    : 'is not a Prometheus duration; use a unit, e.g. "30s", "1m" or "1m30s"';

/** The Service port that serves metrics, when they are on. */
export function metricsServicePorts(enabled: boolean | undefined): kplus.ServicePort[] {
  return enabled ? [{ name: METRICS_PORT_NAME, port: METRICS_PORT, targetPort: METRICS_PORT }] : [];
}

/** The container port that serves metrics, when they are on. */
export function metricsContainerPorts(enabled: boolean | undefined): kplus.ContainerPort[] {
  return enabled ? [{ number: METRICS_PORT, name: 'metrics' }] : [];
}

/** Env of core, which reads every metrics setting from env. */
export function metricsEnv(subsystem: string, enabled: boolean): Record<string, string> {
  if (!enabled) return { METRIC_ENABLE: 'false' };
  return {
    METRIC_ENABLE: 'true',
    METRIC_PATH: METRICS_PATH,
    METRIC_PORT: String(METRICS_PORT),
    ...metricNames(subsystem),
  };
}

/**
 * The prefix of a component's metric names, `harbor_<subsystem>_`. Jobservice reads only these
 * from env, and the rest from its config file.
 */
export function metricNames(subsystem: string): Record<string, string> {
  return { METRIC_NAMESPACE, METRIC_SUBSYSTEM: subsystem };
}

/** `metricNames` as container env. */
export function metricNameEnv(subsystem: string): Record<string, kplus.EnvValue> {
  return Object.fromEntries(
    Object.entries(metricNames(subsystem)).map(([key, value]) => [
      key,
      kplus.EnvValue.fromValue(value),
    ]),
  );
}

/** The `metric` section of jobservice's config.yml. */
export function jobserviceMetricConfig(enabled: boolean): Record<string, unknown> {
  return { enabled, path: METRICS_PATH, port: METRICS_PORT };
}

/**
 * The registry's `http.debug` section. With metrics on, distribution's debug server listens on
 * every address (it must, for Prometheus to reach it) and serves Prometheus there; otherwise it
 * stays on localhost.
 */
export function registryDebugConfig(enabled: boolean): Record<string, unknown> {
  if (!enabled) return { addr: 'localhost:5001' };
  return { addr: `:${METRICS_PORT}`, prometheus: { enabled: true, path: METRICS_PATH } };
}

export interface HarborServiceMonitorProps extends ServiceMonitorOptions {
  readonly instance: string;
  readonly version: string;
}

/**
 * A Prometheus operator ServiceMonitor for one Harbor instance. It selects by labels exactly
 * the Services that serve metrics, so no target of another Harbor Service shows up as down.
 */
export class HarborServiceMonitor extends Construct {
  public readonly resource: ApiObject;

  public constructor(scope: Construct, id: string, props: HarborServiceMonitorProps) {
    super(scope, id);

    const problems = new Problems();
    checkMetrics(problems, 'metrics', { enabled: true, serviceMonitor: props });
    const harborNamespace = Chart.of(this).namespace;
    const elsewhere = props.namespace !== undefined && props.namespace !== harborNamespace;
    problems.check(
      !elsewhere || harborNamespace !== undefined,
      'metrics.serviceMonitor.namespace',
      `${show(props.namespace)} needs Harbor's namespace to select its Services, and` +
        " the chart has none; give Harbor's chart a namespace, or leave this unset",
    );
    problems.throwIfAny('ServiceMonitor');

    // the selector labels of every component, less the component itself
    const selector = selectorLabels(props.instance, 'metrics');
    const instanceLabels = {
      'app.kubernetes.io/name': selector['app.kubernetes.io/name'],
      'app.kubernetes.io/instance': selector['app.kubernetes.io/instance'],
    };

    this.resource = new ApiObject(this, 'Resource', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: {
        name: props.instance,
        namespace: props.namespace,
        labels: { ...componentLabels(props.instance, 'metrics', props.version), ...props.labels },
      },
      spec: {
        selector: {
          matchLabels: instanceLabels,
          matchExpressions: [
            {
              key: 'app.kubernetes.io/component',
              operator: 'In',
              values: [...METRICS_COMPONENTS],
            },
          ],
        },
        ...(elsewhere ? { namespaceSelector: { matchNames: [harborNamespace!] } } : {}),
        endpoints: [
          {
            port: METRICS_PORT_NAME,
            path: METRICS_PATH,
            scheme: 'http',
            ...(props.interval ? { interval: props.interval } : {}),
          },
        ],
      },
    });
  }
}
