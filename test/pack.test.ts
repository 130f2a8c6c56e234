import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectValidObjects, loadYamlDir } from './support/schema';

const ROOT = path.join(__dirname, '..');

// Another cdk8s app, outside this repository, that installs the packed library and composes
// its constructs the way the README shows.
const CONSUMER = `
const { App, Chart } = require('cdk8s');
const harbor = require('cdk8s-harbor');

const app = new App({ outdir: process.argv[2] });
const chart = new Chart(app, 'registry', { namespace: 'registry' });
const ca = new harbor.SelfSignedCa(chart, 'Ca', { name: 'registry-ca' });
const h = new harbor.Harbor(chart, 'Harbor', {
  instance: 'hub',
  host: 'hub.example.test',
  tls: harbor.HarborTls.fromIssuer(ca.issuer),
  caBundle: ca.caBundle,
  registryStorage: { storageClassName: 'nfs-csi', size: '20Gi', accessMode: 'ReadWriteMany' },
  nfsStorageClasses: ['nfs-csi'],
  database: harbor.HarborDatabase.internal({ storage: { storageClassName: 'standard', size: '5Gi' } }),
  redis: harbor.HarborRedis.internal({ storage: { storageClassName: 'standard', size: '1Gi' } }),
});
app.synth();
console.log(h.externalUrl);
`;

describe('the npm package', () => {
  test('installs into another cdk8s app and synthesizes there', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-pack-'));
    try {
      const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', work],
        { cwd: ROOT, encoding: 'utf-8' }).trim().split('\n').pop()!;
      const installed = path.join(work, 'app', 'node_modules', 'cdk8s-harbor');
      fs.mkdirSync(installed, { recursive: true });
      execFileSync('tar', ['-xzf', path.join(work, packed), '-C', installed, '--strip-components=1']);
      fs.writeFileSync(path.join(work, 'app', 'main.js'), CONSUMER);

      // the library's own dependencies come from this checkout, as npm would install them
      const output = execFileSync(process.execPath, ['main.js', path.join(work, 'dist')], {
        cwd: path.join(work, 'app'),
        env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
        encoding: 'utf-8',
      });

      expect(output.trim()).toBe('https://hub.example.test');
      expect(fs.existsSync(path.join(installed, 'lib', 'harbor', 'scripts', 'ensure-secrets.py'))).toBe(true);
      const objects = loadYamlDir(path.join(work, 'dist'));
      expect(objects.map((o) => o.metadata.name)).toEqual(expect.arrayContaining(['hub-core', 'registry-ca']));
      expect(objects.filter((o) => o.kind === 'Job')[0].metadata.namespace).toBe('registry');
      expectValidObjects(objects);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
