/**
 * A minimal OCI image layout written by hand, for pushes and pulls without internet access:
 * one gzipped layer holding a fresh file, a config, a manifest and index.json.
 */
import { createHash, randomBytes } from 'crypto';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { gzipSync } from 'zlib';

export interface Blob {
  readonly digest: string;
  readonly size: number;
}

export interface OciImage {
  readonly dir: string;
  readonly manifest: Buffer;
  readonly manifestDigest: string;
  readonly config: Blob;
  readonly layer: Blob;
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Writes the layout into `dir`, its manifest tagged `tag`. */
export function buildOciImage(dir: string, tag: string): OciImage {
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const writeBlob = (data: Buffer): Blob => {
    const digest = sha256(data);
    fs.writeFileSync(path.join(blobs, digest.slice('sha256:'.length)), data);
    return { digest, size: data.length };
  };

  const content = path.join(dir, 'content');
  fs.mkdirSync(content);
  // a fresh layer each run, so nothing can be served from an earlier run's blobs
  const nonce = randomBytes(8).toString('hex');
  fs.writeFileSync(path.join(content, 'hello.txt'), `pushed by a test ${nonce}\n`);
  const tar = execFileSync('tar', ['--owner=0', '--group=0', '-C', content, '-cf', '-', '.']);
  const layer = writeBlob(gzipSync(tar));
  const config = writeBlob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      }),
    ),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  );
  const manifestBlob = writeBlob(manifest);
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifestBlob,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return { dir, manifest, manifestDigest: manifestBlob.digest, config, layer };
}
