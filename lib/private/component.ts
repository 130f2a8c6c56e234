import { createHash } from 'crypto';
import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { componentLabels, selectorLabels } from './labels';
import {
  containerSecurity,
  dropAddressSelector,
  podSecurity,
  restrictPod,
  selectByLabels,
} from './workload';

/** Which Harbor instance and component an object belongs to. */
export interface Component {
  readonly instance: string;
  readonly component: string;
  readonly version: string;
  /** uid and gid the component's image runs as. */
  readonly uid: number;
  /** Let the kubelet give the pod's volumes to the group `uid`. @default true */
  readonly fsGroup?: boolean;
}

export function labelsOf(c: Component): Record<string, string> {
  return componentLabels(c.instance, c.component, c.version);
}

/** A container of a Harbor image: cached pulls, non-root as the image's user, no privileges. */
export function harborContainer(c: Component, props: kplus.ContainerProps): kplus.ContainerProps {
  return {
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    securityContext: containerSecurity(c.uid, c.uid),
    ...props,
  };
}

type WorkloadProps = Omit<
  kplus.DeploymentProps,
  'metadata' | 'select' | 'podMetadata' | 'securityContext'
>;

/** A Deployment selected by the component's stable labels, with a restricted pod. */
export function componentDeployment(
  scope: Construct,
  c: Component,
  name: string,
  props: WorkloadProps,
): kplus.Deployment {
  const labels = labelsOf(c);
  const deployment = new kplus.Deployment(scope, 'Resource', {
    ...props,
    metadata: { name, labels },
    select: false,
    podMetadata: { labels },
    securityContext: podSecurity(c.uid, c.uid, c.fsGroup),
  });
  selectByLabels(deployment, selectorLabels(c.instance, c.component));
  restrictPod(deployment);
  if ((props.replicas ?? 1) > 1) spreadReplicas(scope, deployment, c, name);
  return deployment;
}

/**
 * Replicas of one component prefer different nodes, and a drain never takes the last one: a
 * node maintenance then costs no outage.
 */
function spreadReplicas(
  scope: Construct,
  deployment: kplus.Deployment,
  c: Component,
  name: string,
): void {
  const selector = { matchLabels: selectorLabels(c.instance, c.component) };
  ApiObject.of(deployment).addJsonPatch(
    JsonPatch.add('/spec/template/spec/affinity', {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: { labelSelector: selector, topologyKey: 'kubernetes.io/hostname' },
          },
        ],
      },
    }),
  );
  new k8s.KubePodDisruptionBudget(scope, 'DisruptionBudget', {
    metadata: { name, labels: labelsOf(c) },
    spec: { minAvailable: k8s.IntOrString.fromNumber(1), selector },
  });
}

type StatefulProps = Omit<
  kplus.StatefulSetProps,
  'metadata' | 'select' | 'podMetadata' | 'securityContext' | 'service' | 'replicas'
>;

/**
 * A single-replica StatefulSet behind its Service. Its volumes are plain claims, not claim
 * templates, so the one claim survives the StatefulSet being deleted and recreated.
 */
export function componentStatefulSet(
  scope: Construct,
  c: Component,
  name: string,
  service: kplus.Service,
  props: StatefulProps,
): kplus.StatefulSet {
  const labels = labelsOf(c);
  const statefulSet = new kplus.StatefulSet(scope, 'Resource', {
    ...props,
    metadata: { name, labels },
    service,
    replicas: 1,
    select: false,
    podMetadata: { labels },
    securityContext: podSecurity(c.uid, c.uid, c.fsGroup),
  });
  selectByLabels(statefulSet, selectorLabels(c.instance, c.component));
  restrictPod(statefulSet);
  dropAddressSelector(service);
  return statefulSet;
}

/**
 * Annotates a pod template with a digest of the ConfigMaps its containers read at start, so a
 * changed setting rolls the pods instead of waiting for their next restart.
 */
export function rollOnChange(workload: kplus.Deployment, ...configMaps: kplus.ConfigMap[]): void {
  const digest = createHash('sha256')
    .update(JSON.stringify(configMaps.map((configMap) => configMap.data)))
    .digest('hex')
    .slice(0, 16);
  workload.podMetadata.addAnnotation(CONFIG_DIGEST, digest);
}

/** Annotation on pod templates that carries the digest of their configuration. */
export const CONFIG_DIGEST = 'cdk8s-harbor/config-digest';

/** The component's ClusterIP Service, selecting its pods by their stable labels. */
export function componentService(
  scope: Construct,
  c: Component,
  name: string,
  ports: kplus.ServicePort[],
): kplus.Service {
  const service = new kplus.Service(scope, 'Service', {
    metadata: { name, labels: labelsOf(c) },
    ports,
  });
  selectByLabels(service, selectorLabels(c.instance, c.component));
  return service;
}
