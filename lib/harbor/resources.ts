import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';

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

const CPU = /^(\d+m|\d+(\.\d+)?)$/;
const MEMORY = /^(\d+)(Mi|Gi)$/;

function cpuOf(value: string, field: string): kplus.Cpu {
  if (!CPU.test(value)) {
    throw new Error(
      `${field}: ${JSON.stringify(value)} is not a CPU amount; use e.g. "250m" or "1"`,
    );
  }
  return value.endsWith('m')
    ? kplus.Cpu.millis(Number(value.slice(0, -1)))
    : kplus.Cpu.units(Number(value));
}

export function sizeOf(value: string, field: string): Size {
  const match = MEMORY.exec(value);
  if (!match) {
    throw new Error(`${field}: ${JSON.stringify(value)} is not a size; use e.g. "512Mi" or "2Gi"`);
  }
  const amount = Number(match[1]);
  return match[2] === 'Gi' ? Size.gibibytes(amount) : Size.mebibytes(amount);
}

export function resourcesOf(resources: ComponentResources): kplus.ContainerResources {
  return {
    cpu: { request: cpuOf(resources.cpu, 'resources.cpu') },
    memory: {
      request: sizeOf(resources.memory, 'resources.memory'),
      limit: resources.memoryLimit
        ? sizeOf(resources.memoryLimit, 'resources.memoryLimit')
        : undefined,
    },
  };
}
