import * as fs from 'fs';
import * as path from 'path';

/** Every file under a folder, by relative path, with its text: for comparing outputs. */
export function readTree(dir: string): Record<string, string> {
  return Object.fromEntries(
    (fs.readdirSync(dir, { recursive: true }) as string[])
      .filter((file) => fs.statSync(path.join(dir, file)).isFile())
      .sort()
      .map((file) => [file, fs.readFileSync(path.join(dir, file), 'utf-8')]),
  );
}
