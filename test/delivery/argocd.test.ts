import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { overlay, parseConfig } from '../../lib/app/config';
import { writeOutput } from '../../lib/app/output';
import { DEFAULT_CONFIG } from '../../lib/app/profile';
import { buildStack } from '../../lib/app/stack';
import { ArgoCdApplications } from '../../lib/delivery/argocd';
import { expectValidObjects, loadYamlDir } from '../support/schema';

const ARGOCD = {
  repoURL: 'https://git.example.test/platform/gitops.git',
  targetRevision: 'main',
  path: 'clusters/dev/harbor',
};

/** Synthesizes into a folder, as Argo CD would find it in Git. */
function synthFiles(override: Record<string, unknown>): { dir: string; files: string[] } {
  const config = parseConfig(
    overlay(DEFAULT_CONFIG as any, { argocd: ARGOCD, ...override }),
    'test',
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-argocd-'));
  writeOutput(buildStack(config, dir));
  return { dir, files: fs.readdirSync(dir).sort() };
}

/** Argo CD's directory include globs, for the forms we write: `*` and `{a,b}`. */
function includes(pattern: string, file: string): boolean {
  const alternatives = pattern.startsWith('{') ? pattern.slice(1, -1).split(',') : [pattern];
  return alternatives.some((glob) =>
    new RegExp(`^${glob.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`).test(file),
  );
}

describe('Argo CD delivery', () => {
  let dir: string;
  let files: string[];
  let apps: any[];

  beforeAll(() => {
    ({ dir, files } = synthFiles({}));
    apps = loadYamlDir(dir).filter((o) => o.kind === 'Application');
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('syncs every manifest file through exactly one Application', () => {
    const manifests = files.filter((f) => f.endsWith('.yaml'));

    for (const file of manifests) {
      const owners = apps.filter((a) => includes(a.spec.source.directory.include, file));
      expect([file, owners.length]).toEqual([file, 1]);
    }
  });

  test('covers every file without storage or issuers of its own too', () => {
    const other = synthFiles({ nfs: { type: 'none' }, tls: { type: 'secret', secretName: 'tls' } });
    try {
      const others = loadYamlDir(other.dir).filter((o) => o.kind === 'Application');
      const manifests = other.files.filter((f) => f.endsWith('.yaml'));

      for (const file of manifests) {
        const owners = others.filter((a) => includes(a.spec.source.directory.include, file));
        expect([file, owners.length]).toEqual([file, 1]);
      }
    } finally {
      fs.rmSync(other.dir, { recursive: true, force: true });
    }
  });

  test('creates the namespace before what goes into it, without issuers of its own', () => {
    const other = synthFiles({ tls: { type: 'secret', secretName: 'tls' } });
    try {
      const objects = loadYamlDir(other.dir);
      const wave = (o: any) =>
        Number(o.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
      const namespace = objects.find((o) => o.kind === 'Namespace' && o.metadata.name === 'harbor');
      const issuer = objects.find((o) => o.kind === 'Issuer');

      expect(wave(namespace)).toBeLessThan(wave(issuer));
    } finally {
      fs.rmSync(other.dir, { recursive: true, force: true });
    }
  });

  test('orders the areas storage, Vault, issuers, then Harbor beside node trust', () => {
    const waves = Object.fromEntries(
      apps
        .filter((a) => a.metadata.annotations)
        .map((a) => [
          a.metadata.name,
          Number(a.metadata.annotations['argocd.argoproj.io/sync-wave']),
        ]),
    );

    expect(waves['harbor-storage']).toBeLessThan(waves['harbor-vault']);
    expect(waves['harbor-vault']).toBeLessThan(waves['harbor-pki']);
    expect(waves['harbor-pki']).toBeLessThan(waves.harbor);
    // the DaemonSet needs the bundle's ConfigMap, not Harbor
    expect(waves['harbor-node-trust']).toBe(waves.harbor);
  });

  test('skips the dry run of kinds whose CRD is not there yet (field failure #46)', () => {
    for (const app of apps.filter((a) => a.metadata.name !== 'harbor-apps')) {
      expect(app.spec.syncPolicy.syncOptions).toContain('SkipDryRunOnMissingResource=true');
    }
  });

  test('retries, and never makes a Certificate a hook (field failure #48)', () => {
    const certificates = loadYamlDir(dir).filter((o) => ['Certificate', 'Issuer'].includes(o.kind));

    for (const app of apps) expect(app.spec.syncPolicy.retry.limit).toBeGreaterThanOrEqual(5);
    for (const certificate of certificates) {
      expect(certificate.metadata.annotations?.['argocd.argoproj.io/hook']).toBeUndefined();
    }
  });

  test('syncs Harbor its certificates before its workloads', () => {
    const harbor = loadYamlDir(dir).filter((o) => o.metadata.namespace === 'harbor');
    const wave = (o: any) => Number(o.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);

    const tls = harbor.find((o) => o.kind === 'Certificate' && o.metadata.name === 'harbor-tls');
    const core = harbor.find((o) => o.kind === 'Deployment' && o.metadata.name === 'harbor-core');
    expect(wave(tls)).toBeLessThan(wave(core));
  });

  test('points every Application at the configured repository, revision and path', () => {
    for (const app of apps) {
      const root = app.metadata.name === 'harbor-apps';
      expect(app.spec.source).toMatchObject({
        repoURL: ARGOCD.repoURL,
        targetRevision: 'main',
        // the Applications live in a sub-folder that neither kubectl -f nor the areas read
        path: root ? 'clusters/dev/harbor/argocd' : 'clusters/dev/harbor',
      });
      expect(app.metadata.namespace).toBe('argocd');
    }
    expectValidObjects(loadYamlDir(dir));
  });

  test('has the root Application sync only the area Applications', () => {
    const root = apps.find((a) => a.metadata.name === 'harbor-apps');
    const argoFiles = fs.readdirSync(path.join(dir, 'argocd')).sort();

    expect(argoFiles).toEqual(['apps.k8s.yaml', 'root.k8s.yaml']);
    expect(argoFiles.filter((f) => includes(root.spec.source.directory.include, f))).toEqual([
      'apps.k8s.yaml',
    ]);
    // the area Applications read the top folder only, not the Applications' own
    expect(files).not.toContain('apps.k8s.yaml');
  });

  test('writes no Application when argocd is removed, for kubectl alone', () => {
    const config = parseConfig(overlay(DEFAULT_CONFIG as any, { argocd: null }), 'test');
    const stack = buildStack(config, os.tmpdir());

    expect(stack.argocd).toBeUndefined();
  });

  test('refuses a repository URL or path Argo CD could not use', () => {
    const chart = Testing.chart();

    expect(
      () =>
        new ArgoCdApplications(chart, 'Apps', {
          repoURL: 'git.example.test/gitops',
          path: '/abs/path/',
          areas: [],
        }),
    ).toThrow(/argocd\.repoURL: .*is not a Git repository URL[\s\S]*argocd\.path: /);
  });
});
