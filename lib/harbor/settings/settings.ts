import { createHash } from 'crypto';
import { ApiObject, Chart, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import * as k8s from '../../../imports/k8s';
import { CaBundleRef, SecretKeyRef, keyFileVolume, secretEnv } from '../common';
import { HARBOR_UID } from '../core';
import { HarborImages } from '../images';
import { checkSettings } from './check';
import { HarborSettingsDeclaration } from './declaration';
import { SettingsDocument } from './document';
import { RenderedSettings, renderSettings } from './render';
import { readAsset } from '../../private/assets';
import { dataKey, httpUrl, instanceName, objectName } from '../../private/checks';
import { componentLabels } from '../../private/labels';
import { Problems, show } from '../../private/validation';
import { containerSecurity, podSecurity, restrictPod } from '../../private/workload';

/** The Harbor account the reconciler logs in with. */
export interface HarborCredentials {
  /**
   * `admin`, or a Harbor user with the system admin role. Not a robot: the Job's login check
   * reads `GET /configurations`, which Harbor grants no robot.
   */
  readonly username: string;
  readonly password: SecretKeyRef;
}

export interface HarborSettingsProps extends HarborSettingsDeclaration {
  /** Name of the Harbor instance; the objects are named after it. */
  readonly instance: string;

  /**
   * The registry address in the pull Secrets' `auths`: the external host, with `:port` when
   * it is not 443.
   */
  readonly registry: string;

  /**
   * Base URL of Harbor's API, without `/api/v2.0`.
   * @default `http://<instance>-core`, core's Service in the chart's namespace
   */
  readonly coreUrl?: string;

  /**
   * The account the Job logs in with.
   * @default - user `admin` with the password in `<instance>-admin-password`, the Secret the
   *   secrets Job generates
   */
  readonly credentials?: HarborCredentials;

  /**
   * The Harbor release whose `prepare` image (it has python3) runs the reconciler.
   * @default - new HarborImages()
   */
  readonly images?: HarborImages;

  /**
   * PEM CA certificates to verify an `https` core URL with.
   * @default - the image's public roots
   */
  readonly caBundle?: CaBundleRef;

  /**
   * Retries of a failed run before the Job gives up.
   * @default 6
   */
  readonly backoffLimit?: number;

  /**
   * How long the Job may take, waiting for Harbor included.
   * @default Duration.minutes(30)
   */
  readonly timeout?: Duration;
}

/**
 * Harbor's configuration as code: projects, robots and their pull Secrets, retention,
 * replication, scanners, allowlists and user settings, applied through Harbor's REST API by a
 * one-shot Job. The Job is an Argo CD PostSync hook; with `kubectl apply`, a changed
 * declaration gives the Job a new name, so applying creates and runs it again. It reads its
 * document from a ConfigMap and every credential from Secrets; no secret value is synthesized.
 */
export class HarborSettings extends Construct {
  /** Every problem of the props, without building anything. */
  public static check(props: HarborSettingsProps): readonly string[] {
    const problems = new Problems();
    validate(props, problems);
    return problems.all;
  }

  public readonly job: kplus.Job;
  /** The document the reconciler brings Harbor to. */
  public readonly document: SettingsDocument;
  /** `settings.json` and the reconciler script. */
  public readonly configMap: kplus.ConfigMap;
  public readonly serviceAccount: kplus.ServiceAccount;
  /** The user settings for `CONFIG_OVERWRITE_JSON`, when they are delivered that way. */
  public readonly overwrite?: RenderedSettings['overwrite'];

  public constructor(scope: Construct, id: string, props: HarborSettingsProps) {
    super(scope, id);

    const problems = new Problems();
    validate(props, problems);
    problems.throwIfAny('Harbor settings');
    const namespace = Chart.of(this).namespace;
    if (!namespace) {
      throw new Error('HarborSettings: its chart needs a namespace; the Job runs there');
    }

    const instance = props.instance;
    const images = props.images ?? new HarborImages();
    const name = `${instance}-settings`;
    const stateName = `${name}-state`;
    const labels = componentLabels(instance, 'settings', images.version);
    const credentials = props.credentials ?? {
      username: 'admin',
      password: { name: `${instance}-admin-password`, key: 'HARBOR_ADMIN_PASSWORD' },
    };
    const rendered = renderSettings(props, {
      owner: `cdk8s-harbor:${namespace}/${instance}`,
      registry: props.registry,
      namespace,
      instance,
    });
    this.document = rendered.document;
    this.overwrite = rendered.overwrite;
    checkPullSecrets(this.document, props, namespace);

    this.configMap = new kplus.ConfigMap(this, 'Document', {
      metadata: { name, labels },
      data: {
        'settings.json': JSON.stringify(this.document, null, 2),
        'reconcile-settings.py': readAsset('lib/harbor/scripts/reconcile-settings.py'),
      },
    });
    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name, namespace, labels },
      automountToken: false,
    });
    this.grantAccess(name, namespace, stateName, labels);
    this.pullSecretAccounts(props, labels);

    const plainEnv: Record<string, string> = {
      SETTINGS_FILE: `${MOUNT}/settings.json`,
      HARBOR_URL: (props.coreUrl ?? `http://${instance}-core`).replace(/\/+$/, ''),
      HARBOR_USERNAME: credentials.username,
      NAMESPACE: namespace,
      STATE_CONFIGMAP: stateName,
      ...(props.caBundle ? { HARBOR_CA_FILE: `${CA_MOUNT}/ca.crt` } : {}),
    };
    const secretRefs: Record<string, SecretKeyRef> = {
      ...rendered.env,
      HARBOR_PASSWORD: credentials.password,
    };
    // the Job's spec is immutable and Argo CD replaces hooks by name: a changed declaration,
    // script, image, credential reference or Job setting gets a Job of a new name
    const digest = createHash('sha256')
      .update(
        JSON.stringify({
          data: this.configMap.data,
          plainEnv,
          secretRefs: sortedEntries(secretRefs),
          caBundle: props.caBundle,
          image: images.prepare,
          backoffLimit: props.backoffLimit,
          timeout: props.timeout?.toSeconds(),
        }),
      )
      .digest('hex')
      .slice(0, 10);

    const volumeMounts: kplus.VolumeMount[] = [
      {
        volume: kplus.Volume.fromConfigMap(this, 'DocumentVolume', this.configMap, {
          name: 'settings',
        }),
        path: MOUNT,
        readOnly: true,
      },
    ];
    if (props.caBundle) {
      volumeMounts.push({
        volume: keyFileVolume(this, 'harbor-ca', props.caBundle, 'ca.crt'),
        path: CA_MOUNT,
        readOnly: true,
      });
    }

    this.job = new kplus.Job(this, 'Job', {
      metadata: {
        name: `${name}-${digest}`,
        labels,
        annotations: {
          // Argo CD runs it after every sync and deletes the last run's Job first
          'argocd.argoproj.io/hook': 'PostSync',
          'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
        },
      },
      podMetadata: { labels },
      serviceAccount: this.serviceAccount,
      automountServiceAccountToken: true,
      restartPolicy: kplus.RestartPolicy.NEVER,
      backoffLimit: props.backoffLimit ?? 6,
      activeDeadline: props.timeout ?? Duration.minutes(30),
      securityContext: podSecurity(HARBOR_UID, HARBOR_UID),
      containers: [
        {
          name: 'reconcile',
          image: images.prepare,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          command: ['python3', `${MOUNT}/reconcile-settings.py`],
          securityContext: containerSecurity(HARBOR_UID, HARBOR_UID),
          resources: {
            cpu: { request: kplus.Cpu.millis(10) },
            memory: { request: Size.mebibytes(64), limit: Size.mebibytes(128) },
          },
          envVariables: {
            ...Object.fromEntries(
              Object.entries(plainEnv).map(([key, value]) => [
                key,
                kplus.EnvValue.fromValue(value),
              ]),
            ),
            ...Object.fromEntries(
              sortedEntries(secretRefs).map(([key, ref]) => [key, secretEnv(this, ref)]),
            ),
          },
          volumeMounts,
        },
      ],
    });
    restrictPod(this.job);
    // a malformed document (2) or refused credentials (4) fail the same way on every retry
    ApiObject.of(this.job).addJsonPatch(
      JsonPatch.add('/spec/podFailurePolicy', {
        rules: [
          {
            action: 'FailJob',
            onExitCodes: { containerName: 'reconcile', operator: 'In', values: [2, 4] },
          },
        ],
      }),
    );
  }

  /**
   * The state ConfigMap and the robots' pull Secrets, by name wherever Kubernetes allows it:
   * `create` is checked before the object exists, so it cannot be limited to names.
   */
  private grantAccess(
    name: string,
    namespace: string,
    stateName: string,
    labels: Record<string, string>,
  ): void {
    const secretsByNamespace = new Map<string, Set<string>>([[namespace, new Set()]]);
    for (const robot of this.document.robots) {
      for (const target of robot.secret.namespaces) {
        const names = secretsByNamespace.get(target) ?? new Set<string>();
        names.add(robot.secret.name);
        secretsByNamespace.set(target, names);
      }
    }

    for (const [target, secretNames] of secretsByNamespace) {
      const own = target === namespace;
      if (!own && secretNames.size === 0) continue;
      const suffix = own ? '' : `-${target}`;
      const role = new kplus.Role(this, `Role${suffix}`, {
        metadata: { name, namespace: target, labels },
      });
      if (own) {
        role.allow(['get', 'update'], configMapNamed(stateName));
        role.allow(['create'], kplus.ApiResource.CONFIG_MAPS);
      }
      if (secretNames.size > 0) {
        for (const secretName of [...secretNames].sort()) {
          role.allow(['get', 'update'], secretNamed(secretName));
        }
        role.allow(['create'], kplus.ApiResource.SECRETS);
      }
      const binding = new kplus.RoleBinding(this, `RoleBinding${suffix}`, {
        metadata: { name, namespace: target, labels },
        role,
      });
      binding.addSubjects(this.serviceAccount);
    }
  }

  /**
   * The ServiceAccounts a robot's pull Secret names, each listing every pull Secret of its
   * namespace that names it, so its pods pull from private projects (field failure #45).
   */
  private pullSecretAccounts(props: HarborSettingsProps, labels: Record<string, string>): void {
    const secretsByAccount = new Map<string, Set<string>>();
    (props.robots ?? []).forEach((robot, i) => {
      const secret = this.document.robots[i].secret;
      for (const target of secret.namespaces) {
        for (const account of robot.pullSecret?.serviceAccounts ?? []) {
          const key = `${target}/${account}`;
          secretsByAccount.set(key, (secretsByAccount.get(key) ?? new Set()).add(secret.name));
        }
      }
    });

    for (const [key, secretNames] of [...secretsByAccount].sort(([a], [b]) => a.localeCompare(b))) {
      const [target, account] = key.split('/');
      new k8s.KubeServiceAccount(this, `PullAccount-${key}`, {
        metadata: { name: account, namespace: target, labels },
        imagePullSecrets: [...secretNames].sort().map((name) => ({ name })),
      });
    }
  }
}

const MOUNT = '/etc/harbor-settings';
const CA_MOUNT = '/etc/harbor-settings-ca';

function sortedEntries<T>(record: Record<string, T>): Array<[string, T]> {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

function configMapNamed(resourceName: string): kplus.IApiResource {
  return { apiGroup: '', resourceType: 'configmaps', resourceName };
}

function secretNamed(resourceName: string): kplus.IApiResource {
  return { apiGroup: '', resourceType: 'secrets', resourceName };
}

/**
 * The pull Secrets and ServiceAccounts as rendered, once Harbor's namespace is known: each a
 * valid name, none written by two robots, none taking a name of Harbor's own objects.
 */
function checkPullSecrets(
  document: SettingsDocument,
  props: HarborSettingsProps,
  namespace: string,
): void {
  const problems = new Problems();
  const owners = new Map<string, string>();
  document.robots.forEach((robot, i) => {
    const field = `settings.robots[${i}].pullSecret`;
    const name = robot.secret.name;
    const problem = objectName(name);
    if (problem) {
      problems.add(
        `${field}.name`,
        `${show(name)}, made from the robot's name, ${problem}; set pullSecret.name`,
      );
    }
    for (const target of robot.secret.namespaces) {
      const key = `${target}/${name}`;
      const other = owners.get(key);
      if (other !== undefined) {
        problems.add(
          `${field}.name`,
          `${show(name)} in namespace ${show(target)} is written by ${other} too, and each run` +
            ' would overwrite the other credentials; give each robot its own Secret',
        );
      } else owners.set(key, `settings.robots[${i}]`);
      const own = target === namespace;
      if (
        own &&
        name.startsWith(`${props.instance}-`) &&
        !name.startsWith(`${props.instance}-robot-`)
      ) {
        problems.add(
          `${field}.name`,
          `${show(name)} takes a name of Harbor's own objects in ${show(namespace)}; name pull` +
            ` Secrets there ${props.instance}-robot-<name>, or without the prefix`,
        );
      }
    }
    (props.robots?.[i]?.pullSecret?.serviceAccounts ?? []).forEach((account, j) => {
      problems.check(
        account !== `${props.instance}-settings`,
        `${field}.serviceAccounts[${j}]`,
        `${show(account)} is the settings Job's own ServiceAccount; name the account the pods` +
          ' that pull run as',
      );
    });
  });
  problems.throwIfAny('Harbor settings');
}

/** Every prop of the Job that can be malformed, then the declaration itself. */
function validate(props: HarborSettingsProps, problems: Problems): void {
  problems.value('instance', props.instance, instanceName);
  problems.value('registry', props.registry, (value) =>
    /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/.test(value)
      ? undefined
      : 'is not a registry address; use the host with an optional port, such as' +
        ' "registry.example.test:8443", without scheme or path',
  );
  problems.value('coreUrl', props.coreUrl, (value) =>
    value.replace(/\/+$/, '').endsWith('/api/v2.0')
      ? 'ends in /api/v2.0; give the base URL, such as "http://harbor-core"; the Job adds the' +
        ' API path'
      : httpUrl(value),
  );
  if (props.credentials) {
    problems.value('credentials.username', props.credentials.username, (value) =>
      value.length > 0 ? undefined : 'is empty; name a Harbor user with the admin role',
    );
    problems.value('credentials.password.name', props.credentials.password.name, objectName);
    problems.value('credentials.password.key', props.credentials.password.key, dataKey);
  }
  if (props.caBundle) {
    problems.value('caBundle.name', props.caBundle.name, objectName);
    problems.value('caBundle.key', props.caBundle.key, dataKey);
  }
  problems.value('backoffLimit', props.backoffLimit, (value) =>
    Number.isInteger(value) && value >= 0 && value <= 100
      ? undefined
      : 'is not a whole number from 0 to 100',
  );
  const timeout = props.timeout?.toSeconds();
  if (timeout !== undefined && !(timeout >= 60)) {
    problems.add('timeout', `is ${show(timeout)} seconds; allow the Job at least a minute`);
  }

  checkSettings(problems, 'settings', props);
}
