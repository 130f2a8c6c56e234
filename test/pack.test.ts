import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectValidObjects, loadYamlDir } from './support/schema';

const ROOT = path.join(__dirname, '..');

/** The TypeScript examples of the README's section on using the constructs. */
function readmeExamples(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf-8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks.length).toBeGreaterThan(0);
  return blocks;
}

describe('the npm package', () => {
  test('runs the README examples in another cdk8s app', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-pack-'));
    try {
      const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], {
        cwd: ROOT,
        encoding: 'utf-8',
      })
        .trim()
        .split('\n')
        .pop()!;
      const installed = path.join(work, 'package');
      fs.mkdirSync(installed, { recursive: true });
      execFileSync('tar', [
        '-xzf',
        path.join(work, packed),
        '-C',
        installed,
        '--strip-components=1',
      ]);
      readmeExamples().forEach((example, i) => runExample(work, installed, example, i));
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

/** Type-checks, bundles and runs one example as a cdk8s app of its own beside the package. */
function runExample(work: string, installed: string, example: string, index: number): void {
  const app = path.join(work, `app${index}`);
  fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
  fs.symlinkSync(installed, path.join(app, 'node_modules', 'cdk8s-harbor'));
  fs.writeFileSync(path.join(app, 'main.ts'), example);
  // type-check the example as a user's strict project would, against the packed typings
  fs.writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        module: 'commonjs',
        target: 'ES2022',
        types: [],
        baseUrl: '.',
        paths: { '*': [path.join(ROOT, 'node_modules', '*')] },
      },
      files: ['main.ts'],
    }),
  );
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
    { cwd: app, encoding: 'utf-8' },
  );
  execFileSync(
    path.join(ROOT, 'node_modules', '.bin', 'esbuild'),
    [
      'main.ts',
      '--bundle',
      '--platform=node',
      '--packages=external',
      '--outfile=main.js',
      '--log-level=warning',
      '--tsconfig-raw={}',
    ],
    { cwd: app },
  );

  // the peer dependencies come from this checkout, as the consumer's own install would
  execFileSync(process.execPath, ['main.js'], {
    cwd: app,
    env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
    encoding: 'utf-8',
  });

  expect(fs.existsSync(path.join(installed, 'lib', 'harbor', 'scripts', 'ensure-secrets.py'))).toBe(
    true,
  );
  const objects = loadYamlDir(path.join(app, 'dist'));
  expect(objects.map((o) => o.metadata.name)).toEqual(
    expect.arrayContaining(['harbor-core', 'registry-ca', 'harbor-tls']),
  );
  expect(objects.filter((o) => o.kind === 'Job')[0].metadata.namespace).toBe('registry');
  expectValidObjects(objects);
}
