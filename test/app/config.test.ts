import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadConfig, overlay } from '../../lib/app/config';
import { DEFAULT_CONFIG } from '../../lib/app/profile';
import { buildStack } from '../../lib/app/stack';
import { expectValidObjects } from '../support/schema';

function writeConfig(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-config-'));
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, text);
  return file;
}

function errorOf(text: string): string {
  try {
    loadConfig(writeConfig(text));
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration', () => {
  test('is the built-in non-production profile without a file', () => {
    const config = loadConfig();

    expect(config.host).toBe('harbor.example.test');
    expect(config.tls.type).toBe('vault');
    expect(config.registryStorage.storageClassName).toBe('nfs-csi');
  });

  test('overrides only what the file says', () => {
    const config = loadConfig(writeConfig('host: registry.example.test\nreplicas:\n  core: 2\n'));

    expect(config.host).toBe('registry.example.test');
    expect(config.replicas.core).toBe(2);
    expect(config.database).toEqual(DEFAULT_CONFIG.database);
  });

  test('replaces a section whose type changes', () => {
    const config = loadConfig(writeConfig('tls:\n  type: secret\n  secretName: commercial\n'));

    expect(config.tls).toEqual({ type: 'secret', secretName: 'commercial' });
  });

  test('names an unknown key with its full path', () => {
    expect(errorOf('registryStorage:\n  storageClass: fast\n')).toMatch(
      /registryStorage\.storageClass: unknown key/,
    );
  });

  test('names a wrong type with the value received', () => {
    expect(errorOf('port: "443"\n')).toMatch(/port: "443" is text; expected a number/);
  });

  test('lists the allowed values of a closed set', () => {
    expect(errorOf('logLevel: verbose\n')).toMatch(
      /logLevel: "verbose" is not allowed; use one of "debug", "info", "warning", "error", "fatal"/,
    );
    expect(errorOf('database:\n  type: mysql\n')).toMatch(
      /database\.type: "mysql" is not allowed; use one of "internal", "external"/,
    );
  });

  test('refuses a size without a unit', () => {
    expect(errorOf('registryStorage:\n  size: 50\n')).toMatch(/registryStorage\.size: 50 /);
  });

  test('reports every problem of a file together', () => {
    const message = errorOf('logLevel: verbose\nport: 0\nfoo: 1\n');

    expect(message).toMatch(/logLevel:/);
    expect(message).toMatch(/port: 0/);
    expect(message).toMatch(/foo: unknown key/);
  });

  test('refuses YAML that does not parse, or a file that is not a mapping', () => {
    expect(errorOf('host: [unclosed\n')).toMatch(/invalid YAML in/);
    expect(errorOf('- a\n- b\n')).toMatch(/must be a mapping of settings/);
  });

  test('refuses duplicate keys instead of keeping the last one', () => {
    expect(errorOf('host: a.example.test\nhost: b.example.test\n')).toMatch(/invalid YAML/);
  });

  test('refuses keys that would reach the prototype instead of a setting', () => {
    expect(errorOf('__proto__:\n  port: 8443\n')).toMatch(/__proto__: unknown key/);
    expect(errorOf('replicas:\n  __proto__:\n    core: 5\n')).toMatch(
      /replicas\.__proto__: unknown key/,
    );
  });

  test('refuses an empty path', () => {
    expect(() => loadConfig('')).toThrow(/configuration file path:\n  - is empty/);
  });

  test('refuses a missing file with its path', () => {
    expect(() => loadConfig('/nonexistent/harbor.yaml')).toThrow(
      /\/nonexistent\/harbor\.yaml.*cannot be read/s,
    );
  });

  test('overlay merges objects and replaces arrays and scalars', () => {
    expect(overlay({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: 2 })).toEqual({
      a: { b: 1, c: [3] },
      d: 2,
    });
  });

  test('the example files synthesize', () => {
    for (const file of ['examples/nonprod.yaml', 'examples/production.yaml', 'examples/ha.yaml']) {
      const config = loadConfig(path.join(__dirname, '..', '..', file));
      const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-example-'));
      try {
        const objects = buildStack(config, outdir).app.charts.flatMap((c) => c.toJson());
        expectValidObjects(objects);
      } finally {
        fs.rmSync(outdir, { recursive: true, force: true });
      }
    }
  });
});
