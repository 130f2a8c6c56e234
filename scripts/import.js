#!/usr/bin/env node
// Regenerates imports/ offline with cdk8s's own importer.
//
// `cdk8s import k8s@<version>` downloads its schema from a fixed URL and has no flag for a local
// file, so this script answers that download from ../shared/schemas instead. CRD files are local
// already and go through the importer unchanged. The output is the importer's, never edited.
'use strict';

const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const shared = process.env.HARBOR_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const cli = path.dirname(require.resolve('cdk8s-cli/package.json'));

const K8S_VERSION = '1.27.0';
const CRD_FILES = ['cert-manager.crds.yaml', 'trust-manager.crds.yaml', 'argo-cd.crds.yaml'];

function requireCli(relative) {
  // the package's `exports` field hides lib/, so load the files by path
  return require(path.join(cli, 'lib', relative));
}

async function main() {
  if (!fs.existsSync(path.join(shared, 'schemas', 'k8s'))) {
    throw new Error(
      `no schemas at ${shared}/schemas/k8s: set HARBOR_SHARED_DIR to the shared folder`,
    );
  }

  const util = requireCli('util.js');
  const download = util.download;
  util.download = async (url) => {
    const match = /kubernetes-schemas\/v(\d+\.\d+\.\d+)\/_definitions\.json$/.exec(url);
    if (!match) return download(url);
    return fs.readFileSync(
      path.join(shared, 'schemas', 'k8s', `v${match[1]}`, '_definitions.json'),
      'utf-8',
    );
  };

  const { importDispatch } = requireCli('import/dispatch.js');
  const { Language } = requireCli('import/base.js');
  const specs = [
    { source: `k8s@${K8S_VERSION}` },
    ...CRD_FILES.map((file) => ({ source: path.join(shared, 'crds', file) })),
  ];
  // IMPORTS_OUT lets a test write a fresh copy elsewhere and compare it with the committed one
  const outdir = process.env.IMPORTS_OUT ?? path.join(root, 'imports');
  fs.rmSync(outdir, { recursive: true, force: true });
  await importDispatch(
    specs,
    {},
    {
      outdir,
      targetLanguage: Language.TYPESCRIPT,
      save: false,
    },
  );
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
