import * as fs from 'fs';
import { isIPv4, isIPv6 } from 'net';
import * as path from 'path';
import Ajv, { ErrorObject, FormatDefinition, ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

// Bundles written by scripts/derive-schemas.js; committed so a bare clone can run the tests.
const SCHEMA_DIR = path.join(__dirname, '..', 'schemas');
const K8S_VERSIONS = ['1.27', '1.36'];
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const REGENERATE =
  'add it to KINDS (built-in) or CRD_FILES (custom) in scripts/derive-schemas.js ' +
  'and run `npm run schemas`';

type Schema = Record<string, any>;

// Fields a published schema marks required although its own API server accepts them missing.
// Each was fixed upstream later; the fix is applied here, never to the committed bundles.
const NOT_REQUIRED: Record<string, Record<string, string[]>> = {
  '1.27': {
    // a rule matches onExitCodes or onPodConditions, never both (kubernetes/kubernetes#120204)
    'io.k8s.api.batch.v1.PodFailurePolicyRule': ['onPodConditions'],
  },
};

interface K8sBundle {
  version: string;
  label: string;
  id: string;
  ajv: Ajv;
  // `<apiVersion>/<Kind>` -> definition name
  kinds: Map<string, string>;
}

interface CrdEntry {
  crd: string;
  scope: 'Namespaced' | 'Cluster';
}

interface Bundles {
  k8s: K8sBundle[];
  crdAjv: Ajv;
  crds: Record<string, CrdEntry>;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INT32 = 2 ** 31;
const INT64 = 2 ** 63;

// Only formats the API server itself checks for these fields. Any other format is dropped
// before compiling, as the API server ignores formats it does not know.
const FORMATS: Record<string, FormatDefinition<string> | FormatDefinition<number>> = {
  int32: { type: 'number', validate: (n) => Number.isInteger(n) && n >= -INT32 && n < INT32 },
  int64: { type: 'number', validate: (n) => Number.isInteger(n) && n >= -INT64 && n < INT64 },
  double: { type: 'number', validate: () => true },
  float: { type: 'number', validate: () => true },
  // Go decodes []byte with base64.StdEncoding, which skips line breaks
  byte: { type: 'string', validate: (s) => BASE64.test(s.replace(/[\r\n]/g, '')) },
  // metav1.Time only accepts RFC 3339; the regexp alone would let 2024-13-45 through
  'date-time': { type: 'string', validate: (s) => DATE_TIME.test(s) && !isNaN(Date.parse(s)) },
  ipv4: { type: 'string', validate: (s) => isIPv4(s) },
  ipv6: { type: 'string', validate: (s) => isIPv6(s) },
};

function isObject(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIntOrStringAnyOf(anyOf: unknown): boolean {
  if (!Array.isArray(anyOf) || anyOf.length !== 2) return false;
  const types = anyOf.map((branch) => (isObject(branch) ? JSON.stringify(branch) : ''));
  return types.includes('{"type":"integer"}') && types.includes('{"type":"string"}');
}

function closes(schema: Schema): boolean {
  return (
    isObject(schema.properties) &&
    !('additionalProperties' in schema) &&
    schema['x-kubernetes-preserve-unknown-fields'] !== true
  );
}

/**
 * Rewrites a Kubernetes schema into plain draft-07 that validates the way the API server does
 * with strict field validation. `structural` is false inside allOf/anyOf/oneOf/not: structural
 * schemas may list a subset of the fields there, so closing those branches would reject
 * every other field.
 */
function strictify(schema: unknown, structural: boolean): unknown {
  if (!isObject(schema)) return schema;
  const out: Schema = { ...schema };

  if (out.properties) {
    out.properties = Object.fromEntries(
      Object.entries(out.properties).map(([name, sub]) => [name, strictify(sub, structural)]),
    );
  }
  if (isObject(out.items)) out.items = strictify(out.items, structural);
  if (isObject(out.additionalProperties)) {
    out.additionalProperties = strictify(out.additionalProperties, structural);
  }
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    if (Array.isArray(out[key])) out[key] = out[key].map((s: unknown) => strictify(s, false));
  }
  if (out.not) out.not = strictify(out.not, false);

  // An embedded object always carries its own TypeMeta and ObjectMeta, listed or not.
  if (out['x-kubernetes-embedded-resource'] === true && isObject(out.properties)) {
    out.properties = {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      ...out.properties,
    };
  }
  if (structural && closes(out)) out.additionalProperties = false;

  // CRDs spell int-or-string as an anyOf of both types and often add a string-only pattern
  // (quantities, durations); a type union keeps the pattern and gives one clear error.
  if (out['x-kubernetes-int-or-string'] === true || out.format === 'int-or-string') {
    out.type = ['integer', 'string'];
    if (isIntOrStringAnyOf(out.anyOf)) delete out.anyOf;
  }
  if (typeof out.format === 'string' && !(out.format in FORMATS)) delete out.format;

  // OpenAPI's `nullable` is not draft-07; ajv's own support rejects it without `type`.
  if ('nullable' in out) {
    const nullable = out.nullable === true;
    delete out.nullable;
    if (nullable) {
      if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
      if (out.type === undefined) return { anyOf: [{ type: 'null' }, out] };
      out.type = [...(Array.isArray(out.type) ? out.type : [out.type]), 'null'];
    }
  }
  return out;
}

function newAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    // x-kubernetes-* keywords and the bundle headers are not JSON Schema
    strict: false,
    // CRD schemas rely on the API server's defaulting: e.g. a Gateway address without its
    // defaulted `type` matches both arms of a oneOf
    useDefaults: true,
    verbose: true,
  });
  for (const [name, format] of Object.entries(FORMATS)) ajv.addFormat(name, format);
  return ajv;
}

function readJson(file: string): any {
  const full = path.join(SCHEMA_DIR, file);
  if (!fs.existsSync(full)) {
    throw new Error(`missing ${path.relative(process.cwd(), full)}: run \`npm run schemas\``);
  }
  return JSON.parse(fs.readFileSync(full, 'utf-8'));
}

function relax(def: Schema, notRequired: string[] | undefined): Schema {
  if (!notRequired || !Array.isArray(def.required)) return def;
  const required = def.required.filter((field: string) => !notRequired.includes(field));
  return { ...def, required };
}

function loadK8s(version: string): K8sBundle {
  const bundle = readJson(`k8s-v${version}.0.json`);
  const definitions: Record<string, Schema> = {};
  const kinds = new Map<string, string>();
  for (const [name, def] of Object.entries<Schema>(bundle.definitions)) {
    definitions[name] = strictify(relax(def, NOT_REQUIRED[version]?.[name]), true) as Schema;
    for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) {
      const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
      kinds.set(`${apiVersion}/${gvk.kind}`, name);
    }
  }
  const id = `k8s-${version}.json`;
  const ajv = newAjv();
  ajv.addSchema({ definitions }, id);
  return { version, label: `k8s ${version}`, id, ajv, kinds };
}

const CRD_ID = 'crds.json';

// The CRD roots sit beside the definitions they share so that their `#/definitions/...` refs
// resolve against the same document.
function loadCrds(): { ajv: Ajv; crds: Record<string, CrdEntry> } {
  const bundle = readJson(CRD_ID);
  const definitions: Record<string, Schema> = {};
  for (const [name, def] of Object.entries<Schema>(bundle.definitions)) {
    definitions[name] = strictify(def, true) as Schema;
  }
  const crds: Record<string, CrdEntry> = {};
  for (const [gvk, entry] of Object.entries<Schema>(bundle.kinds)) {
    const root = strictify(entry.schema, true) as Schema;
    // CRDs only say `metadata: {type: object}`; ObjectMeta from each Kubernetes bundle checks
    // it instead, so keep just what the CRD adds (e.g. a name length limit), left open here.
    root.properties = {
      ...root.properties,
      metadata: strictify({ ...entry.schema.properties?.metadata, type: 'object' }, false),
    };
    definitions[`kind:${gvk}`] = root;
    crds[gvk] = { crd: entry.crd, scope: entry.scope };
  }
  const ajv = newAjv();
  ajv.addSchema({ definitions }, CRD_ID);
  return { ajv, crds };
}

let loaded: Bundles | undefined;

function bundles(): Bundles {
  if (!loaded) {
    const { ajv, crds } = loadCrds();
    loaded = { k8s: K8S_VERSIONS.map(loadK8s), crdAjv: ajv, crds };
  }
  return loaded;
}

const compiled = new Map<string, ValidateFunction>();

// ajv compiles a definition on first use and shares it between every kind that refers to it.
function validator(ajv: Ajv, id: string, definition: string): ValidateFunction {
  const key = `${id}#/definitions/${escapePointer(definition)}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.getSchema(key);
    if (!validate) throw new Error(`${id}: no definition ${definition}`);
    compiled.set(key, validate);
  }
  return validate;
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function alternatives(branches: unknown): string | undefined {
  if (!Array.isArray(branches)) return undefined;
  const types = branches.map((b) =>
    isObject(b) && Object.keys(b).length === 1 && typeof b.type === 'string' ? b.type : '',
  );
  return types.every((t) => t) ? types.join(' or ') : undefined;
}

function describe(err: ErrorObject, prefix: string): string {
  const at = prefix + err.instancePath;
  switch (err.keyword) {
    case 'additionalProperties':
      return `${at}/${escapePointer(err.params.additionalProperty)}: unknown field`;
    case 'required':
      return `${at}/${escapePointer(err.params.missingProperty)}: missing required field`;
    case 'type': {
      const type = Array.isArray(err.params.type) ? err.params.type.join(' or ') : err.params.type;
      return `${at || '/'}: must be ${type}, got ${preview(err.data)}`;
    }
    case 'enum':
      return (
        `${at || '/'}: must be one of ${err.params.allowedValues.map(preview).join(', ')}` +
        `, got ${preview(err.data)}`
      );
    case 'anyOf':
    case 'oneOf': {
      const types = alternatives(err.schema);
      if (types) return `${at || '/'}: must be ${types}, got ${preview(err.data)}`;
      return `${at || '/'}: ${err.message}`;
    }
    default:
      return `${at || '/'}: ${err.message}, got ${preview(err.data)}`;
  }
}

// An anyOf/oneOf failure also reports why each branch failed; those add noise, not information.
function describeAll(errors: ErrorObject[], prefix: string): string[] {
  const combinators = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const inBranch = (e: ErrorObject): boolean =>
    combinators.some(
      (c) =>
        c !== e &&
        e.schemaPath.startsWith(`${c.schemaPath}/`) &&
        (e.instancePath === c.instancePath || e.instancePath.startsWith(`${c.instancePath}/`)),
    );
  return errors.filter((e) => !inBranch(e)).map((e) => describe(e, prefix));
}

function run(validate: ValidateFunction, data: unknown, prefix = ''): string[] {
  // ajv writes defaults into the data, which belongs to the caller
  const copy = structuredClone(data);
  // The API server defaults before it validates; ajv defaults while it validates, after
  // anyOf/oneOf have already looked. A failure is therefore judged again on the defaulted copy.
  if (validate(copy) || validate(copy)) return [];
  return describeAll(validate.errors ?? [], prefix);
}

function objectLabel(obj: Schema, index: number): string {
  const kind = typeof obj.kind === 'string' ? obj.kind : '<no kind>';
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : `<unnamed #${index}>`;
  const namespace = typeof meta.namespace === 'string' ? `${meta.namespace}/` : '';
  return `${kind} ${namespace}${name}`;
}

function validateObject(b: Bundles, obj: unknown, index: number): string[] {
  if (!isObject(obj)) return [`object #${index}: not a Kubernetes object: ${preview(obj)}`];
  const label = objectLabel(obj, index);
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    return [`${label}: apiVersion and kind must both be strings`];
  }
  const gvk = `${obj.apiVersion}/${obj.kind}`;
  const errors: string[] = [];
  const add = (source: string, messages: string[]): void => {
    for (const message of messages) errors.push(`${source}: ${label}: ${message}`);
  };

  const crd = b.crds[gvk];
  if (crd) {
    const source = `crd ${crd.crd}/${obj.apiVersion.split('/')[1]}`;
    add(source, run(validator(b.crdAjv, CRD_ID, `kind:${gvk}`), obj));
    if (crd.scope === 'Cluster' && isObject(obj.metadata) && 'namespace' in obj.metadata) {
      add(source, ['/metadata/namespace: the kind is cluster-scoped, drop the namespace']);
    }
    if (obj.metadata !== undefined) {
      for (const k8s of b.k8s) {
        add(k8s.label, run(validator(k8s.ajv, k8s.id, OBJECT_META), obj.metadata, '/metadata'));
      }
    }
    return errors;
  }

  if (!b.k8s.some((k8s) => k8s.kinds.has(gvk))) {
    return [`no schema: ${label}: ${obj.apiVersion} ${obj.kind} is in no bundle; ${REGENERATE}`];
  }
  for (const k8s of b.k8s) {
    const definition = k8s.kinds.get(gvk);
    const messages = definition
      ? run(validator(k8s.ajv, k8s.id, definition), obj)
      : [`${obj.apiVersion} ${obj.kind} does not exist in Kubernetes ${k8s.version}`];
    add(k8s.label, messages);
  }
  return errors;
}

/**
 * Validates objects strictly (unknown fields are errors) against Kubernetes 1.27 and 1.36
 * and the CRD schemas. Returns one readable line per problem; empty when all are valid.
 */
export function validateObjects(objects: any[]): string[] {
  const b = bundles();
  const errors = objects.flatMap((obj, index) => validateObject(b, obj, index));
  return [...new Set(errors)];
}

/** Throws one error listing every schema problem, so a failing test shows them all at once. */
export function expectValidObjects(objects: any[]): void {
  const errors = validateObjects(objects);
  if (errors.length > 0) {
    throw new Error(`${errors.length} schema error(s):\n  ${errors.join('\n  ')}`);
  }
}

function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(full);
    return entry.isFile() && entry.name.endsWith('.yaml') ? [full] : [];
  });
}

/** Parses every *.yaml file under `dir` (recursively, sorted by path), one entry per document. */
export function loadYamlDir(dir: string): any[] {
  const files = yamlFiles(dir).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return files.flatMap((file) =>
    Array.from(parseAllDocuments(fs.readFileSync(file, 'utf-8'))).flatMap((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
      const value = doc.toJS();
      return value === null || value === undefined ? [] : [value];
    }),
  );
}
