import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');

describe('shell scripts', () => {
  test('pass shellcheck', () => {
    // every shell script we emit into a ConfigMap, besides our own tooling
    const emitted = fs
      .readdirSync(path.join(ROOT, 'lib'), { recursive: true, encoding: 'utf-8' })
      .filter((file) => file.endsWith('.sh'))
      .map((file) => path.join('lib', file));
    const scripts = ['.ci/run', 'scripts/install-test-tools.sh', ...emitted];

    expect(emitted).toEqual(expect.arrayContaining(['lib/pki/scripts/node-trust.sh']));

    // shellcheck exits non-zero and prints each finding when a script has one
    expect(() =>
      execFileSync('shellcheck', ['--severity=style', ...scripts], {
        cwd: ROOT,
        encoding: 'utf-8',
      }),
    ).not.toThrow();
  });
});
