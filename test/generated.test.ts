import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readTree } from './support/files';

const ROOT = path.join(__dirname, '..');
const SHARED = process.env.HARBOR_SHARED_DIR ?? path.join(ROOT, '..', 'shared');

/**
 * Runs generators into one temporary folder and compares what they wrote with the committed
 * folder, which holds nothing else.
 */
function expectFresh(generators: Record<string, string>, committed: string): void {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-generated-'));
  try {
    for (const [script, envVar] of Object.entries(generators)) {
      execFileSync(process.execPath, [path.join(ROOT, 'scripts', script)], {
        cwd: ROOT,
        env: { ...process.env, [envVar]: out, HARBOR_SHARED_DIR: SHARED },
        stdio: 'pipe',
      });
    }

    expect(readTree(out)).toEqual(readTree(path.join(ROOT, committed)));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

// The generators read the shared research folder, which only the project's own machines have;
// a user's clone runs everything else and relies on the committed output.
const withShared = fs.existsSync(path.join(SHARED, 'schemas', 'k8s')) ? describe : describe.skip;

withShared('generated files', () => {
  test('imports/ is what cdk8s import writes from the shared schemas and CRDs', () => {
    expectFresh({ 'import.js': 'IMPORTS_OUT' }, 'imports');
  });

  test('test/schemas/ is what the derive scripts write', () => {
    expectFresh(
      { 'derive-schemas.js': 'SCHEMAS_OUT', 'derive-harbor-api.js': 'HARBOR_API_OUT' },
      'test/schemas',
    );
  });
});
