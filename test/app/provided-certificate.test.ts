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

let dir: string;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function ca(name: string, issuer?: string): void {
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  if (!issuer) {
    openssl(
      ...['req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`],
      ...['-days', '30', '-out', `${name}.crt`, '-addext', 'basicConstraints=critical,CA:TRUE'],
    );
    return;
  }
  openssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`);
  fs.writeFileSync(path.join(dir, `${name}.ext`), 'basicConstraints=critical,CA:TRUE,pathlen:0\n');
  openssl(
    ...['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`],
    ...['-CAcreateserial', '-days', '30', '-out', `${name}.crt`, '-extfile', `${name}.ext`],
  );
}

function leaf(host: string): void {
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'leaf.key');
  openssl('req', '-new', '-key', 'leaf.key', '-subj', `/CN=${host}`, '-out', 'leaf.csr');
  fs.writeFileSync(path.join(dir, 'leaf.ext'), `subjectAltName=DNS:${host}\n`);
  openssl(
    ...['x509', '-req', '-in', 'leaf.csr', '-CA', 'intermediate.crt', '-CAkey', 'intermediate.key'],
    ...['-CAcreateserial', '-days', '10', '-out', 'leaf.crt', '-extfile', 'leaf.ext'],
  );
}

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
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-chain-'));
  ca('root');
  ca('intermediate', 'root');
  leaf('registry.example.test');
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
