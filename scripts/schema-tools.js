// Helpers shared by the scripts that derive the committed bundles under test/schemas/ from the
// shared folder: derive-schemas.js (Kubernetes and CRD schemas) and derive-harbor-api.js
// (Harbor's Swagger description).
'use strict';

const crypto = require('crypto');
const fs = require('fs');

// Keywords whose value is a map of names to schemas, and keywords whose value is one schema.
// `schema` is the body of a Swagger parameter or response; no JSON Schema keyword has that name.
const SCHEMA_MAPS = ['properties', 'patternProperties', 'definitions'];
const SCHEMA_VALUES = ['items', 'additionalProperties', 'additionalItems', 'not', 'schema'];
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf'];

function sha256(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/**
 * Returns a copy of `schema` without the keywords in `dropped`, and calls `onRef` with the value
 * of every `$ref` it meets. It walks only schema positions, so a property that happens to be
 * called `description` is kept while the keyword of that name is dropped.
 */
function compactSchema(schema, dropped, onRef) {
  const walk = (node) => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const out = {};
    for (const [key, value] of Object.entries(node)) {
      if (dropped.has(key)) continue;
      if (key === '$ref') {
        onRef(value);
        out[key] = value;
      } else if (SCHEMA_MAPS.includes(key)) {
        out[key] = Object.fromEntries(
          Object.entries(value).map(([name, sub]) => [name, walk(sub)]),
        );
      } else if (SCHEMA_VALUES.includes(key) || SCHEMA_LISTS.includes(key)) {
        out[key] = walk(value);
      } else {
        out[key] = value;
      }
    }
    return out;
  };
  return walk(schema);
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
  return out;
}

/**
 * Writes a bundle as JSON with one entry per line: still compact, but a regenerated bundle diffs
 * per entry. `header` holds top-level values; each of `sections` is a map written under its name.
 */
function writeBundle(file, header, sections) {
  const line = (key, value) => `${JSON.stringify(key)}:${JSON.stringify(sortKeys(value))}`;
  const head = Object.keys(header)
    .sort()
    .map((key) => `${line(key, header[key])},\n`)
    .join('');
  const body = Object.entries(sections)
    .map(([name, entries]) => {
      const lines = Object.keys(entries)
        .sort()
        .map((key) => line(key, entries[key]));
      return `${JSON.stringify(name)}:{\n${lines.join(',\n')}\n}`;
    })
    .join(',\n');
  const text = `{${head}${body}}\n`;
  JSON.parse(text); // the text is assembled by hand, so prove it is still JSON
  fs.writeFileSync(file, text);
  const entries = Object.values(sections).map((e) => Object.keys(e).length);
  return { bytes: Buffer.byteLength(text), entries: entries.join(' + ') };
}

module.exports = { compactSchema, sha256, sortKeys, writeBundle };
