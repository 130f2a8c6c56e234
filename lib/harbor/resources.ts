import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { bytesOf, cpu, size } from '../private/checks';
import { Problems, show } from '../private/validation';

/**
 * CPU and memory of one component's container. Requests size the scheduling; only memory has a
 * limit, because a CPU limit throttles Harbor's bursts (pushes, scans) for no benefit.
 */
export interface ComponentResources {
  /** CPU request in Kubernetes notation, e.g. `100m` or `1`. */
  readonly cpu: string;
  /** Memory request, e.g. `256Mi` or `1Gi`. */
  readonly memory: string;
  /** @default - no memory limit */
  readonly memoryLimit?: string;
}

/** Records what is wrong with a component's resources, under `field`. */
export function checkResources(
  problems: Problems,
  field: string,
  resources: ComponentResources | undefined,
): void {
  if (!resources) return;
  problems.value(`${field}.cpu`, resources.cpu, cpu);
  problems.value(`${field}.memory`, resources.memory, size);
  problems.value(`${field}.memoryLimit`, resources.memoryLimit, size);
  const limit = resources.memoryLimit;
  if (limit && !size(limit) && !size(resources.memory)) {
    problems.check(
      bytesOf(resources.memory) <= bytesOf(limit),
      `${field}.memoryLimit`,
      `${show(limit)} is below the request ${show(resources.memory)}; Kubernetes refuses a` +
        ' limit under its request',
    );
  }
}

export function sizeOf(value: string, field: string): Size {
  const problem = size(value);
  if (problem) throw new Error(`${field}: ${show(value)} ${problem}`);
  const amount = Number(value.slice(0, -2));
  return value.endsWith('Gi') ? Size.gibibytes(amount) : Size.mebibytes(amount);
}

export function resourcesOf(resources: ComponentResources): kplus.ContainerResources {
  const problems = new Problems();
  checkResources(problems, 'resources', resources);
  problems.throwIfAny('resources');
  return {
    cpu: {
      request: resources.cpu.endsWith('m')
        ? kplus.Cpu.millis(Number(resources.cpu.slice(0, -1)))
        : kplus.Cpu.units(Number(resources.cpu)),
    },
    memory: {
      request: sizeOf(resources.memory, 'resources.memory'),
      limit: resources.memoryLimit
        ? sizeOf(resources.memoryLimit, 'resources.memoryLimit')
        : undefined,
    },
  };
}
