/**
 * A provided (commercial) certificate whose public chain is kept beside the configuration:
 * synthesis checks it as clients will (field failure 22). Certificates come from the real
 * `openssl` (Debian package openssl).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadConfig } from '../../lib/app/config';
import { buildStack } from '../../lib/app/stack';
import { TestPki } from '../support/certificates';

let dir: string;

function synth(chain: string[]): void {
  fs.writeFileSync(
    path.join(dir, 'chain.pem'),
    chain.map((name) => fs.readFileSync(path.join(dir, `${name}.crt`), 'utf-8')).join(''),
  );
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    file,
    [
      'host: registry.example.test',
      'tls: { type: secret, secretName: registry-tls, chainFile: chain.pem, rootsFile: root.crt }',
      'trust: null',
      '',
    ].join('\n'),
  );
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-chain-out-'));
  try {
    buildStack(loadConfig(file), outdir);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

beforeAll(() => {
  const pki = new TestPki(fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-chain-')));
  const root = pki.root('root');
  const intermediate = pki.intermediate('intermediate', root);
  pki.leaf('leaf', intermediate, {
    commonName: 'registry.example.test',
    subjectAltNames: ['DNS:registry.example.test'],
  });
  dir = pki.dir;
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('a provided certificate with its public chain', () => {
  test('passes leaf first with its intermediate, relative to the configuration file', () => {
    expect(() => synth(['leaf', 'intermediate'])).not.toThrow();
    expect(() =>
      execFileSync(
        'openssl',
        ['verify', '-CAfile', 'root.crt', '-untrusted', 'intermediate.crt', 'leaf.crt'],
        { cwd: dir, stdio: 'pipe' },
      ),
    ).not.toThrow();
  });

  test('stops synthesis when the intermediate is missing', () => {
    expect(() => synth(['leaf'])).toThrow(/tls\.chainFile: .*lacks an intermediate/);
  });

  test('stops synthesis when the order is reversed', () => {
    expect(() => synth(['intermediate', 'leaf'])).toThrow(/tls\.chainFile: .*leaf first/);
  });
});
