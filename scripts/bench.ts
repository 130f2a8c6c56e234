// `npm run bench`: median synth time of each profile, whole process, and how synthesis grows
// with the number of declared Harbor instances. A benchmark that reports; it asserts nothing.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Chart } from 'cdk8s';
import { Harbor, HarborDatabase, HarborRedis, HarborTls, IssuerKind } from '../lib';

const ROOT = path.join(__dirname, '..');
const RUNS = 7;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function timeProfile(config: string | undefined): number {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'harbor-bench-'));
  const args = [
    path.join(ROOT, 'build', 'main.js'),
    '--out',
    out,
    ...(config ? ['--config', config] : []),
  ];
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, HARBOR_CONFIG: '' },
    });
    if (result.status !== 0) throw new Error(`synth failed: ${result.stderr}`);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  fs.rmSync(out, { recursive: true, force: true });
  return median(times);
}

function synthInstances(count: number): number {
  const times: number[] = [];
  for (let run = 0; run < 3; run++) {
    const start = process.hrtime.bigint();
    const app = new App({ outdir: os.tmpdir() });
    for (let i = 0; i < count; i++) {
      const chart = new Chart(app, `h${i}`, {
        namespace: `harbor-${i}`,
        disableResourceNameHashes: true,
      });
      new Harbor(chart, 'Harbor', {
        instance: `h${i}`,
        host: `h${i}.example.test`,
        tls: HarborTls.fromIssuer({ name: 'ca', kind: IssuerKind.CLUSTER_ISSUER }),
        registryStorage: { storageClassName: 'nfs-csi', size: '10Gi' },
        database: HarborDatabase.internal({
          storage: { storageClassName: 'standard', size: '1Gi' },
        }),
        redis: HarborRedis.internal({ storage: { storageClassName: 'standard', size: '1Gi' } }),
        trivy: { storage: { storageClassName: 'standard', size: '1Gi' } },
      });
    }
    app.synthYaml();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

console.log(`median of ${RUNS} whole-process synths (node build/main.js):`);
for (const [label, config] of [
  ['built-in profile', undefined],
  ['examples/nonprod.yaml', path.join(ROOT, 'examples', 'nonprod.yaml')],
  ['examples/production.yaml', path.join(ROOT, 'examples', 'production.yaml')],
] as const) {
  console.log(`  ${label.padEnd(26)} ${timeProfile(config).toFixed(0)} ms`);
}

console.log('in-process synthesis by number of Harbor instances (median of 3):');
synthInstances(1); // warm-up: module loading and JIT would otherwise count against n=1
let base = 0;
for (const count of [1, 10, 50]) {
  const ms = synthInstances(count);
  if (count === 1) base = ms;
  console.log(
    `  ${String(count).padStart(3)} instances  ${ms.toFixed(0).padStart(6)} ms` +
      `  ${(ms / count).toFixed(1)} ms each  ${(ms / base / count).toFixed(2)}x linear`,
  );
}
