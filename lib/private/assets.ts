import * as fs from 'fs';
import * as path from 'path';

let root: string | undefined;

/**
 * The folder of this package. Compiled code (build/lib/...), the app bundle (build/main.js) and
 * ts-jest (lib/...) run from different depths, so walk up to our own package.json.
 */
function packageRoot(): string {
  if (root) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (
      fs.existsSync(manifest) &&
      JSON.parse(fs.readFileSync(manifest, 'utf-8')).name === 'cdk8s-harbor'
    ) {
      root = dir;
      return dir;
    }
    if (path.dirname(dir) === dir)
      throw new Error(`cdk8s-harbor: package root not found from ${__dirname}`);
  }
}

/** A file shipped with the library, such as a script a Job runs, by its path in the package. */
export function readAsset(relative: string): string {
  return fs.readFileSync(path.join(packageRoot(), relative), 'utf-8');
}
