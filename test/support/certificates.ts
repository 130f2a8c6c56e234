/**
 * Certificates made by the real `openssl` CLI, for tests that need a chain clients verify: a
 * root, intermediates it signs (CA, pathlen 0) and server leaves with subjectAltNames. Each is
 * `<name>.key` (an EC P-256 key) and `<name>.crt` in one directory, so `openssl verify` can be
 * run on the same files.
 *
 * Debian packages: openssl.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface Certificate {
  readonly name: string;
  readonly certFile: string;
  /** The private key, in openssl's `EC PRIVATE KEY` form. */
  readonly keyFile: string;
  /** The certificate, PEM-encoded. */
  readonly pem: string;
}

export interface RootOptions {
  /** @default - the certificate's name */
  readonly commonName?: string;
  /** @default 2 */
  readonly days?: number;
}

/** Fixed dates, for a certificate that has expired or is not valid yet. */
export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface SignedOptions extends RootOptions {
  /**
   * Fixed dates in place of `days`. Signed with `openssl ca` then, the CLI's only way to set a
   * start date other than now.
   * @default - valid from now for `days`
   */
  readonly validity?: Validity;
}

export interface LeafOptions extends SignedOptions {
  /** In openssl's notation: `DNS:registry.example.test`, `IP:192.0.2.10`. */
  readonly subjectAltNames: string[];
}

/** A directory of keys and certificates, each made by the openssl CLI. */
export class TestPki {
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** A self-signed CA. */
  root(name: string, options: RootOptions = {}): Certificate {
    const key = this.newKey(name);

    this.openssl([
      ...['req', '-x509', '-new', '-key', key, '-subj', subject(name, options)],
      ...['-days', String(options.days ?? 2), '-sha256', '-out', this.file(name, 'crt')],
      ...['-addext', 'basicConstraints = critical, CA:true'],
      ...['-addext', 'keyUsage = critical, keyCertSign, cRLSign'],
    ]);
    return this.read(name);
  }

  /** A CA that may sign leaves but no further CAs. */
  intermediate(name: string, issuer: Certificate, options: SignedOptions = {}): Certificate {
    return this.sign(name, issuer, options, [
      'basicConstraints = critical, CA:true, pathlen:0',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
    ]);
  }

  /** A TLS server certificate for the given names and addresses. */
  leaf(name: string, issuer: Certificate, options: LeafOptions): Certificate {
    return this.sign(name, issuer, options, [
      'basicConstraints = critical, CA:false',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = serverAuth',
      `subjectAltName = ${options.subjectAltNames.join(', ')}`,
      'authorityKeyIdentifier = keyid',
    ]);
  }

  /** Writes the certificates one after the other, as a server's chain file; returns its path. */
  writeChain(file: string, certificates: Certificate[]): string {
    const chainFile = path.join(this.dir, file);
    fs.writeFileSync(chainFile, certificates.map((c) => c.pem).join(''));
    return chainFile;
  }

  private sign(
    name: string,
    issuer: Certificate,
    options: SignedOptions,
    extensions: string[],
  ): Certificate {
    const key = this.newKey(name);
    const csr = this.file(name, 'csr');
    const extFile = this.file(name, 'ext');
    const out = this.file(name, 'crt');
    fs.writeFileSync(extFile, `${extensions.join('\n')}\n`);
    this.openssl(['req', '-new', '-key', key, '-subj', subject(name, options), '-out', csr]);

    const { validity } = options;
    if (validity) {
      this.openssl([
        ...['ca', '-batch', '-notext', '-config', this.caConfig()],
        ...['-cert', issuer.certFile, '-keyfile', issuer.keyFile, '-in', csr],
        ...['-startdate', opensslTime(validity.notBefore)],
        ...['-enddate', opensslTime(validity.notAfter)],
        ...['-extfile', extFile, '-out', out],
      ]);
    } else {
      this.openssl([
        ...['x509', '-req', '-in', csr, '-CA', issuer.certFile, '-CAkey', issuer.keyFile],
        ...['-CAcreateserial', '-days', String(options.days ?? 2), '-sha256'],
        ...['-extfile', extFile, '-out', out],
      ]);
    }
    return this.read(name);
  }

  /** A new EC P-256 key; returns its path. */
  private newKey(name: string): string {
    const key = this.file(name, 'key');
    this.openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    return key;
  }

  /** The minimal configuration `openssl ca` insists on, written on first use. */
  private caConfig(): string {
    const db = path.join(this.dir, 'ca-db');
    const config = path.join(db, 'ca.cnf');
    if (fs.existsSync(config)) return config;

    fs.mkdirSync(db, { recursive: true });
    fs.writeFileSync(path.join(db, 'index.txt'), '');
    fs.writeFileSync(path.join(db, 'serial'), '01\n');
    fs.writeFileSync(
      config,
      [
        '[ca]',
        'default_ca = test',
        '[test]',
        `database = ${path.join(db, 'index.txt')}`,
        `new_certs_dir = ${db}`,
        `serial = ${path.join(db, 'serial')}`,
        'default_md = sha256',
        'policy = any',
        'unique_subject = no',
        '[any]',
        'commonName = supplied',
        '',
      ].join('\n'),
    );
    return config;
  }

  private read(name: string): Certificate {
    const certFile = this.file(name, 'crt');
    const pem = fs.readFileSync(certFile, 'utf8');
    return { name, certFile, keyFile: this.file(name, 'key'), pem };
  }

  private file(name: string, extension: string): string {
    return path.join(this.dir, `${name}.${extension}`);
  }

  private openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: 'pipe' });
  }
}

function subject(name: string, options: RootOptions): string {
  return `/CN=${options.commonName ?? name}`;
}

/** `20200201000000Z`, the time format of `openssl ca -startdate`. */
function opensslTime(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}
