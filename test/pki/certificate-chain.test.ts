/**
 * checkCertificateChain against certificates made by the real `openssl` CLI: a root, an
 * intermediate it signs (CA, pathlen 0) and leaves the intermediate signs. Where a verdict can
 * be compared, `openssl verify` is run on the same files and must agree.
 *
 * Debian packages: openssl.
 */
import { spawnSync } from 'child_process';
import { X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { rootCertificates } from 'tls';
import {
  CertificateChainOptions,
  checkCertificateChain,
  readCertificateChain,
} from '../../lib/pki/certificate-chain';
import { TestPki, Validity } from '../support/certificates';

const HOST = 'registry.example.test';
const FIELD = 'tls.chainFile';

let dir: string;
let root: string;
let intermediate: string;
let leaf: string;
let expired: string;
let other: string;
let ipOnly: string;
let leafKey: string;

/** Whether `openssl verify` accepts the leaf file, with the given extra arguments. */
function opensslVerifies(args: string[]): boolean {
  const result = spawnSync('openssl', ['verify', ...args], { cwd: dir, encoding: 'utf8' });
  return result.status === 0;
}

function check(pem: string, options: Partial<CertificateChainOptions> = {}): string[] {
  return checkCertificateChain(pem, { host: HOST, roots: [root], ...options }, FIELD);
}

beforeAll(() => {
  const pki = new TestPki(fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-chain-')));
  const named = (name: string) => ({ commonName: `chain test ${name}` });
  const rootCa = pki.root('root', named('root'));
  const ca = pki.intermediate('intermediate', rootCa, named('intermediate'));
  const issue = (name: string, subjectAltNames: string[], validity?: Validity) =>
    pki.leaf(name, ca, { ...named(name), subjectAltNames, validity });
  const hostLeaf = issue('leaf', [`DNS:${HOST}`]);

  dir = pki.dir;
  root = rootCa.pem;
  intermediate = ca.pem;
  leaf = hostLeaf.pem;
  leafKey = fs.readFileSync(hostLeaf.keyFile, 'utf8');
  other = issue('other', ['DNS:other.example.test']).pem;
  ipOnly = issue('ip', ['IP:192.0.2.10']).pem;
  expired = issue('expired', [`DNS:${HOST}`], {
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2020-02-01T00:00:00Z'),
  }).pem;
  pki.writeChain('chain.crt', [hostLeaf, ca]);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('checkCertificateChain', () => {
  test('accepts leaf and intermediate ending at a given root, as openssl verify does', () => {
    const problems = check(leaf + intermediate);

    expect(problems).toEqual([]);
    expect(
      opensslVerifies([
        '-CAfile',
        'root.crt',
        '-untrusted',
        'intermediate.crt',
        '-verify_hostname',
        HOST,
        'leaf.crt',
      ]),
    ).toBe(true);
  });

  test('accepts the root appended after the intermediate', () => {
    expect(check(leaf + intermediate + root)).toEqual([]);
  });

  test('reports a missing intermediate for a leaf alone, as openssl verify does', () => {
    const problems = check(leaf);

    expect(problems).toEqual([
      `${FIELD}: the chain lacks an intermediate: certificate 1 (subject "CN=chain test leaf") ` +
        'is issued by "CN=chain test intermediate", which is neither in the file nor among ' +
        "the given roots; a leaf alone is the usual cause: append the CA's intermediate " +
        'certificates',
    ]);
    expect(opensslVerifies(['-CAfile', 'root.crt', 'leaf.crt'])).toBe(false);
  });

  test('reports a missing intermediate between leaf and root', () => {
    const problems = check(leaf + root);

    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('which did not issue it, and no certificate in the file did');
    expect(problems[0]).toContain('the chain lacks an intermediate');
  });

  test('reports the order of a reversed chain', () => {
    const problems = check(intermediate + leaf);

    expect(problems).toContain(
      `${FIELD}: certificate 1 (subject "CN=chain test intermediate") is followed by ` +
        'certificate 2 (subject "CN=chain test leaf"), which did not issue it: order the file ' +
        'leaf first, then the intermediates, each after the certificate it signed, and the ' +
        'root last or omitted',
    );
    expect(problems.some((p) => p.includes('certificate 1') && p.includes('is a CA'))).toBe(true);
  });

  test('reports a leaf issued for another host, as openssl verify does', () => {
    const problems = check(other + intermediate);

    expect(problems).toEqual([
      `${FIELD}: the leaf does not cover "${HOST}" (subjectAltName "DNS:other.example.test"); ` +
        `clients of ${HOST} reject it: use the certificate issued for this host or reissue it ` +
        `with DNS:${HOST}`,
    ]);
    expect(
      opensslVerifies([
        '-CAfile',
        'root.crt',
        '-untrusted',
        'intermediate.crt',
        '-verify_hostname',
        HOST,
        'other.crt',
      ]),
    ).toBe(false);
  });

  test('names the port in the host message when it is not 443', () => {
    const problems = check(other + intermediate, { port: 30003 });

    expect(problems[0]).toContain(`clients of ${HOST}:30003 reject it`);
  });

  test('reports an IP-only leaf for a DNS host', () => {
    const problems = check(ipOnly + intermediate);

    expect(problems).toEqual([
      `${FIELD}: the leaf names only IP addresses ("IP Address:192.0.2.10") but "${HOST}" is a ` +
        `DNS name; reissue it with DNS:${HOST} among its subjectAltName entries`,
    ]);
  });

  test('accepts an IP-only leaf for its IP address', () => {
    expect(check(ipOnly + intermediate, { host: '192.0.2.10' })).toEqual([]);
  });

  test('reports an expired leaf, as openssl verify does', () => {
    const problems = check(expired + intermediate);

    expect(problems).toEqual([
      `${FIELD}: certificate 1 (subject "CN=chain test expired") expired on ` +
        'Feb  1 00:00:00 2020 GMT; put the renewed certificate in the file (an expired ' +
        'cross-signed root can simply be removed)',
    ]);
    expect(
      opensslVerifies(['-CAfile', 'root.crt', '-untrusted', 'intermediate.crt', 'expired.crt']),
    ).toBe(false);
  });

  test('reports certificates not yet valid at the given time', () => {
    const problems = check(leaf + intermediate, { now: new Date('2000-01-01T00:00:00Z') });

    expect(problems).toHaveLength(2);
    expect(problems.every((p) => p.includes('is not valid before'))).toBe(true);
  });

  test('refuses a private key without printing it', () => {
    const problems = check(leaf + intermediate + leafKey);
    const keyBody = leafKey.split('\n')[1];

    expect(problems).toEqual([
      `${FIELD}: holds a private key (EC PRIVATE KEY); a chain file is for Git and must hold ` +
        'only the public certificates: remove the key, and rotate it if it was ever committed ' +
        'or shared',
    ]);
    expect(keyBody.length).toBeGreaterThan(20);
    expect(problems.join('\n')).not.toContain(keyBody);
  });

  test('without roots, fails a private chain because no public root issued it', () => {
    const problems = checkCertificateChain(
      leaf + intermediate,
      { host: HOST, rootsField: 'tls.rootsFile' },
      FIELD,
    );

    // the intermediate is there: the fix is trusting its private root, not adding another
    expect(problems).toEqual([
      `${FIELD}: ends with the CA certificate 2 (subject "CN=chain test intermediate"), issued ` +
        'by "CN=chain test root", which is not among the public roots Node knows; if that is ' +
        'your private root, name it in tls.rootsFile; otherwise append the intermediate that ' +
        'signed it',
    ]);
  });

  test('without roots, fails a chain ending at a private root', () => {
    const problems = checkCertificateChain(leaf + intermediate + root, { host: HOST }, FIELD);

    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(
      'ends with the self-signed certificate 3 (subject "CN=chain test root"), which is not ' +
        'among the public roots Node knows',
    );
  });

  test('without roots, anchors a chain at a public root Node knows', () => {
    const now = new Date();
    const publicRoot = rootCertificates.find((pem) => {
      const certificate = new X509Certificate(pem);
      return new Date(certificate.validFrom) < now && now < new Date(certificate.validTo);
    });

    const problems = checkCertificateChain(publicRoot ?? '', { host: HOST }, FIELD);

    // A root alone is no server certificate, but it is a trusted anchor.
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('is a CA certificate (basicConstraints CA:TRUE)');
  });

  test('reports input that is not PEM', () => {
    expect(check('not a certificate\n')).toEqual([
      `${FIELD}: holds no PEM certificate (-----BEGIN CERTIFICATE-----); a DER file converts ` +
        'with `openssl x509 -inform der -in FILE`',
    ]);
    expect(check('')[0]).toContain('is empty');
  });

  test('reports a certificate that cannot be parsed', () => {
    const damaged = leaf.replace(/\n(.)(.)/, '\n$2$1');
    const problems = check(damaged + intermediate);

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^tls\.chainFile: certificate 1 cannot be parsed \(/);
  });

  test('reports a truncated file', () => {
    const problems = check(leaf + intermediate.slice(0, 100));

    expect(problems[0]).toContain('without a matching END line');
  });
});

describe('readCertificateChain', () => {
  test('checks the chain in a file', () => {
    const problems = readCertificateChain(
      path.join(dir, 'chain.crt'),
      { host: HOST, roots: [root] },
      FIELD,
    );

    expect(problems).toEqual([]);
  });

  test('reports a file that cannot be read', () => {
    const missing = path.join(dir, 'missing.crt');

    const problems = readCertificateChain(missing, { host: HOST }, FIELD);

    expect(problems).toEqual([
      `${FIELD}: ${JSON.stringify(missing)} cannot be read (ENOENT); name a file holding the ` +
        'PEM chain the TLS Secret serves as tls.crt',
    ]);
  });

  test.each(['/dev/zero', '/tmp'])(
    'refuses %s, which is no chain file, before reading it',
    (file) => {
      expect(readCertificateChain(file, { host: HOST }, FIELD)).toEqual([
        `${FIELD}: ${JSON.stringify(file)} is not a PEM file of at most 1 MiB; name the file ` +
          'holding the chain the TLS Secret serves as tls.crt',
      ]);
    },
  );
});
