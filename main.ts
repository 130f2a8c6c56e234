import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { loadConfig } from './lib/app/config';
import { buildStack } from './lib/app/stack';

const USAGE = `usage: npm run synth -- [--config FILE] [--out DIR]

  --config, -c FILE  YAML file laid over the built-in non-production profile
                     (default: $HARBOR_CONFIG, else the built-in profile alone)
  --out, -o DIR      where the YAML goes (default: $CDK8S_OUTDIR, else dist)`;

let outdir = 'dist';

function main(): void {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      out: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }

  const configFile = values.config ?? (process.env.HARBOR_CONFIG || undefined);
  outdir = path.resolve(values.out ?? process.env.CDK8S_OUTDIR ?? 'dist');
  const config = loadConfig(configFile);

  // synthesize beside the output and swap only on success, so a failure leaves it untouched
  const staging = `${outdir}.staging-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    const stack = buildStack(config, staging);
    stack.app.synth();
    const retired = `${outdir}.retired-${process.pid}`;
    if (fs.existsSync(outdir)) fs.renameSync(outdir, retired);
    fs.renameSync(staging, outdir);
    fs.rmSync(retired, { recursive: true, force: true });

    const files = fs.readdirSync(outdir).sort();
    const objects = stack.app.charts.reduce((sum, chart) => sum + chart.toJson().length, 0);
    const generated = stack.harbor.secrets.generated;
    const where = path.relative(process.cwd(), outdir) || '.';
    const source = configFile ? `config ${configFile}` : 'built-in non-production profile';
    console.log(`wrote ${objects} objects in ${files.length} files to ${where}/ (${source})`);
    console.log(`  Harbor ${stack.harbor.images.version} at ${stack.harbor.externalUrl}`);
    console.log(
      generated.length > 0
        ? `  secrets created in the cluster by Job: ${generated.join(', ')}`
        : '  secrets: all supplied as existing Secrets',
    );
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

try {
  main();
} catch (err) {
  console.error(`synth failed: ${(err as Error).message}`);
  console.error(`${path.relative(process.cwd(), outdir) || '.'}/ was left as it was.`);
  process.exitCode = 1;
}
