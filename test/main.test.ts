import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readTree } from './support/files';

const ROOT = path.join(__dirname, '..');
const BUNDLE = path.join(ROOT, 'build', 'test-main.js');

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BUNDLE, ...args], {
    cwd: ROOT,
    env: { ...process.env, HARBOR_CONFIG: '', CDK8S_OUTDIR: '', ...env },
    encoding: 'utf-8',
  });
}

describe('the synth command', () => {
  let work: string;

  beforeAll(() => {
    // the same bundle `npm run synth` runs, under another name so a parallel synth is unharmed
    execFileSync(
      path.join(ROOT, 'node_modules', '.bin', 'esbuild'),
      [
        'main.ts',
        '--bundle',
        '--platform=node',
        '--target=node20',
        `--outfile=${BUNDLE}`,
        '--log-level=warning',
      ],
      { cwd: ROOT },
    );
  });

  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-main-'));
  });

  afterEach(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('writes the built-in profile and prints a summary', () => {
    const out = path.join(work, 'dist');

    const result = run(['--out', out]);

    expect(result.status).toBe(0);
    expect(Object.keys(readTree(out))).toEqual([
      '0000-storage.k8s.yaml',
      '0001-namespace.k8s.yaml',
      '0002-vault.k8s.yaml',
      '0003-pki.k8s.yaml',
      '0004-harbor.k8s.yaml',
      '0005-node-trust.k8s.yaml',
      'argocd/apps.k8s.yaml',
      'argocd/root.k8s.yaml',
      'images.txt',
    ]);
    expect(result.stdout).toMatch(/wrote \d+ objects in 8 files/);
    expect(result.stdout).toMatch(/Harbor v2\.15\.2 at https:\/\/harbor\.example\.test/);
    expect(result.stdout).toMatch(/secrets created in the cluster by Job: .*harbor-secret-key/);
  });

  test("names the profile's placeholders a config file leaves set", () => {
    const config = path.join(work, 'config.yaml');
    fs.writeFileSync(config, 'host: registry.example.com\n');

    const result = run(['--config', config, '--out', path.join(work, 'dist')]);

    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(
      /placeholders of the built-in profile still set: .*nfs\.export\.server.*argocd\.repoURL/,
    );
    expect(result.stdout).not.toMatch(/placeholders.*\bhost\b/);
  });

  test('reads the config file from --config or HARBOR_CONFIG', () => {
    const config = path.join(work, 'config.yaml');
    fs.writeFileSync(config, 'host: flag.example.test\n');

    const byFlag = run(['--config', config, '--out', path.join(work, 'a')]);
    const byEnv = run(['--out', path.join(work, 'b')], { HARBOR_CONFIG: config });

    expect(byFlag.stdout).toMatch(/https:\/\/flag\.example\.test/);
    expect(readTree(path.join(work, 'b'))).toEqual(readTree(path.join(work, 'a')));
    expect(byEnv.status).toBe(0);
  });

  test('leaves the output untouched and exits non-zero on a bad config', () => {
    const out = path.join(work, 'dist');
    expect(run(['--out', out]).status).toBe(0);
    const before = readTree(out);
    const config = path.join(work, 'bad.yaml');
    fs.writeFileSync(config, 'host: registry.example.test\nlogLevel: loud\n');

    const result = run(['--config', config, '--out', out]);

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/logLevel: "loud" is not allowed/);
    expect(result.stderr).toMatch(/was left as it was/);
    expect(readTree(out)).toEqual(before);
    expect(fs.readdirSync(work).sort()).toEqual(['bad.yaml', 'dist']);
  });

  test('replaces the files of an earlier synth', () => {
    const out = path.join(work, 'dist');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, '0009-stale.k8s.yaml'), 'kind: Stale\n');

    expect(run(['--out', out]).status).toBe(0);

    expect(fs.existsSync(path.join(out, '0009-stale.k8s.yaml'))).toBe(false);
  });

  test('never deletes what synth did not write', () => {
    const project = path.join(work, 'project');
    fs.mkdirSync(path.join(project, '.git'), { recursive: true });
    fs.writeFileSync(path.join(project, 'main.go'), 'package main\n');
    const file = path.join(work, 'notes.txt');
    fs.writeFileSync(file, 'keep\n');

    const intoProject = run(['--out', project]);
    const intoFile = run(['--out', file]);
    const empty = run(['--out', '']);

    expect(intoProject.status).toBe(1);
    expect(intoProject.stderr).toMatch(/holds files synth did not write \(\.git, main\.go\)/);
    expect(fs.readdirSync(project).sort()).toEqual(['.git', 'main.go']);
    expect(intoFile.stderr).toMatch(/notes\.txt is a file; name a directory/);
    expect(fs.readFileSync(file, 'utf-8')).toBe('keep\n');
    expect(empty.stderr).toMatch(/--out: is empty/);
  });

  test('writes through a symlinked output directory', () => {
    const real = path.join(work, 'gitops');
    fs.mkdirSync(real);
    fs.symlinkSync(real, path.join(work, 'dist'));

    expect(run(['--out', path.join(work, 'dist')]).status).toBe(0);

    expect(fs.lstatSync(path.join(work, 'dist')).isSymbolicLink()).toBe(true);
    expect(Object.keys(readTree(real))).toHaveLength(9);
  });

  test('names a config file that came from HARBOR_CONFIG', () => {
    const result = run(['--out', path.join(work, 'dist')], { HARBOR_CONFIG: '/nonexistent.yaml' });

    expect(result.stderr).toMatch(/\/nonexistent\.yaml \(from HARBOR_CONFIG\)/);
  });

  test('is byte-identical across runs (field failure #49)', () => {
    run(['--out', path.join(work, 'one')]);
    run(['--out', path.join(work, 'two')]);

    expect(readTree(path.join(work, 'two'))).toEqual(readTree(path.join(work, 'one')));
  });

  test('prints the restore Job without writing anything', () => {
    const result = run(['--restore-job', 'latest', '--out', path.join(work, 'dist')]);

    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^kind: Job$/m);
    expect(result.stdout).toMatch(/restore-database\.sh\n\s+- latest/);
    expect(fs.existsSync(path.join(work, 'dist'))).toBe(false);
    expect(run(['--restore-job', '../etc/passwd']).status).toBe(1);
  });

  test('refuses an unknown flag', () => {
    const result = run(['--frobnicate']);

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/frobnicate/);
  });
});
