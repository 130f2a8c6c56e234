#!/usr/bin/env node
/**
 * A stateful stand-in for the `vault` CLI, as much of it as lib/pki/scripts/vault-pki-setup.sh
 * uses. State lives in FAKE_VAULT_DIR/state.json; every call is appended to
 * FAKE_VAULT_DIR/calls.log as one JSON line. Certificates are real (openssl), so a test can
 * verify the chain. Behaviours that matter for idempotency follow Vault's:
 * - `secrets enable` / `auth enable` on a used path fails ("path is already in use");
 * - `root/generate/internal` always makes a new root issuer and key;
 * - `list` of an empty or missing path exits 2;
 * - `status` exits 2 while sealed, 1 while unreachable;
 * - `-field=` output has no trailing newline (stdout is not a terminal).
 * Faults: state.sealed / state.down count the `status` calls that answer so;
 * state.failOnce[path] counts the writes of that path that fail with a 500.
 */
'use strict';
const { execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const dir = process.env.FAKE_VAULT_DIR;
const stateFile = path.join(dir, 'state.json');
const state = fs.existsSync(stateFile)
  ? JSON.parse(fs.readFileSync(stateFile, 'utf8'))
  : { mounts: {}, auth: {}, policies: {}, sealed: 0, down: 0, failOnce: {}, seq: 0 };
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, 'calls.log'), JSON.stringify(args) + '\n');

function save() {
  fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
}

function exit(code, message) {
  save();
  if (message) process.stderr.write(message + '\n');
  process.exit(code);
}

function openssl(...opts) {
  return execFileSync('openssl', opts, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function file(name) {
  return path.join(dir, name);
}

function nextName(prefix) {
  state.seq += 1;
  return `${prefix}-${state.seq}`;
}

function newKey(type, bits) {
  const name = file(nextName('key') + '.pem');
  if (type === 'ec') {
    const curve = bits === '384' ? 'secp384r1' : 'prime256v1';
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', name);
  } else {
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, '-out', name);
  }
  return name;
}

function subject(params) {
  const org = params.organization ? `/O=${params.organization}` : '';
  return `${org}/CN=${params.common_name}`;
}

function days(ttl) {
  const hours = Number(String(ttl).replace(/h$/, ''));
  return String(Math.max(1, Math.floor(hours / 24)));
}

function pubkeyOf(certOrKey, isKey) {
  return isKey
    ? openssl('pkey', '-in', certOrKey, '-pubout')
    : openssl('x509', '-in', certOrKey, '-noout', '-pubkey');
}

const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';

function splitPem(text) {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

function value(raw) {
  return raw.startsWith('@') ? fs.readFileSync(raw.slice(1), 'utf8') : raw;
}

/** Splits `-flag=value` options from positional arguments and k=v parameters. */
function parse(list) {
  const flags = {};
  const rest = [];
  for (const arg of list) {
    const m = /^-{1,2}([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m && rest.length === 0) flags[m[1]] = m[2] ?? 'true';
    else rest.push(arg);
  }
  return { flags, rest };
}

function params(list) {
  return Object.fromEntries(
    list.map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i), value(kv.slice(i + 1))];
    }),
  );
}

function print(data, field, format) {
  save();
  if (field) {
    if (data[field] === undefined) exit(1, `Field "${field}" not present in secret`);
    process.stdout.write(String(data[field]));
  } else if (format === 'json') {
    process.stdout.write(JSON.stringify({ data }, null, 2) + '\n');
  } else {
    process.stdout.write('Success!\n');
  }
  process.exit(0);
}

function notFound(p) {
  exit(2, `No value found at ${p}`);
}

function mountOf(p) {
  const names = Object.keys(state.mounts).sort((a, b) => b.length - a.length);
  const name = names.find((m) => p === m || p.startsWith(m + '/'));
  if (!name) exit(2, `Error: no handler for route "${p}". route entry not found.`);
  return [name, state.mounts[name], p.slice(name.length + 1)];
}

function importIssuer(mount, pem) {
  const existing = Object.entries(mount.issuers).find(([, i]) => i.certificate === pem);
  if (existing) return existing[0];
  const id = crypto.randomUUID();
  const certFile = file(nextName('cert') + '.pem');
  fs.writeFileSync(certFile, pem + '\n');
  const pub = pubkeyOf(certFile, false);
  const keyId = Object.keys(mount.keys).find((k) => mount.keys[k].pub === pub) ?? '';
  mount.issuers[id] = {
    certificate: pem,
    certFile,
    key_id: keyId,
    keyFile: keyId ? mount.keys[keyId].file : '',
    leaf_not_after_behavior: 'err',
  };
  if (!mount.default) mount.default = id;
  return id;
}

function issuerOf(mount, ref) {
  const id = ref === 'default' ? mount.default : ref;
  return id && mount.issuers[id] ? [id, mount.issuers[id]] : [undefined, undefined];
}

function write(p, kv, field, format) {
  if (state.failOnce[p] > 0) {
    state.failOnce[p] -= 1;
    exit(
      2,
      `Error writing data to ${p}: Error making API request.\nCode: 500. Errors:\n* internal error`,
    );
  }
  if (p === `auth/${p.split('/')[1]}/config` || /^auth\/.+\/role\/.+$/.test(p)) {
    const name = p.split('/')[1];
    if (!state.auth[name]) notFound(p);
    state.auth[name].data = state.auth[name].data ?? {};
    state.auth[name].data[p] = kv;
    return print({}, field, format);
  }
  const [, mount, sub] = mountOf(p);
  if (sub === 'root/generate/internal') {
    const key = newKey(kv.key_type ?? 'rsa', kv.key_bits ?? '2048');
    const cert = file(nextName('root') + '.pem');
    openssl(
      'req',
      '-new',
      '-x509',
      '-key',
      key,
      '-subj',
      subject(kv),
      '-days',
      days(kv.ttl),
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      cert,
    );
    const keyId = crypto.randomUUID();
    mount.keys[keyId] = { file: key, pub: pubkeyOf(key, true) };
    const pem = fs.readFileSync(cert, 'utf8').trim();
    const id = importIssuer(mount, pem);
    return print(
      { certificate: pem, issuing_ca: pem, issuer_id: id, key_id: keyId },
      field,
      format,
    );
  }
  if (sub === 'intermediate/generate/internal') {
    const key = newKey(kv.key_type ?? 'rsa', kv.key_bits ?? '2048');
    const csr = file(nextName('csr') + '.pem');
    openssl('req', '-new', '-key', key, '-subj', subject(kv), '-out', csr);
    const keyId = crypto.randomUUID();
    mount.keys[keyId] = { file: key, pub: pubkeyOf(key, true) };
    return print({ csr: fs.readFileSync(csr, 'utf8').trim(), key_id: keyId }, field, format);
  }
  if (sub === 'root/sign-intermediate') {
    const [, issuer] = issuerOf(mount, 'default');
    if (!issuer || !issuer.keyFile) exit(2, `Error writing data to ${p}: no default issuer`);
    const csr = file(nextName('in') + '.csr');
    fs.writeFileSync(csr, kv.csr);
    const ext = file(nextName('ext') + '.cnf');
    fs.writeFileSync(ext, CA_EXT);
    const cert = file(nextName('int') + '.pem');
    openssl(
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      issuer.certFile,
      '-CAkey',
      issuer.keyFile,
      '-set_serial',
      String(Date.now()),
      '-days',
      days(kv.ttl),
      '-extfile',
      ext,
      '-out',
      cert,
    );
    const pem = fs.readFileSync(cert, 'utf8').trim();
    // like Vault, a pem_bundle from a self-signed root does not carry the root
    return print({ certificate: pem, issuing_ca: issuer.certificate }, field, format);
  }
  if (sub === 'intermediate/set-signed') {
    state.chains = [...(state.chains ?? []), kv.certificate];
    const imported = splitPem(kv.certificate).map((pem) => importIssuer(mount, pem));
    return print({ imported_issuers: imported }, field, format);
  }
  if (sub === 'config/issuers') {
    if (!mount.issuers[kv.default]) exit(2, `Error writing data to ${p}: unknown issuer`);
    mount.default = kv.default;
    return print({ default: kv.default }, field, format);
  }
  if (sub === 'config/urls' || sub.startsWith('roles/')) {
    mount.data[sub] = kv;
    return print({}, field, format);
  }
  notFound(p);
}

function read(p, field, format) {
  const [, mount, sub] = mountOf(p);
  if (sub === 'cert/ca') {
    const [, issuer] = issuerOf(mount, 'default');
    if (!issuer) notFound(p);
    return print({ certificate: issuer.certificate }, field, format);
  }
  if (sub === 'config/issuers') {
    return print({ default: mount.default ?? '' }, field, format);
  }
  const m = /^issuer\/(.+)$/.exec(sub);
  if (m) {
    const [id, issuer] = issuerOf(mount, m[1]);
    if (!issuer) notFound(p);
    return print(
      {
        issuer_id: id,
        key_id: issuer.key_id,
        certificate: issuer.certificate,
        leaf_not_after_behavior: issuer.leaf_not_after_behavior,
      },
      field,
      format,
    );
  }
  if (mount.data[sub]) return print(mount.data[sub], field, format);
  notFound(p);
}

function main() {
  if (!process.env.VAULT_ADDR) exit(1, 'VAULT_ADDR is not set');
  const [command, ...restArgs] = args;
  const { flags, rest } = parse(restArgs);

  if (command === 'status') {
    if (state.down > 0) {
      state.down -= 1;
      exit(1, `Error checking seal status: dial tcp: connect: connection refused`);
    }
    if (state.sealed > 0) {
      state.sealed -= 1;
      save();
      process.stdout.write(JSON.stringify({ sealed: true, initialized: true }) + '\n');
      process.exit(2);
    }
    save();
    process.stdout.write(JSON.stringify({ sealed: false, initialized: true }) + '\n');
    process.exit(0);
  }
  if (process.env.VAULT_TOKEN !== process.env.FAKE_VAULT_TOKEN) {
    exit(2, 'Error: Code: 403. Errors:\n* permission denied');
  }
  if (command === 'secrets' || command === 'auth') {
    const table = command === 'secrets' ? state.mounts : state.auth;
    const [sub, ...more] = rest;
    const opts = parse(more);
    if (sub === 'list') {
      const listing = Object.fromEntries(
        Object.keys(table).map((name) => [`${name}/`, { type: table[name].type }]),
      );
      listing[command === 'secrets' ? 'sys/' : 'token/'] = { type: 'system' };
      save();
      process.stdout.write(JSON.stringify(listing, null, 2) + '\n');
      process.exit(0);
    }
    if (sub === 'enable') {
      const type = opts.rest[0];
      const name = (opts.flags.path ?? type).replace(/\/$/, '');
      if (table[name]) {
        exit(
          2,
          `Error enabling: Error making API request.\nCode: 400. Errors:\n\n* path is already in use at ${name}/`,
        );
      }
      table[name] = { type, issuers: {}, keys: {}, data: {} };
      save();
      process.stdout.write(`Success! Enabled the ${type} at: ${name}/\n`);
      process.exit(0);
    }
    if (sub === 'tune' && command === 'secrets') {
      const name = opts.rest[0].replace(/\/$/, '');
      if (!table[name]) exit(2, `Error tuning secrets engine ${name}/: no mount`);
      table[name].maxLeaseTtl = opts.flags['max-lease-ttl'];
      save();
      process.stdout.write(`Success! Tuned the secrets engine at: ${name}/\n`);
      process.exit(0);
    }
  }
  if (command === 'list') {
    const p = rest[0];
    const [, mount, sub] = mountOf(p);
    if (sub !== 'issuers') notFound(p);
    const ids = Object.keys(mount.issuers);
    if (ids.length === 0) notFound(p);
    save();
    process.stdout.write(JSON.stringify(ids, null, 2) + '\n');
    process.exit(0);
  }
  if (command === 'read') return read(rest[0], flags.field, flags.format);
  if (command === 'write') return write(rest[0], params(rest.slice(1)), flags.field, flags.format);
  if (command === 'patch') {
    const [, mount, sub] = mountOf(rest[0]);
    const m = /^issuer\/(.+)$/.exec(sub);
    const [, issuer] = m ? issuerOf(mount, m[1]) : [undefined, undefined];
    if (!issuer) notFound(rest[0]);
    Object.assign(issuer, params(rest.slice(1)));
    return print({}, flags.field, flags.format);
  }
  if (command === 'policy' && rest[0] === 'write') {
    state.policies[rest[1]] = fs.readFileSync(rest[2], 'utf8');
    save();
    process.stdout.write(`Success! Uploaded policy: ${rest[1]}\n`);
    process.exit(0);
  }
  exit(1, `fake vault: unsupported command ${JSON.stringify(args)}`);
}

main();
