#!/usr/bin/env node
// Derives test/schemas/harbor-api.json from Harbor's Swagger description in ../shared.
//
// The contract tests check every request the reconciler sends and every answer the test double
// gives against it, and they must run from a bare clone, so the output is committed. It keeps
// only the operations in OPERATIONS, with their parameters and responses resolved in place, and
// the definitions those reach. Rerun after changing OPERATIONS: `npm run harbor-api`
// (HARBOR_SHARED_DIR overrides the location of the shared folder, HARBOR_API_OUT the output
// folder).
'use strict';

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');
const { compactSchema, sha256, writeBundle } = require('./schema-tools');

// Every call the reconciler makes, as `<METHOD> <path template>` under the basePath. Harbor has
// no `GET /retentions` (policies are found through the project's `retention_id` metadata).
const OPERATIONS = [
  'GET /health',
  'GET /ping',
  'GET /systeminfo',
  'GET /projects',
  'POST /projects',
  'GET /projects/{project_name_or_id}',
  'PUT /projects/{project_name_or_id}',
  'GET /projects/{project_name_or_id}/scanner',
  'PUT /projects/{project_name_or_id}/scanner',
  'GET /quotas',
  'PUT /quotas/{id}',
  'POST /retentions',
  'GET /retentions/{id}',
  'PUT /retentions/{id}',
  'GET /robots',
  'POST /robots',
  'GET /robots/{robot_id}',
  'PUT /robots/{robot_id}',
  'PATCH /robots/{robot_id}',
  'DELETE /robots/{robot_id}',
  'GET /registries',
  'POST /registries',
  'GET /registries/{id}',
  'PUT /registries/{id}',
  'DELETE /registries/{id}',
  'GET /replication/policies',
  'POST /replication/policies',
  'GET /replication/policies/{id}',
  'PUT /replication/policies/{id}',
  'DELETE /replication/policies/{id}',
  'GET /scanners',
  'POST /scanners',
  'GET /scanners/{registration_id}',
  'PUT /scanners/{registration_id}',
  'PATCH /scanners/{registration_id}',
  'DELETE /scanners/{registration_id}',
  'GET /system/scanAll/schedule',
  'POST /system/scanAll/schedule',
  'PUT /system/scanAll/schedule',
  'GET /system/CVEAllowlist',
  'PUT /system/CVEAllowlist',
  'GET /configurations',
  'PUT /configurations',
];

// Keywords that cannot change whether a message is valid. The `x-nullable` family and
// `x-omitempty` stay: the validator reads the first, and the second documents what Harbor omits.
const DROPPED_KEYWORDS = new Set([
  'description',
  'example',
  'examples',
  'externalDocs',
  'summary',
  'title',
  'x-go-name',
]);

const root = path.resolve(__dirname, '..');
const shared = path.resolve(root, process.env.HARBOR_SHARED_DIR ?? path.join('..', 'shared'));
const outDir = process.env.HARBOR_API_OUT ?? path.join(root, 'test', 'schemas');
const SOURCE = path.join('api', 'harbor-v2.15.2-swagger.yaml');
const DEFINITION_REF = '#/definitions/';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

// `#/parameters/x` and `#/responses/x` are resolved in place: each is small, and the consumer
// then only has definition references to follow.
function resolveLocal(swagger, value, section) {
  if (!value.$ref) return value;
  const prefix = `#/${section}/`;
  if (!value.$ref.startsWith(prefix)) throw new Error(`unexpected $ref ${value.$ref}`);
  const target = swagger[section]?.[value.$ref.slice(prefix.length)];
  if (!target) throw new Error(`dangling $ref ${value.$ref}`);
  return target;
}

function deriveOperation(swagger, key, onRef) {
  const [method, template] = key.split(' ');
  const item = swagger.paths[template];
  const operation = item?.[method.toLowerCase()];
  if (!operation) {
    const known = METHODS.filter((m) => item?.[m]).map((m) => m.toUpperCase());
    throw new Error(
      `${key} is not in the Swagger description` +
        (known.length > 0 ? ` (${template} has ${known.join(', ')})` : ` (no path ${template})`),
    );
  }

  const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p) =>
    compactSchema(resolveLocal(swagger, p, 'parameters'), DROPPED_KEYWORDS, onRef),
  );
  const responses = {};
  for (const [status, value] of Object.entries(operation.responses)) {
    const response = resolveLocal(swagger, value, 'responses');
    responses[status] = {
      headers: Object.keys(response.headers ?? {}).sort(),
      ...(response.schema
        ? { schema: compactSchema(response.schema, DROPPED_KEYWORDS, onRef) }
        : {}),
    };
  }
  return { operationId: operation.operationId, parameters, responses };
}

function main() {
  const file = path.join(shared, SOURCE);
  if (!fs.existsSync(file)) {
    throw new Error(
      `no Swagger description at ${file}: set HARBOR_SHARED_DIR to the shared folder`,
    );
  }
  const text = fs.readFileSync(file, 'utf-8');
  const swagger = YAML.parse(text);

  const seen = new Set();
  const duplicates = OPERATIONS.filter((key) => seen.size === seen.add(key).size);
  if (duplicates.length > 0) throw new Error(`listed twice: ${duplicates.join(', ')}`);

  const queue = [];
  const onRef = (ref) => {
    if (!ref.startsWith(DEFINITION_REF)) throw new Error(`unexpected $ref ${ref}`);
    queue.push(ref.slice(DEFINITION_REF.length));
  };
  const operations = {};
  for (const key of OPERATIONS) operations[key] = deriveOperation(swagger, key, onRef);

  const definitions = {};
  while (queue.length > 0) {
    const name = queue.pop();
    if (name in definitions) continue;
    if (!(name in swagger.definitions)) throw new Error(`dangling $ref to ${name}`);
    definitions[name] = compactSchema(swagger.definitions[name], DROPPED_KEYWORDS, onRef);
  }

  const header = {
    basePath: swagger.basePath,
    generatedBy: 'scripts/derive-harbor-api.js',
    source: { file: SOURCE.split(path.sep).join('/'), sha256: sha256(text) },
  };
  fs.mkdirSync(outDir, { recursive: true });
  const { bytes } = writeBundle(path.join(outDir, 'harbor-api.json'), header, {
    definitions,
    operations,
  });
  const counts = `${OPERATIONS.length} operations, ${Object.keys(definitions).length} definitions`;
  console.log(`test/schemas/harbor-api.json: ${counts}, ${bytes} bytes`);
}

main();
