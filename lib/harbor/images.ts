/**
 * The container images of one Harbor release. Every image Harbor ships is published under the
 * same tag, so one version pins them all; `registry` lets an air-gapped site point every image
 * at its own mirror.
 */
export interface HarborImagesProps {
  /**
   * Harbor's release tag.
   * @default HARBOR_VERSION
   */
  readonly version?: string;

  /**
   * Registry host and path that hold the `goharbor/*` repositories.
   * @default 'docker.io'
   */
  readonly registry?: string;
}

/** The Harbor release this library is written and tested against. */
export const HARBOR_VERSION = 'v2.15.2';

const VERSION_PATTERN = /^v2\.\d+\.\d+$/;

/** Image references for each Harbor component, all pinned to one release. */
export class HarborImages {
  public readonly version: string;
  public readonly core: string;
  public readonly portal: string;
  public readonly jobservice: string;
  public readonly registry: string;
  public readonly registryctl: string;
  public readonly trivyAdapter: string;
  public readonly database: string;
  public readonly redis: string;
  /** Harbor's installer image: Python and `htpasswd`, used by the secrets Job. */
  public readonly prepare: string;

  public constructor(props: HarborImagesProps = {}) {
    const version = props.version ?? HARBOR_VERSION;
    if (!VERSION_PATTERN.test(version)) {
      throw new Error(
        `images.version: ${JSON.stringify(version)} is not a Harbor 2.x release tag;` +
          ` use a tag like ${HARBOR_VERSION}`,
      );
    }
    const registry = (props.registry ?? 'docker.io').replace(/\/+$/, '');
    const image = (repository: string) => `${registry}/goharbor/${repository}:${version}`;

    this.version = version;
    this.core = image('harbor-core');
    this.portal = image('harbor-portal');
    this.jobservice = image('harbor-jobservice');
    this.registry = image('registry-photon');
    this.registryctl = image('harbor-registryctl');
    this.trivyAdapter = image('trivy-adapter-photon');
    this.database = image('harbor-db');
    this.redis = image('valkey-photon');
    this.prepare = image('prepare');
  }
}
