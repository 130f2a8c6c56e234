import { X509Certificate } from 'crypto';
import * as fs from 'fs';
import { isIP } from 'net';
import { rootCertificates } from 'tls';
import { Problems, show } from '../private/validation';

/**
 * What a served certificate chain must satisfy. The chain itself is the PEM the TLS Secret's
 * `tls.crt` holds; it is public, so it can live in Git next to the configuration even when the
 * Secret is delivered by Sealed Secrets or External Secrets.
 */
export interface CertificateChainOptions {
  /** The registry's host name or IP address, as clients name it: `registry.example.test`. */
  readonly host: string;

  /**
   * The registry's HTTPS port. Certificates do not name ports; it only appears in messages,
   * the way `docker login` names the registry.
   * @default 443
   */
  readonly port?: number;

  /**
   * PEM certificates of the roots the clients trust, such as a private enterprise root; a
   * string may hold several.
   * @default - the public roots Node knows (`tls.rootCertificates`)
   */
  readonly roots?: readonly string[];

  /**
   * Where the user names trusted roots, for messages that suggest adding one.
   * @default 'the trusted roots'
   */
  readonly rootsField?: string;

  /**
   * The time at which every certificate must be valid.
   * @default - the current time
   */
  readonly now?: Date;
}

/**
 * Checks a PEM certificate chain the way Docker and containerd clients will see it when a
 * server presents it: leaf first, each certificate issued by the next one, the last one a
 * trusted root or issued by one, the leaf valid for the host, nothing expired. Returns the
 * problems found, each starting with `${field}: `; none when the chain is fine.
 *
 * Limits: revocation, name constraints, path lengths and key usages are not checked, and
 * intermediates are never fetched (AIA), as Go clients do not fetch them either.
 */
export function checkCertificateChain(
  pem: string,
  options: CertificateChainOptions,
  field: string,
): string[] {
  const problems = new Problems();
  const certificates = parseChain(pem, field, problems);
  if (certificates === undefined) return [...problems.all];

  const now = options.now ?? new Date();
  const address =
    options.port === undefined || options.port === 443
      ? options.host
      : `${options.host}:${options.port}`;
  const { trusted, description } = trustedRoots(options.roots, field, problems);

  certificates.forEach((certificate, i) => checkValidity(certificate, i, now, field, problems));
  const ordered = checkOrder(certificates, field, problems);
  checkLeaf(certificates[0], options.host, address, field, problems);
  const rootsHint = options.rootsField ?? 'the trusted roots';
  if (ordered) checkAnchor(certificates, trusted, description, rootsHint, field, problems);

  return [...problems.all];
}

/**
 * Reads a PEM certificate chain from a file and checks it with `checkCertificateChain`; a file
 * that cannot be read is reported as a problem of `field`.
 */
export function readCertificateChain(
  file: string,
  options: CertificateChainOptions,
  field: string,
): string[] {
  let pem: string;
  try {
    // a chain is a few kilobytes: refuse devices, directories and huge files before reading
    const stat = fs.statSync(file);
    if (!stat.isFile() || stat.size > MAX_CHAIN_BYTES) {
      return [
        `${field}: ${show(file)} is not a PEM file of at most 1 MiB; name the file holding the` +
          ' chain the TLS Secret serves as tls.crt',
      ];
    }
    pem = fs.readFileSync(file, 'utf-8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return [
      `${field}: ${show(file)} cannot be read (${reason}); ` +
        'name a file holding the PEM chain the TLS Secret serves as tls.crt',
    ];
  }
  return checkCertificateChain(pem, options, field);
}

/** The largest chain file read: a long chain of large certificates is some 20 KiB. */
export const MAX_CHAIN_BYTES = 1024 * 1024;

/** The certificates of a PEM file in file order, or undefined when none can be checked. */
function parseChain(pem: string, field: string, problems: Problems): X509Certificate[] | undefined {
  // A key is refused by its label alone, so that nothing of it reaches an error message or log.
  const keyLabels = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----/g)].map((m) => m[1]);
  for (const label of new Set(keyLabels)) {
    problems.add(
      field,
      `holds a private key (${label}); a chain file is for Git and must hold only the public ` +
        'certificates: remove the key, and rotate it if it was ever committed or shared',
    );
  }

  const blocks = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)];
  const certificates: X509Certificate[] = [];
  let broken = false;
  let number = 0;
  for (const [block, label] of blocks) {
    if (label.includes('PRIVATE KEY')) continue;
    if (label !== 'CERTIFICATE') {
      problems.add(field, `holds a ${label} block; keep only CERTIFICATE blocks in the file`);
      continue;
    }

    number++;
    try {
      certificates.push(new X509Certificate(block));
    } catch (err) {
      broken = true;
      problems.add(
        field,
        `certificate ${number} cannot be parsed (${(err as Error).message}); ` +
          'replace it with the PEM the CA delivered',
      );
    }
  }

  const begins = (pem.match(/-----BEGIN /g) ?? []).length;
  if (begins > blocks.length) {
    broken = true;
    problems.add(
      field,
      `has ${begins - blocks.length} PEM block(s) without a matching END line; ` +
        'the file is truncated or was edited by hand',
    );
  }
  if (certificates.length === 0 && !broken) {
    problems.add(
      field,
      pem.trim() === ''
        ? 'is empty; put the leaf certificate and the intermediates in it, as PEM'
        : 'holds no PEM certificate (-----BEGIN CERTIFICATE-----); a DER file converts with ' +
            '`openssl x509 -inform der -in FILE`',
    );
  }
  return broken || certificates.length === 0 ? undefined : certificates;
}

/** The certificates clients trust, parsed, and how to name them in messages. */
function trustedRoots(
  roots: readonly string[] | undefined,
  field: string,
  problems: Problems,
): { trusted: readonly X509Certificate[]; description: string } {
  if (roots === undefined) {
    return { trusted: publicRoots(), description: 'the public roots Node knows' };
  }

  const trusted: X509Certificate[] = [];
  roots.forEach((root, i) => {
    const blocks = root.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
    if (blocks === null) {
      problems.add(field, `trusted root ${i + 1} holds no PEM certificate; pass the root as PEM`);
      return;
    }
    for (const block of blocks) {
      try {
        trusted.push(new X509Certificate(block));
      } catch (err) {
        problems.add(field, `trusted root ${i + 1} cannot be parsed (${(err as Error).message})`);
      }
    }
  });
  return { trusted, description: 'the given roots' };
}

let parsedPublicRoots: X509Certificate[] | undefined;

function publicRoots(): readonly X509Certificate[] {
  if (parsedPublicRoots === undefined) {
    parsedPublicRoots = [];
    for (const pem of rootCertificates) {
      try {
        parsedPublicRoots.push(new X509Certificate(pem));
      } catch {
        // A root this OpenSSL build cannot read cannot anchor a chain for it either.
      }
    }
  }
  return parsedPublicRoots;
}

function checkValidity(
  certificate: X509Certificate,
  i: number,
  now: Date,
  field: string,
  problems: Problems,
): void {
  const notBefore = new Date(certificate.validFrom);
  const notAfter = new Date(certificate.validTo);
  if (now.getTime() > notAfter.getTime()) {
    problems.add(
      field,
      `${describe(certificate, i)} expired on ${certificate.validTo}; put the renewed ` +
        'certificate in the file (an expired cross-signed root can simply be removed)',
    );
  } else if (now.getTime() < notBefore.getTime()) {
    problems.add(
      field,
      `${describe(certificate, i)} is not valid before ${certificate.validFrom}; ` +
        "check the issuer's and this machine's clocks",
    );
  }
}

/** Leaf first, each certificate issued by the next one. False at the first break. */
function checkOrder(certificates: X509Certificate[], field: string, problems: Problems): boolean {
  for (let i = 0; i + 1 < certificates.length; i++) {
    const [certificate, next] = [certificates[i], certificates[i + 1]];
    if (issues(next, certificate)) {
      if (!next.ca) {
        problems.add(
          field,
          `${describe(next, i + 1)} signed ${describe(certificate, i)} but is not a CA ` +
            '(basicConstraints CA:TRUE), so clients reject the chain; ask the CA for its ' +
            'intermediate certificates',
        );
      }
      continue;
    }

    // An issuer or an issued certificate elsewhere in the file means the order is wrong;
    // neither means a certificate is missing.
    const misplaced = certificates.some(
      (other, j) =>
        j !== i && (issues(other, certificate) || (j > i && issues(certificate, other))),
    );
    const broken =
      `${describe(certificate, i)} is followed by ${describe(next, i + 1)}, ` +
      'which did not issue it';
    const issuer = show(names(certificate.issuer));
    problems.add(
      field,
      misplaced
        ? `${broken}: order the file leaf first, then the intermediates, each after the ` +
            'certificate it signed, and the root last or omitted'
        : `${broken}, and no certificate in the file did (issuer ${issuer}): ` +
            'the chain lacks an intermediate; add it after the certificate it signed, ' +
            'in the order leaf, intermediates, root last or omitted',
    );
    return false;
  }
  return true;
}

function checkLeaf(
  leaf: X509Certificate,
  host: string,
  address: string,
  field: string,
  problems: Problems,
): void {
  // A CA first means the order is wrong or the leaf is missing; its names say nothing more.
  if (leaf.ca) {
    problems.add(
      field,
      `${describe(leaf, 0)} is a CA certificate (basicConstraints CA:TRUE); the file must start ` +
        `with the server certificate issued for ${host}`,
    );
    return;
  }

  const sans = leaf.subjectAltName ?? '';
  const dnsNames = sans.split(', ').filter((name) => name.startsWith('DNS:'));
  if (isIP(host) !== 0) {
    if (leaf.checkIP(host) === undefined) {
      problems.add(
        field,
        `the leaf does not cover the IP address ${show(host)} (subjectAltName ` +
          `${show(sans || '(none)')}); clients of ${address} reject it: reissue it with ` +
          `IP:${host} among its subjectAltName entries`,
      );
    }
    return;
  }

  if (dnsNames.length === 0 && sans !== '') {
    problems.add(
      field,
      `the leaf names only IP addresses (${show(sans)}) but ${show(host)} is a DNS name; ` +
        `reissue it with DNS:${host} among its subjectAltName entries`,
    );
  } else if (dnsNames.length === 0) {
    problems.add(
      field,
      `the leaf has no subjectAltName; Go clients (Docker, containerd) ignore the subject CN, ` +
        `so reissue it with DNS:${host} among its subjectAltName entries`,
    );
  } else if (leaf.checkHost(host, { subject: 'never', partialWildcards: false }) === undefined) {
    problems.add(
      field,
      `the leaf does not cover ${show(host)} (subjectAltName ${show(sans)}); clients of ` +
        `${address} reject it: use the certificate issued for this host or reissue it with ` +
        `DNS:${host}`,
    );
  }
}

/** The last certificate is a trusted root or issued by one. */
function checkAnchor(
  certificates: X509Certificate[],
  trusted: readonly X509Certificate[],
  description: string,
  rootsHint: string,
  field: string,
  problems: Problems,
): void {
  const i = certificates.length - 1;
  const last = certificates[i];
  if (issues(last, last)) {
    if (!trusted.some((root) => sameRoot(root, last))) {
      problems.add(
        field,
        `ends with the self-signed ${describe(last, i)}, which is not among ${description}; ` +
          `if it is your enterprise root, name it in ${rootsHint}; otherwise use a chain that ` +
          'ends at a root the clients trust',
      );
    }
    return;
  }

  if (!trusted.some((root) => issues(root, last)) && last.ca) {
    // an intermediate is there: what is missing is trust in the root above it
    problems.add(
      field,
      `ends with the CA ${describe(last, i)}, issued by ${show(names(last.issuer))}, which is` +
        ` not among ${description}; if that is your private root, name it in ${rootsHint};` +
        ' otherwise append the intermediate that signed it',
    );
  } else if (!trusted.some((root) => issues(root, last))) {
    problems.add(
      field,
      `the chain lacks an intermediate: ${describe(last, i)} is issued by ` +
        `${show(names(last.issuer))}, which is neither in the file nor among ${description}; ` +
        "a leaf alone is the usual cause: append the CA's intermediate certificates",
    );
  }
}

/** Whether `issuer` issued and signed `certificate`. */
function issues(issuer: X509Certificate, certificate: X509Certificate): boolean {
  try {
    return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** The same root, or the same CA reissued with the same name and key. */
function sameRoot(root: X509Certificate, certificate: X509Certificate): boolean {
  return (
    root.fingerprint256 === certificate.fingerprint256 ||
    (root.subject === certificate.subject && root.publicKey.equals(certificate.publicKey))
  );
}

function describe(certificate: X509Certificate, i: number): string {
  return `certificate ${i + 1} (subject ${show(names(certificate.subject))})`;
}

/** A distinguished name on one line: `CN=registry.example.test, O=Example`. */
function names(distinguishedName: string): string {
  return distinguishedName.split('\n').join(', ');
}
