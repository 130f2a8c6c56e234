import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectValidObjects, loadYamlDir } from './support/schema';

const ROOT = path.join(__dirname, '..');

/** The TypeScript example of the README's section on using the constructs. */
function readmeExample(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf-8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks).toHaveLength(1);
  return blocks[0];
}

describe('the npm package', () => {
  test('runs the README example in another cdk8s app', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-pack-'));
    try {
      const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], {
        cwd: ROOT,
        encoding: 'utf-8',
      })
        .trim()
        .split('\n')
        .pop()!;
      const installed = path.join(work, 'app', 'node_modules', 'cdk8s-harbor');
      fs.mkdirSync(installed, { recursive: true });
      execFileSync('tar', [
        '-xzf',
        path.join(work, packed),
        '-C',
        installed,
        '--strip-components=1',
      ]);
      fs.writeFileSync(path.join(work, 'app', 'main.ts'), readmeExample());
      // type-check the example as a user's strict project would, against the packed typings
      fs.writeFileSync(
        path.join(work, 'app', 'tsconfig.json'),
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
        { cwd: path.join(work, 'app'), encoding: 'utf-8' },
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
        { cwd: path.join(work, 'app') },
      );

      // the peer dependencies come from this checkout, as the consumer's own install would
      execFileSync(process.execPath, ['main.js'], {
        cwd: path.join(work, 'app'),
        env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
        encoding: 'utf-8',
      });

      expect(
        fs.existsSync(path.join(installed, 'lib', 'harbor', 'scripts', 'ensure-secrets.py')),
      ).toBe(true);
      const objects = loadYamlDir(path.join(work, 'app', 'dist'));
      expect(objects.map((o) => o.metadata.name)).toEqual(
        expect.arrayContaining(['harbor-core', 'registry-ca', 'harbor-tls']),
      );
      expect(objects.filter((o) => o.kind === 'Job')[0].metadata.namespace).toBe('registry');
      expectValidObjects(objects);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
