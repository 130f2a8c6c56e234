import { ApiObject, Chart, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';

/** A pod-owning workload of cdk8s-plus (Deployment, StatefulSet, Job, DaemonSet). */
type PodWorkload = kplus.Deployment | kplus.StatefulSet | kplus.Job | kplus.DaemonSet;

/**
 * The container security context Harbor's images run with: non-root, no privilege escalation.
 * The root filesystem stays writable because Harbor's entrypoints append the custom CAs to the
 * image's trust bundle at start (install_cert.sh); a read-only root breaks every component.
 */
export function containerSecurity(
  user: number,
  group: number,
): kplus.ContainerSecurityContextProps {
  return {
    user,
    group,
    ensureNonRoot: true,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: false,
  };
}

export function podSecurity(
  user: number,
  group: number,
  fsGroup = true,
): kplus.PodSecurityContextProps {
  return {
    user,
    group,
    fsGroup: fsGroup ? group : undefined,
    ensureNonRoot: true,
    // a recursive chown of a large registry volume at every start takes minutes on NFS
    fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
  };
}

/**
 * Completes what cdk8s-plus-27 cannot express: every container drops all capabilities and the
 * pod uses the runtime's default seccomp profile, as Pod Security "restricted" requires.
 */
export function restrictPod(workload: PodWorkload): void {
  const apiObject = ApiObject.of(workload);
  const pod = '/spec/template/spec';
  dropAddressLabel(workload);
  apiObject.addJsonPatch(
    JsonPatch.add(`${pod}/securityContext/seccompProfile`, {
      type: 'RuntimeDefault',
    }),
  );
  const groups: Array<[string, number]> = [
    ['containers', workload.containers.length],
    ['initContainers', workload.initContainers.length],
  ];
  for (const [field, count] of groups) {
    for (let i = 0; i < count; i++) {
      apiObject.addJsonPatch(
        JsonPatch.add(`${pod}/${field}/${i}/securityContext/capabilities`, {
          drop: ['ALL'],
        }),
      );
    }
  }
}

export interface ProbeTiming {
  readonly initialDelay?: number;
  readonly period?: number;
  readonly timeout?: number;
  readonly failureThreshold?: number;
}

function probeOptions(timing: ProbeTiming): kplus.ProbeOptions {
  return {
    initialDelaySeconds: Duration.seconds(timing.initialDelay ?? 0),
    periodSeconds: Duration.seconds(timing.period ?? 10),
    timeoutSeconds: Duration.seconds(timing.timeout ?? 5),
    failureThreshold: timing.failureThreshold ?? 3,
  };
}

export function httpProbe(
  path: string,
  port: number,
  timing: ProbeTiming = {},
  scheme = kplus.ConnectionScheme.HTTP,
): kplus.Probe {
  return kplus.Probe.fromHttpGet(path, { port, scheme, ...probeOptions(timing) });
}

/**
 * The three probes of one HTTP endpoint: startup gives the process `startupFailures` tries to
 * come up, then liveness and readiness check it every ten seconds.
 */
export function httpProbes(
  path: string,
  port: number,
  startup: ProbeTiming,
  failureThreshold = 3,
  scheme = kplus.ConnectionScheme.HTTP,
): { startup: kplus.Probe; liveness: kplus.Probe; readiness: kplus.Probe } {
  return {
    startup: httpProbe(path, port, startup, scheme),
    liveness: httpProbe(path, port, { period: 10, failureThreshold }, scheme),
    readiness: httpProbe(path, port, { period: 10, failureThreshold }, scheme),
  };
}

export function tcpProbe(port: number, timing: ProbeTiming = {}): kplus.Probe {
  return kplus.Probe.fromTcpSocket({ port, ...probeOptions(timing) });
}

export function commandProbe(command: string[], timing: ProbeTiming = {}): kplus.Probe {
  return kplus.Probe.fromCommand(command, probeOptions(timing));
}

const ADDRESS_LABEL = 'cdk8s.io~1metadata.addr';

/**
 * cdk8s-plus labels pods with their construct path; our selectors never use it, and a label
 * that moves with a code refactoring would roll every pod for nothing.
 */
export function dropAddressLabel(workload: PodWorkload): void {
  ApiObject.of(workload).addJsonPatch(
    JsonPatch.remove(`/spec/template/metadata/labels/${ADDRESS_LABEL}`),
  );
}

/**
 * Removes the construct-path label a cdk8s-plus StatefulSet adds to the selector of the
 * Service it is given, so that the Service selects by our labels alone.
 */
export function dropAddressSelector(service: kplus.Service): void {
  ApiObject.of(service).addJsonPatch(JsonPatch.remove(`/spec/selector/${ADDRESS_LABEL}`));
}

/** Selects pods by exact labels, instead of cdk8s-plus's construct-path label. */
export function selectByLabels(
  target: kplus.Deployment | kplus.StatefulSet | kplus.Service,
  labels: Record<string, string>,
): void {
  if (target instanceof kplus.Service) {
    for (const [key, value] of Object.entries(labels)) target.selectLabel(key, value);
  } else {
    target.select(kplus.LabelSelector.of({ labels }));
  }
}

/** Drops the namespace a chart gives every object: a cluster-scoped kind carries none. */
export function clusterScoped(object: ApiObject): void {
  if (Chart.of(object).namespace !== undefined) {
    object.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
}
