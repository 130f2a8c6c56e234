import { harborVersion, imageRegistry } from '../private/checks';
import { Problems } from '../private/validation';

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

/** Records what is wrong with an image setting, under `field`. */
export function checkImages(problems: Problems, field: string, props: HarborImagesProps): void {
  problems.value(`${field}.version`, props.version, harborVersion);
  problems.value(`${field}.registry`, props.registry, imageRegistry);
}

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
  /** Metrics from Harbor's database and job queues; runs only with metrics on. */
  public readonly exporter: string;
  /** Harbor's installer image: Python and `htpasswd`, used by the secrets Job. */
  public readonly prepare: string;

  public constructor(props: HarborImagesProps = {}) {
    const problems = new Problems();
    checkImages(problems, 'images', props);
    problems.throwIfAny('images');
    const version = props.version ?? HARBOR_VERSION;
    const registry = props.registry ?? 'docker.io';
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
    this.exporter = image('harbor-exporter');
    this.prepare = image('prepare');
  }
}
