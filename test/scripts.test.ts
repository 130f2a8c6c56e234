import { execFileSync } from 'child_process';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');

describe('shell scripts', () => {
  test('pass shellcheck', () => {
    const scripts = ['.ci/run', 'scripts/install-test-tools.sh'];

    // shellcheck exits non-zero and prints each finding when a script has one
    expect(() =>
      execFileSync('shellcheck', ['--severity=style', ...scripts], {
        cwd: ROOT,
        encoding: 'utf-8',
      }),
    ).not.toThrow();
  });
});
