import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadConfig } from '../lib/app/config';
import { writeOutput } from '../lib/app/output';
import { buildStack } from '../lib/app/stack';
import { expectValidObjects, loadYamlDir } from './support/schema';
import { readTree } from './support/files';

const DIST = path.join(__dirname, '..', 'dist');

describe('dist/', () => {
  test('equals a fresh synth of the built-in profile (run `npm run synth` after a change)', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-dist-'));
    try {
      writeOutput(buildStack(loadConfig(), outdir));

      expect(readTree(DIST)).toEqual(readTree(outdir));
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  test('passes strict schema validation for Kubernetes 1.27 and 1.36 and the CRDs', () => {
    const objects = loadYamlDir(DIST);

    expect(objects.length).toBeGreaterThan(30);
    expectValidObjects(objects);
  });

  test('carries no Secret with values and no private key', () => {
    const text = Object.values(readTree(DIST)).join('\n');

    expect(text).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    expect(loadYamlDir(DIST).filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  test('lists every image its pods run, pinned, for mirroring', () => {
    const listed = fs.readFileSync(path.join(DIST, 'images.txt'), 'utf-8').trim().split('\n');
    const used = loadYamlDir(DIST)
      .map((o) => o.spec?.template?.spec)
      .filter((pod) => pod)
      .flatMap((pod) => [...pod.containers, ...(pod.initContainers ?? [])])
      .map((container) => container.image);

    expect(listed).toEqual([...new Set(used)].sort());
    for (const image of listed)
      expect(image).toMatch(/^[a-z0-9./-]+\/[a-z0-9-]+:v?\d+\.\d+\.\d+(-\d+)?$/);
  });

  test('holds the whole Harbor stack', () => {
    const kinds = loadYamlDir(DIST).map((o) => `${o.kind}/${o.metadata.name}`);

    expect(kinds).toEqual(
      expect.arrayContaining([
        'Namespace/harbor',
        'StatefulSet/harbor-vault',
        'Issuer/harbor-vault',
        'Bundle/harbor-ca',
        'DaemonSet/harbor-node-trust',
        'Certificate/harbor-tls',
        'Ingress/harbor',
        'Deployment/harbor-core',
        'Deployment/harbor-portal',
        'Deployment/harbor-registry',
        'Deployment/harbor-jobservice',
        'StatefulSet/harbor-trivy',
        'StatefulSet/harbor-database',
        'StatefulSet/harbor-redis',
        'PersistentVolumeClaim/harbor-registry',
      ]),
    );
  });
});
