import { Construct } from 'constructs';
import * as argo from '../../imports/argoproj.io';
import { label, objectName } from '../private/checks';
import { Problems } from '../private/validation';

/** One group of `dist/` files that Argo CD syncs as one Application. */
export interface DeliveryArea {
  /** Name of the Application. */
  readonly name: string;
  /** Glob patterns of the area's files, relative to `path`. */
  readonly files: string[];
  /** Namespace the area's namespaced objects go to (their manifests name it too). */
  readonly namespace: string;
  /** The area's place in the order; lower waves are synced and healthy first. */
  readonly wave: number;
}

/** Where Argo CD finds `dist/` and where it deploys. */
export interface ArgoCdSourceProps {
  /** The Git repository Argo CD reads `dist/` from. */
  readonly repoURL: string;

  /**
   * Branch, tag or commit.
   * @default 'HEAD'
   */
  readonly targetRevision?: string;

  /** Folder of the synthesized files in the repository, e.g. `clusters/prod/harbor`. */
  readonly path: string;

  /**
   * Namespace of Argo CD, where Applications must live.
   * @default 'argocd'
   */
  readonly argoNamespace?: string;

  /** @default 'default' */
  readonly project?: string;

  /**
   * The cluster to deploy to.
   * @default 'https://kubernetes.default.svc' (the cluster Argo CD runs in)
   */
  readonly server?: string;
}

export interface ArgoCdApplicationsProps extends ArgoCdSourceProps {
  /** The areas, in any order; `wave` orders them. */
  readonly areas: DeliveryArea[];
}

export interface ArgoCdRootApplicationProps extends ArgoCdSourceProps {
  /** Name of the root Application. */
  readonly name: string;
}

/** The file the area Applications are written to, which the root Application syncs. */
export const APPS_FILE = '*apps.k8s.yaml';

const RETRY = { limit: 10, backoff: { duration: '10s', factor: 2, maxDuration: '5m' } };

/**
 * One Argo CD Application per area of a synthesized `dist/`, in sync waves. Each retries
 * failed syncs, since cert-manager's webhook or another area's CRD may not answer on the first
 * try, and skips the dry run of kinds whose CRD is not installed yet. Deleting one leaves what
 * it deployed in place: no resources finalizer.
 */
export class ArgoCdApplications extends Construct {
  public readonly applications: argo.Application[];

  public constructor(scope: Construct, id: string, props: ArgoCdApplicationsProps) {
    super(scope, id);

    checkSource(props);

    this.applications = props.areas.map(
      (area) =>
        new argo.Application(this, area.name, {
          metadata: {
            name: area.name,
            namespace: props.argoNamespace ?? 'argocd',
            annotations: { 'argocd.argoproj.io/sync-wave': String(area.wave) },
          },
          spec: {
            project: props.project ?? 'default',
            source: sourceOf(props, area.files),
            destination: destinationOf(props, area.namespace),
            syncPolicy: {
              automated: { prune: true, selfHeal: true },
              syncOptions: ['SkipDryRunOnMissingResource=true'],
              retry: RETRY,
            },
          },
        }),
    );
  }
}

/**
 * The app of apps: applied once by hand (`kubectl apply -f`), it syncs the area Applications
 * from `APPS_FILE`, which then sync everything else.
 */
export class ArgoCdRootApplication extends Construct {
  public readonly application: argo.Application;

  public constructor(scope: Construct, id: string, props: ArgoCdRootApplicationProps) {
    super(scope, id);

    checkSource(props);

    this.application = new argo.Application(this, 'Resource', {
      metadata: { name: props.name, namespace: props.argoNamespace ?? 'argocd' },
      spec: {
        project: props.project ?? 'default',
        source: sourceOf(props, [APPS_FILE]),
        destination: destinationOf(props, props.argoNamespace ?? 'argocd'),
        syncPolicy: { automated: { prune: true, selfHeal: true }, retry: RETRY },
      },
    });
  }
}

function checkSource(props: ArgoCdSourceProps): void {
  const problems = new Problems();
  problems.addAll(checkArgoCdSource(props));
  problems.throwIfAny('Argo CD delivery');
}

/** Every problem of the delivery settings, so that an app reports them with its others. */
export function checkArgoCdSource(props: ArgoCdSourceProps): readonly string[] {
  const problems = new Problems();
  problems.value('argocd.repoURL', props.repoURL, (url) =>
    /^(https?|ssh):\/\/\S+$|^[\w.-]+@[\w.-]+:\S+$/.test(url)
      ? undefined
      : 'is not a Git repository URL; use https://, ssh:// or git@host:path',
  );
  problems.value('argocd.path', props.path, (path) =>
    /^(?!\/)(?!.*\.\.)[\w./-]+$/.test(path) && !path.endsWith('/')
      ? undefined
      : 'is not a folder of the repository; use a relative path like clusters/prod/harbor',
  );
  problems.value('argocd.targetRevision', props.targetRevision, (revision) =>
    /^\S+$/.test(revision) ? undefined : 'is not a branch, tag or commit',
  );
  problems.value('argocd.argoNamespace', props.argoNamespace, label);
  problems.value('argocd.project', props.project, objectName);
  problems.value('argocd.server', props.server, (server) =>
    /^https?:\/\/[^\s/]+(\/\S*)?$/.test(server)
      ? undefined
      : 'is not a cluster API URL; use e.g. https://kubernetes.default.svc',
  );
  return problems.all;
}

function sourceOf(props: ArgoCdSourceProps, files: string[]): argo.ApplicationSpecSource {
  return {
    repoUrl: props.repoURL,
    targetRevision: props.targetRevision ?? 'HEAD',
    path: props.path,
    // several Applications read one folder; each takes only its own files
    directory: { include: files.length === 1 ? files[0] : `{${files.join(',')}}` },
  };
}

function destinationOf(
  props: ArgoCdSourceProps,
  namespace: string,
): argo.ApplicationSpecDestination {
  return { server: props.server ?? 'https://kubernetes.default.svc', namespace };
}
