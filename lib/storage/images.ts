import { Check } from '../private/checks';

/** Where the storage constructs pull their default images from. */
export interface StorageImagesProps {
  /**
   * Registry host and path of a mirror that keeps the upstream repositories under their
   * upstream paths: `registry.k8s.io/sig-storage/x:v1` is pulled as `<registry>/sig-storage/x:v1`.
   * An image given in full (`image`) is used as it is.
   * @default - the upstream registries
   */
  readonly registry?: string;
}

/** An image reference: repository path, optional tag, optional digest. */
export const IMAGE = new RegExp(
  '^(?<name>[a-z0-9]+([._-]+[a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*)' +
    '(:(?<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(@(?<digest>sha256:[a-f0-9]{64}))?$',
);

/** An image reference pinned by tag or digest: never `latest`, never untagged. */
export const pinnedImage: Check<string> = (value) => {
  const match = IMAGE.exec(value);
  if (!match?.groups) {
    return 'is not an image reference; use e.g. "registry.example.test/team/app:v1.2.3"';
  }
  const { tag, digest } = match.groups;
  if (digest) return undefined;
  if (tag === undefined) return 'has no tag, which means latest; pin a release tag or digest';
  if (tag === 'latest') return 'moves with every push; pin a release tag or digest';
  return undefined;
};

/** The image as a mirror that keeps upstream repository paths serves it. */
export function mirrorImage(image: string, registry?: string): string {
  if (registry === undefined) return image;
  const [first, ...rest] = image.split('/');
  const hasHost = rest.length > 0 && /[.:]/.test(first);
  return `${registry}/${hasHost ? rest.join('/') : image}`;
}
