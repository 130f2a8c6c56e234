import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { stringify } from 'yaml';
import { loadConfig } from './lib/app/config';
import { writeOutput } from './lib/app/output';
import { ARGOCD_FOLDER, buildStack } from './lib/app/stack';
import { ConfigurationError } from './lib/private/validation';

const USAGE = `usage: npm run synth -- [--config FILE] [--out DIR]

  --config, -c FILE  YAML file laid over the built-in non-production profile
                     (default: $HARBOR_CONFIG, else the built-in profile alone)
  --restore-job DUMP print, instead of writing files, the Job that restores Harbor's database
                     from a dump of the backup (a file name from its log, or latest)
  --out, -o DIR      where the YAML goes (default: $CDK8S_OUTDIR, else dist); it must be
                     missing, empty, or hold only the *.k8s.yaml files, images.txt and
                     argocd/ of an earlier synth`;

/** Files synthesis writes; an output directory may hold nothing else. */
const GENERATED = /(\.k8s\.yaml|^images\.txt)$/;

/** Set once the output directory is known, for the failure message. */
let target: string | undefined;

/**
 * Refuses an output path that holds anything synthesis did not write, so that a mistyped
 * `--out` can never delete a project, a config file or a mount.
 */
function checkOutput(outdir: string, given: string): void {
  const problem = (text: string) => new ConfigurationError('output', [`--out: ${given} ${text}`]);
  if (!fs.existsSync(outdir)) {
    const parent = path.dirname(outdir);
    if (!fs.existsSync(parent))
      throw problem(`is in ${parent}, which does not exist; create it first`);
    if (!fs.statSync(parent).isDirectory()) {
      throw problem(`is in ${parent}, which is a file; name a directory`);
    }
    return;
  }
  if (!fs.statSync(outdir).isDirectory()) throw problem('is a file; name a directory');
  const foreign = foreignEntries(outdir);
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? ', ...' : '');
    throw problem(
      `holds files synth did not write (${shown}); name an empty directory or one that` +
        ' only an earlier synth wrote',
    );
  }
}

/** Entries of a directory that synthesis did not write: anything but its files and folder. */
function foreignEntries(dir: string, nested = false): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      if (entry.isFile() && GENERATED.test(entry.name)) return [];
      if (!nested && entry.isDirectory() && entry.name === ARGOCD_FOLDER) {
        return foreignEntries(path.join(dir, entry.name), true).map((e) => `${entry.name}/${e}`);
      }
      return [entry.name];
    })
    .sort();
}

/** Replaces the generated files of `outdir` with those of `staging`, folder included. */
function publish(staging: string, given: string): string[] {
  if (!fs.existsSync(given)) fs.mkdirSync(given);
  // a symlinked output folder is written through, into the folder it points at
  const outdir = fs.realpathSync(given);
  fs.rmSync(path.join(outdir, ARGOCD_FOLDER), { recursive: true, force: true });
  for (const old of fs.readdirSync(outdir)) fs.unlinkSync(path.join(outdir, old));
  fs.cpSync(staging, outdir, { recursive: true });
  return (fs.readdirSync(outdir, { recursive: true }) as string[]).sort();
}

/** Prints the one-off restore Job for the configuration's backup, without writing anything. */
function printRestoreJob(dump: string, configFile?: string, source?: string): void {
  const config = loadConfig(configFile, source);
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-harbor-'));
  try {
    const backup = buildStack(config, staging, source ?? 'the built-in profile').harbor.backup;
    if (!backup) {
      throw new ConfigurationError('restore', [
        'backup: is not enabled; there is nothing to restore',
      ]);
    }
    process.stdout.write(stringify(backup.restoreJob(dump)));
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function main(): void {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      out: { type: 'string', short: 'o' },
      'restore-job': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }

  const fromEnv = values.config === undefined && !!process.env.HARBOR_CONFIG;
  const configFile = values.config ?? (process.env.HARBOR_CONFIG || undefined);
  const source = fromEnv ? `${configFile} (from HARBOR_CONFIG)` : configFile;
  if (values['restore-job'] !== undefined) {
    printRestoreJob(values['restore-job'], configFile, source);
    return;
  }
  const given = values.out ?? (process.env.CDK8S_OUTDIR || 'dist');
  if (given === '') throw new ConfigurationError('output', ['--out: is empty; name a directory']);
  const outdir = path.resolve(given);
  checkOutput(outdir, given);
  target = given.replace(/\/+$/, '') || '.';
  const config = loadConfig(configFile, source);

  // synthesize elsewhere and publish only on success, so a failure leaves the output as it was
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-harbor-'));
  try {
    const stack = buildStack(config, staging, source ?? 'the built-in profile');
    const manifests = writeOutput(stack);
    const files = publish(staging, outdir);

    const objects = manifests.length;
    const generated = stack.harbor.secrets.generated;
    const origin = configFile ? `config ${source}` : 'built-in non-production profile';
    const yamlFiles = files.filter((file) => file.endsWith('.yaml')).length;
    console.log(`wrote ${objects} objects in ${yamlFiles} files to ${target}/ (${origin})`);
    console.log(`  Harbor ${stack.harbor.images.version} at ${stack.harbor.externalUrl}`);
    console.log(
      generated.length > 0
        ? `  secrets created in the cluster by Job: ${generated.join(', ')}`
        : '  secrets: all supplied as existing Secrets',
    );
    const left = placeholders(config);
    if (configFile && left.length > 0) {
      console.log(`  placeholders of the built-in profile still set: ${left.join(', ')}`);
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** The settings that still name the profile's placeholder domain, `example.test`. */
function placeholders(node: unknown, at = ''): string[] {
  if (typeof node === 'string') return /(^|[./@])example\.test([:/]|$)/.test(node) ? [at] : [];
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) =>
    placeholders(value, Array.isArray(node) ? `${at}[${key}]` : at ? `${at}.${key}` : key),
  );
}

try {
  main();
} catch (err) {
  console.error(`synth failed: ${(err as Error).message}`);
  console.error(target ? `${target}/ was left as it was.` : 'nothing was written.');
  process.exitCode = 1;
}
