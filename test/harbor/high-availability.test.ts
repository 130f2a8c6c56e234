import * as path from 'path';
import * as fs from 'fs';
import * as os from 'os';
import { loadConfig } from '../../lib/app/config';
import { buildStack } from '../../lib/app/stack';
import { expectValidObjects } from '../support/schema';
import { K8sObject, containerOf, find, ofKind, podSpec, synthApp } from '../support/synth';

const STATELESS = ['core', 'portal', 'registry', 'jobservice'];

const HA = {
  highAvailability: true,
  database: {
    type: 'external',
    host: 'postgres.example.test',
    password: { name: 'harbor-database', key: 'password' },
  },
  redis: { type: 'external', host: 'redis.example.test' },
};

function problemsOf(override: Record<string, unknown>): string {
  try {
    synthApp(override);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('synthesis succeeded');
}

/** Every secretKeyRef a pod template reads, as `name/key`. */
function secretRefs(workload: K8sObject): string[] {
  return [...(podSpec(workload).containers ?? []), ...(podSpec(workload).initContainers ?? [])]
    .flatMap((c: K8sObject) => c.env ?? [])
    .map((e: K8sObject) => e.valueFrom?.secretKeyRef)
    .filter((ref: K8sObject | undefined) => ref !== undefined)
    .map((ref: K8sObject) => `${ref.name}/${ref.key}`)
    .sort();
}

describe('high availability profile', () => {
  test('runs each stateless component twice, spread over nodes, with a disruption budget', () => {
    const { objects } = synthApp(HA);

    for (const component of STATELESS) {
      const deployment = find(objects, 'Deployment', `harbor-${component}`);
      const budget = find(objects, 'PodDisruptionBudget', `harbor-${component}`);
      const spread = podSpec(deployment).affinity.podAntiAffinity;
      const term = spread.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;

      expect(deployment.spec.replicas).toBe(2);
      expect(budget.spec.minAvailable).toBe(1);
      expect(budget.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
      expect(term.labelSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
      expect(term.topologyKey).toBe('kubernetes.io/hostname');
    }
  });

  test('runs no built-in database or Redis', () => {
    const { objects } = synthApp(HA);

    const statefulSets = ofKind(objects, 'StatefulSet').map((s) => s.metadata.name);

    expect(statefulSets).not.toContain('harbor-database');
    expect(statefulSets).not.toContain('harbor-redis');
  });

  test('sizes the components for production, and a setting overrides one', () => {
    const { objects } = synthApp({
      ...HA,
      resources: { registry: { cpu: '2', memory: '2Gi', memoryLimit: '8Gi' } },
    });

    const core = containerOf(find(objects, 'Deployment', 'harbor-core'), 'core');
    const registry = containerOf(find(objects, 'Deployment', 'harbor-registry'), 'registry');

    expect(core.resources).toEqual({
      requests: { cpu: '500m', memory: '1024Mi' },
      limits: { memory: '2048Mi' },
    });
    expect(registry.resources.requests).toEqual({ cpu: '2', memory: '2048Mi' });
    expect(registry.resources.limits).toEqual({ memory: '8192Mi' });
  });

  test('gives every replica the same shared secrets, from Secrets', () => {
    const { objects } = synthApp(HA);

    // the portal serves static files and holds no secret
    for (const component of ['core', 'registry', 'jobservice']) {
      const deployment = find(objects, 'Deployment', `harbor-${component}`);
      const refs = secretRefs(deployment);

      // one template for all replicas, and no value of its own: every secret comes from a Secret
      expect(refs.length).toBeGreaterThan(0);
      for (const container of podSpec(deployment).containers) {
        for (const entry of container.env ?? []) {
          expect(entry.name.match(/SECRET|PASSWORD|KEY/) && entry.value).toBeFalsy();
        }
      }
    }
    expect(secretRefs(find(objects, 'Deployment', 'harbor-core'))).toEqual(
      expect.arrayContaining(['harbor-core-secret/secret', 'harbor-csrf-key/CSRF_KEY']),
    );
  });

  test('refuses the built-in database and Redis', () => {
    const message = problemsOf({
      highAvailability: true,
      redis: { type: 'internal', storage: { storageClassName: 'standard', size: '1Gi' } },
    });

    expect(message).toMatch(/database\.type: "internal" is a single PostgreSQL pod/);
    expect(message).toMatch(/redis\.type: "internal" is a single Redis pod/);
  });

  test('refuses a single replica', () => {
    const message = problemsOf({ ...HA, replicas: { portal: 1 } });

    expect(message).toMatch(/replicas\.portal: 1 replica leaves no portal during a node drain/);
  });

  test('refuses a registry volume that only one node can mount', () => {
    const message = problemsOf({
      ...HA,
      registryStorage: { storageClassName: 'nfs-csi', size: '10Gi', accessMode: 'ReadWriteOnce' },
    });

    expect(message).toMatch(/replicas\.registry: 2 replicas share one volume/);
  });

  test('the example file synthesizes schema-valid', () => {
    const config = loadConfig(path.join(__dirname, '..', '..', 'examples', 'ha.yaml'));
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-ha-'));
    try {
      const objects = buildStack(config, outdir).app.charts.flatMap((c) => c.toJson());

      expectValidObjects(objects);
      expect(find(objects, 'Deployment', 'harbor-registry').spec.replicas).toBe(3);
      expect(ofKind(objects, 'PodDisruptionBudget')).toHaveLength(4);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
