#!/usr/bin/env node
// Derives the compact schema bundles under test/schemas/ from ../shared.
//
// The tests validate every emitted object against these bundles, and they must run from a bare
// clone of the repository, so the output is committed. Rerun after changing KINDS or CRD_FILES:
// `npm run schemas` (HARBOR_SHARED_DIR overrides the location of the shared folder).
'use strict';

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');
const { compactSchema, sha256, sortKeys, writeBundle } = require('./schema-tools');

// Built-in kinds the project emits, as `<apiVersion>/<Kind>`. Only these kinds and the
// definitions they reach are kept; a kind that is missing here fails validation with a hint.
const KINDS = [
  'v1/Namespace',
  'v1/ServiceAccount',
  'v1/ConfigMap',
  'v1/Secret',
  'v1/Service',
  'v1/PersistentVolumeClaim',
  'v1/PersistentVolume',
  'apps/v1/Deployment',
  'apps/v1/StatefulSet',
  'apps/v1/DaemonSet',
  'batch/v1/Job',
  'batch/v1/CronJob',
  'networking.k8s.io/v1/Ingress',
  'networking.k8s.io/v1/IngressClass',
  'networking.k8s.io/v1/NetworkPolicy',
  'policy/v1/PodDisruptionBudget',
  'rbac.authorization.k8s.io/v1/Role',
  'rbac.authorization.k8s.io/v1/RoleBinding',
  'rbac.authorization.k8s.io/v1/ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding',
  'storage.k8s.io/v1/StorageClass',
  'storage.k8s.io/v1/CSIDriver',
];

const K8S_VERSIONS = ['1.27.0', '1.36.0'];

// The unreleased trust-manager ClusterBundle file is left out on purpose: no release installs it.
const CRD_FILES = [
  'cert-manager.crds.yaml',
  'trust-manager.crds.yaml',
  'argo-cd.crds.yaml',
  'prometheus-operator.crds.yaml',
  'gateway-api.crds.yaml',
  'traefik.crds.yaml',
];

// Keywords that cannot change whether an object is valid for our validator. Dropping them keeps
// the committed bundles small; CEL rules (x-kubernetes-validations) need a CEL engine to mean
// anything, so they go too.
const DROPPED_KEYWORDS = new Set([
  'description',
  'example',
  'examples',
  'externalDocs',
  'x-kubernetes-patch-merge-key',
  'x-kubernetes-patch-strategy',
  'x-kubernetes-unions',
  'x-kubernetes-validations',
]);

const root = path.resolve(__dirname, '..');
const shared = path.resolve(root, process.env.HARBOR_SHARED_DIR ?? path.join('..', 'shared'));
// SCHEMAS_OUT lets a test write a fresh copy elsewhere and compare it with the committed one
const outDir = process.env.SCHEMAS_OUT ?? path.join(root, 'test', 'schemas');
const REF_PREFIX = '#/definitions/';
// Smaller repeats are not worth a $ref: the bundle would hardly shrink.
const MIN_SHARED_CHARS = 300;

function gvkKey(gvk) {
  return `${gvk.group ? `${gvk.group}/` : ''}${gvk.version}/${gvk.kind}`;
}

function deriveK8s(version) {
  const rel = path.join('schemas', 'k8s', `v${version}`, '_definitions.json');
  const text = fs.readFileSync(path.join(shared, rel), 'utf-8');
  const all = JSON.parse(text).definitions;

  const byGvk = new Map();
  for (const [name, def] of Object.entries(all)) {
    for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) byGvk.set(gvkKey(gvk), name);
  }

  const missing = [];
  const queue = [];
  for (const kind of KINDS) {
    const name = byGvk.get(kind);
    if (name) queue.push(name);
    else missing.push(kind);
  }

  const kept = {};
  while (queue.length > 0) {
    const name = queue.pop();
    if (name in kept) continue;
    if (!(name in all)) throw new Error(`v${version}: dangling $ref to ${name}`);
    kept[name] = compactSchema(all[name], DROPPED_KEYWORDS, (ref) => {
      if (!ref.startsWith(REF_PREFIX)) throw new Error(`v${version}: unexpected $ref ${ref}`);
      queue.push(ref.slice(REF_PREFIX.length));
    });
  }

  const header = {
    generatedBy: 'scripts/derive-schemas.js',
    source: { file: rel.split(path.sep).join('/'), sha256: sha256(text) },
  };
  return { file: `k8s-v${version}.json`, header, sections: { definitions: kept }, missing };
}

function structuralChildren(schema) {
  const children = [];
  for (const name of Object.keys(schema.properties ?? {}).sort()) {
    children.push([name, schema.properties, name]);
  }
  for (const key of ['items', 'additionalProperties']) {
    if (schema[key] !== null && typeof schema[key] === 'object' && !Array.isArray(schema[key])) {
      children.push([key, schema, key]);
    }
  }
  return children;
}

// Several CRDs repeat large subtrees verbatim (Argo CD's ApplicationSet embeds the Application
// spec many times over; Issuer and ClusterIssuer share the ACME solvers). Moving each repeat
// into a shared definition shrinks the bundle, and lets ajv compile it once instead of per copy.
// Only structural positions are shared: the validator closes those, and must not close
// anything that sits under allOf/anyOf/oneOf/not.
function shareRepeatedSubschemas(kinds) {
  const keys = Object.keys(kinds).sort();
  const counts = new Map();
  const canonical = (schema) => JSON.stringify(sortKeys(schema));
  const count = (schema) => {
    for (const [, parent, key] of structuralChildren(schema)) {
      const text = canonical(parent[key]);
      counts.set(text, (counts.get(text) ?? 0) + 1);
      count(parent[key]);
    }
  };
  // the validator replaces the root's metadata, so it must stay in place
  const rootChildren = (schema) =>
    structuralChildren(schema).filter(
      ([name, parent]) => parent !== schema.properties || name !== 'metadata',
    );
  for (const key of keys) count(kinds[key].schema);

  const definitions = {};
  const names = new Map();
  const share = (schema, where, children = structuralChildren(schema)) => {
    for (const [name, parent, key] of children) {
      const child = parent[key];
      const text = canonical(child);
      const at = `${where}.${name}`;
      if (text.length >= MIN_SHARED_CHARS && counts.get(text) > 1) {
        if (!names.has(text)) {
          // named after the first place it occurs, which is stable because keys are sorted
          const id = at.replace(/[^A-Za-z0-9._-]/g, '_');
          if (id in definitions) throw new Error(`shared definition ${id} named twice`);
          names.set(text, id);
          definitions[id] = share(JSON.parse(text), id);
        }
        parent[key] = { $ref: `${REF_PREFIX}${names.get(text)}` };
      } else {
        share(child, at);
      }
    }
    return schema;
  };
  for (const key of keys) {
    const schema = kinds[key].schema;
    share(schema, key.replace(/\//g, '.'), rootChildren(schema));
  }
  return inlineSingleUse(
    definitions,
    keys.map((key) => kinds[key].schema),
  );
}

// A subtree that only repeats inside a shared parent ends up referenced once; put it back.
function inlineSingleUse(definitions, roots) {
  const refName = (schema) =>
    typeof schema.$ref === 'string' ? schema.$ref.slice(REF_PREFIX.length) : undefined;
  const uses = new Map();
  const countUses = (schema) => {
    for (const [, parent, key] of structuralChildren(schema)) {
      const name = refName(parent[key]);
      if (name) uses.set(name, (uses.get(name) ?? 0) + 1);
      else countUses(parent[key]);
    }
  };
  [...roots, ...Object.values(definitions)].forEach(countUses);

  const inline = (schema) => {
    for (const [, parent, key] of structuralChildren(schema)) {
      const name = refName(parent[key]);
      if (name === undefined) inline(parent[key]);
      else if (uses.get(name) === 1) parent[key] = inline(definitions[name]);
    }
    return schema;
  };
  roots.forEach(inline);
  const kept = {};
  for (const name of Object.keys(definitions).sort()) {
    if (uses.get(name) > 1) kept[name] = inline(definitions[name]);
  }
  return kept;
}

function readCrds(file) {
  const text = fs.readFileSync(path.join(shared, 'crds', file), 'utf-8');
  const crds = [];
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
    const crd = doc.toJS({ maxAliasCount: -1 });
    if (crd === null || crd === undefined) continue;
    if (crd.kind !== 'CustomResourceDefinition') {
      throw new Error(`${file}: unexpected ${crd.kind} document`);
    }
    crds.push(crd);
  }
  return { crds, sha256: sha256(text) };
}

function deriveCrds() {
  const kinds = {};
  const sources = {};
  for (const file of CRD_FILES) {
    const { crds, sha256: digest } = readCrds(file);
    sources[file] = digest;
    for (const crd of crds) {
      const { group, names, scope, versions } = crd.spec;
      for (const version of versions) {
        if (!version.served) continue;
        const schema = version.schema?.openAPIV3Schema;
        if (!schema) {
          throw new Error(`${file}: ${crd.metadata.name} ${version.name} has no schema`);
        }
        const key = `${group}/${version.name}/${names.kind}`;
        if (key in kinds) throw new Error(`${key} is defined twice (${file})`);
        kinds[key] = {
          crd: crd.metadata.name,
          file,
          scope,
          schema: compactSchema(schema, DROPPED_KEYWORDS, (ref) => {
            throw new Error(`${key}: CRD schemas may not use $ref (${ref})`);
          }),
        };
      }
    }
  }
  const definitions = shareRepeatedSubschemas(kinds);
  const header = { generatedBy: 'scripts/derive-schemas.js', sources };
  return { file: 'crds.json', header, sections: { definitions, kinds } };
}

function main() {
  if (!fs.existsSync(path.join(shared, 'schemas', 'k8s'))) {
    throw new Error(
      `no schemas at ${shared}/schemas/k8s: set HARBOR_SHARED_DIR to the shared folder`,
    );
  }

  const bundles = K8S_VERSIONS.map(deriveK8s);
  KINDS.forEach((kind) => {
    const lacking = K8S_VERSIONS.filter((_, i) => bundles[i].missing.includes(kind));
    if (lacking.length === K8S_VERSIONS.length) {
      throw new Error(`${kind} exists in no Kubernetes version: check the KINDS list`);
    }
    if (lacking.length > 0) {
      // not fatal: the validator reports objects of this kind for the versions that lack it
      console.warn(`warning: ${kind} does not exist in Kubernetes ${lacking.join(', ')}`);
    }
  });
  bundles.push(deriveCrds());

  fs.mkdirSync(outDir, { recursive: true });
  for (const { file, header, sections } of bundles) {
    const { bytes, entries } = writeBundle(path.join(outDir, file), header, sections);
    console.log(`test/schemas/${file}: ${entries} entries, ${bytes} bytes`);
  }
}

main();
