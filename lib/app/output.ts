import * as fs from 'fs';
import * as path from 'path';
import { Stack } from './stack';

type Manifest = Record<string, any>;

/** Every container image the manifests run, sorted, for mirroring into an air-gapped site. */
export function imagesOf(manifests: Manifest[]): string[] {
  const images = new Set<string>();
  for (const manifest of manifests) {
    const spec = manifest.spec;
    const pod = spec?.template?.spec ?? spec?.jobTemplate?.spec?.template?.spec;
    for (const container of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
      images.add(container.image);
    }
  }
  return [...images].sort();
}

/**
 * Writes the stack's YAML into its App's output directory, with `images.txt` beside it.
 * kubectl and Argo CD read only the .yaml and .json files of a directory, so it rides along.
 */
export function writeOutput(stack: Stack): Manifest[] {
  stack.app.synth();
  stack.argocd?.synth();
  const manifests = [stack.app, ...(stack.argocd ? [stack.argocd] : [])].flatMap((app) =>
    app.charts.flatMap((chart) => chart.toJson()),
  );
  const images = imagesOf(manifests);
  fs.writeFileSync(path.join(stack.app.outdir, 'images.txt'), images.join('\n') + '\n');
  return manifests;
}
