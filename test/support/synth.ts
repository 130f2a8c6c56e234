import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { overlay, parseConfig } from '../../lib/app/config';
import { DEFAULT_CONFIG } from '../../lib/app/profile';
import { Stack, buildStack } from '../../lib/app/stack';
import { expectValidObjects } from './schema';

export type K8sObject = Record<string, any>;

export interface Synthesized {
  readonly stack: Stack;
  readonly objects: K8sObject[];
}

/**
 * Synthesizes the app with an override laid over the built-in profile, as a config file is.
 * Every object it returns has passed strict schema validation.
 */
export function synthApp(override: Record<string, unknown> = {}): Synthesized {
  const config = parseConfig(overlay(DEFAULT_CONFIG as any, override as any), 'test');
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-synth-'));
  try {
    const stack = buildStack(config, outdir);
    const objects = stack.app.charts.flatMap((chart) => chart.toJson());
    expectValidObjects(objects);
    return { stack, objects };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** The one object of that kind and name; fails the test when there is none or several. */
export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const matches = objects.filter((o) => o.kind === kind && o.metadata?.name === name);
  if (matches.length !== 1) {
    const names = objects.filter((o) => o.kind === kind).map((o) => o.metadata?.name);
    throw new Error(
      `expected one ${kind} ${name}, found ${matches.length}; ${kind}s: ${names.join(', ')}`,
    );
  }
  return matches[0];
}

/** The objects in Harbor's namespace, leaving out the storage provisioner's. */
export function harborOnly(objects: K8sObject[], namespace = 'harbor'): K8sObject[] {
  return objects.filter((o) => o.metadata?.namespace === namespace);
}

export function ofKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** The pod spec of a Deployment, StatefulSet, Job or DaemonSet. */
export function podSpec(workload: K8sObject): K8sObject {
  return workload.spec.template.spec;
}

export function containerOf(workload: K8sObject, name: string): K8sObject {
  const all = [
    ...(podSpec(workload).containers ?? []),
    ...(podSpec(workload).initContainers ?? []),
  ];
  const container = all.find((c: K8sObject) => c.name === name);
  if (!container)
    throw new Error(`no container ${name} in ${workload.kind} ${workload.metadata.name}`);
  return container;
}

/** Value of a plain env var, or the secretKeyRef of one read from a Secret. */
export function envOf(container: K8sObject, name: string): any {
  const entry = (container.env ?? []).find((e: K8sObject) => e.name === name);
  if (!entry) return undefined;
  return entry.value ?? entry.valueFrom?.secretKeyRef ?? entry.valueFrom;
}

/** The volume a container mounts at a path, with the mount. */
export function mountAt(workload: K8sObject, container: K8sObject, mountPath: string) {
  const mount = (container.volumeMounts ?? []).find((m: K8sObject) => m.mountPath === mountPath);
  if (!mount) return undefined;
  const volume = podSpec(workload).volumes.find((v: K8sObject) => v.name === mount.name);
  return { mount, volume };
}
