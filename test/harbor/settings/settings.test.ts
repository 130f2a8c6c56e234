import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Duration, Testing } from 'cdk8s';
import { Harbor, HarborDatabase, HarborRedis, HarborTls } from '../../../lib';
import {
  HarborAuthentication,
  RobotLevel,
  RobotPermission,
  SignatureEnforcement,
  UserSettingsDelivery,
  HarborSettingsDeclaration,
} from '../../../lib/harbor/settings/declaration';
import { renderSettings } from '../../../lib/harbor/settings/render';
import { HarborSettings, HarborSettingsProps } from '../../../lib/harbor/settings/settings';
import { expectValidObjects } from '../../support/schema';
import { run } from '../../support/processes';
import { K8sObject, containerOf, envOf, find, mountAt, ofKind, podSpec } from '../../support/synth';

const ROOT = path.join(__dirname, '..', '..', '..');

/** A project with scan on push and cosign, and a CI robot whose Secret goes to `apps`. */
function declaration(override: Partial<HarborSettingsDeclaration> = {}): HarborSettingsDeclaration {
  return {
    projects: [{ name: 'apps', scanOnPush: true, signatures: [SignatureEnforcement.COSIGN] }],
    robots: [
      {
        name: 'ci',
        level: RobotLevel.system(),
        permissions: [RobotPermission.push('apps')],
        pullSecret: { name: 'harbor-pull', namespaces: ['apps', 'web'] },
      },
    ],
    ...override,
  };
}

const OIDC = HarborAuthentication.oidc({
  name: 'idp',
  endpoint: 'https://idp.example.test',
  clientId: 'harbor',
  clientSecret: { name: 'oidc-client', key: 'secret' },
});

function synthSettings(props: Partial<HarborSettingsProps> = {}) {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'harbor' });
  const settings = new HarborSettings(chart, 'Settings', {
    instance: 'harbor',
    registry: 'registry.example.test',
    ...declaration(),
    ...props,
  });
  const objects = Testing.synth(chart);
  return { settings, objects };
}

function synthHarbor(settings: HarborSettingsDeclaration, port?: number) {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'harbor' });
  const harbor = new Harbor(chart, 'Harbor', {
    host: 'registry.example.test',
    port,
    tls: HarborTls.fromSecret('tls'),
    registryStorage: { storageClassName: 'nfs-csi', size: '10Gi' },
    database: HarborDatabase.internal({ storage: { storageClassName: 'standard', size: '1Gi' } }),
    redis: HarborRedis.internal({ storage: { storageClassName: 'standard', size: '1Gi' } }),
    settings,
  });
  const objects = Testing.synth(chart);
  expectValidObjects(objects);
  return { harbor, objects };
}

function settingsJob(objects: K8sObject[]): K8sObject {
  const jobs = ofKind(objects, 'Job').filter((j) => j.metadata.name.startsWith('harbor-settings-'));
  expect(jobs).toHaveLength(1);
  return jobs[0];
}

function roleIn(objects: K8sObject[], namespace: string): K8sObject {
  const roles = objects.filter(
    (o) =>
      o.kind === 'Role' &&
      o.metadata.name === 'harbor-settings' &&
      o.metadata.namespace === namespace,
  );
  expect(roles).toHaveLength(1);
  return roles[0];
}

describe('HarborSettings', () => {
  test('every object passes strict schema validation', () => {
    const { objects } = synthSettings({
      caBundle: { name: 'harbor-internal-ca', key: 'ca.crt' },
      coreUrl: 'https://harbor-core:443',
    });

    expectValidObjects(objects);
    expect(objects.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['ConfigMap', 'ServiceAccount', 'Role', 'RoleBinding', 'Job']),
    );
  });

  test('fails the Job at once on a malformed document or refused credentials', () => {
    const job = settingsJob(synthSettings().objects);

    expect(job.spec.podFailurePolicy).toEqual({
      rules: [
        {
          action: 'FailJob',
          onExitCodes: { containerName: 'reconcile', operator: 'In', values: [2, 4] },
        },
      ],
    });
    expect(podSpec(job).restartPolicy).toBe('Never');
    expect(containerOf(job, 'reconcile')).toBeDefined();
  });

  test('makes the Job an Argo CD PostSync hook that replaces its last run', () => {
    const job = settingsJob(synthSettings().objects);

    expect(job.metadata.annotations).toEqual({
      'argocd.argoproj.io/hook': 'PostSync',
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
    });
    expect(job.spec.ttlSecondsAfterFinished).toBeUndefined();
    expect(job.spec.backoffLimit).toBe(6);
    expect(job.spec.activeDeadlineSeconds).toBe(1800);
    expect(podSpec(job).restartPolicy).toBe('Never');
  });

  test('renames the Job when the declaration changes, and only then', () => {
    const name = (props: Partial<HarborSettingsProps> = {}) =>
      settingsJob(synthSettings(props).objects).metadata.name;

    const first = name();
    const again = name();
    const changed = name({
      projects: [{ name: 'apps', scanOnPush: false, signatures: [SignatureEnforcement.COSIGN] }],
    });

    expect(first).toMatch(/^harbor-settings-[0-9a-f]{10}$/);
    expect(again).toBe(first);
    expect(changed).not.toBe(first);
  });

  test('mounts the rendered document read-only and points the script at it', () => {
    const { objects } = synthSettings();

    const job = settingsJob(objects);
    const container = containerOf(job, 'reconcile');
    const found = mountAt(job, container, '/etc/harbor-settings');
    const configMap = find(objects, 'ConfigMap', 'harbor-settings');
    const expected = renderSettings(declaration(), {
      owner: 'cdk8s-harbor:harbor/harbor',
      registry: 'registry.example.test',
      namespace: 'harbor',
      instance: 'harbor',
    }).document;

    expect(found?.mount.readOnly).toBe(true);
    expect(found?.volume.configMap.name).toBe('harbor-settings');
    expect(JSON.parse(configMap.data['settings.json'])).toEqual(expected);
    expect(configMap.data['reconcile-settings.py']).toBe(
      fs.readFileSync(path.join(ROOT, 'lib/harbor/scripts/reconcile-settings.py'), 'utf-8'),
    );
    expect(envOf(container, 'SETTINGS_FILE')).toBe('/etc/harbor-settings/settings.json');
    expect(container.command).toEqual(['python3', '/etc/harbor-settings/reconcile-settings.py']);
  });

  test('reads every credential from a Secret and none from a value', () => {
    const { objects } = synthSettings({
      authentication: OIDC,
      registries: [
        {
          name: 'hub',
          type: 'docker-hub' as any,
          url: 'https://hub.example.test',
          credential: {
            accessKey: { name: 'hub-credentials', key: 'user' },
            accessSecret: { name: 'hub-credentials', key: 'token' },
          },
        },
      ],
    });

    const container = containerOf(settingsJob(objects), 'reconcile');
    const document = JSON.parse(
      find(objects, 'ConfigMap', 'harbor-settings').data['settings.json'],
    );
    const named = [
      'HARBOR_PASSWORD',
      ...Object.values(document.secretConfigurations as Record<string, string>),
      document.registries[0].credential.accessKeyEnv,
      document.registries[0].credential.accessSecretEnv,
    ];

    expect(named.length).toBe(4);
    for (const env of named) {
      const entry = container.env.find((e: K8sObject) => e.name === env);
      expect(entry?.value).toBeUndefined();
      expect(entry?.valueFrom?.secretKeyRef?.name).toEqual(expect.any(String));
    }
    expect(envOf(container, 'HARBOR_PASSWORD')).toEqual({
      name: 'harbor-admin-password',
      key: 'HARBOR_ADMIN_PASSWORD',
    });
    expect(envOf(container, document.registries[0].credential.accessSecretEnv)).toEqual({
      name: 'hub-credentials',
      key: 'token',
    });
    expect(envOf(container, 'HARBOR_USERNAME')).toBe('admin');
    expect(envOf(container, 'HARBOR_URL')).toBe('http://harbor-core');
    expect(envOf(container, 'NAMESPACE')).toBe('harbor');
    expect(envOf(container, 'STATE_CONFIGMAP')).toBe('harbor-settings-state');
  });

  test('grants the state ConfigMap and the pull Secrets, by name where Kubernetes can', () => {
    const { objects } = synthSettings({
      robots: [
        ...declaration().robots!,
        {
          name: 'ops',
          level: RobotLevel.system(),
          permissions: [RobotPermission.pull('apps')],
        },
      ],
    });

    expect(roleIn(objects, 'harbor').rules).toEqual([
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['harbor-settings-state'],
        verbs: ['get', 'update'],
      },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['harbor-robot-ops'],
        verbs: ['get', 'update'],
      },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
    for (const namespace of ['apps', 'web']) {
      expect(roleIn(objects, namespace).rules).toEqual([
        {
          apiGroups: [''],
          resources: ['secrets'],
          resourceNames: ['harbor-pull'],
          verbs: ['get', 'update'],
        },
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      ]);
    }
    expect(objects.filter((o) => o.kind === 'Role')).toHaveLength(3);
  });

  test('binds the Job account in every namespace it writes to', () => {
    const { objects } = synthSettings();

    const bindings = ofKind(objects, 'RoleBinding');
    const account = find(objects, 'ServiceAccount', 'harbor-settings');

    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(['apps', 'harbor', 'web']);
    for (const binding of bindings) {
      expect(binding.roleRef).toEqual({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: 'harbor-settings',
      });
      expect(binding.subjects).toEqual([
        { apiGroup: '', kind: 'ServiceAccount', name: 'harbor-settings', namespace: 'harbor' },
      ]);
    }
    expect(account.automountServiceAccountToken).toBe(false);
    expect(podSpec(settingsJob(objects)).serviceAccountName).toBe('harbor-settings');
    expect(podSpec(settingsJob(objects)).automountServiceAccountToken).toBe(true);
  });

  test('lists the pull Secret on each consumer namespace account (field failure #45)', () => {
    const { objects } = synthSettings({
      robots: [
        {
          name: 'pull',
          level: RobotLevel.project('apps'),
          permissions: [RobotPermission.pull()],
          pullSecret: {
            name: 'harbor-pull',
            namespaces: ['apps', 'web'],
            serviceAccounts: ['default'],
          },
        },
      ],
    });

    const accounts = objects.filter(
      (o) => o.kind === 'ServiceAccount' && o.metadata.name === 'default',
    );
    const document = JSON.parse(
      find(objects, 'ConfigMap', 'harbor-settings').data['settings.json'],
    );

    expect(accounts.map((a) => a.metadata.namespace).sort()).toEqual(['apps', 'web']);
    for (const account of accounts) {
      expect(account.imagePullSecrets).toEqual([{ name: 'harbor-pull' }]);
    }
    expect(document.robots[0].secret).toEqual({
      name: 'harbor-pull',
      namespaces: ['apps', 'web'],
      registry: 'registry.example.test',
    });
  });

  test('emits no consumer ServiceAccount unless asked', () => {
    const { objects } = synthSettings();

    expect(ofKind(objects, 'ServiceAccount').map((a) => a.metadata.name)).toEqual([
      'harbor-settings',
    ]);
  });

  test('runs restricted as the prepare image user', () => {
    const job = settingsJob(synthSettings().objects);

    const pod = podSpec(job);
    const container = containerOf(job, 'reconcile');

    expect(pod.securityContext).toMatchObject({
      runAsUser: 10000,
      runAsGroup: 10000,
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      privileged: false,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.image).toBe('docker.io/goharbor/prepare:v2.15.2');
    expect(container.resources.limits.memory).toBe('128Mi');
  });

  test('trusts a CA bundle for an https core', () => {
    const { objects } = synthSettings({
      coreUrl: 'https://harbor-core:443/',
      caBundle: { name: 'harbor-internal-ca', key: 'ca.crt', configMap: true },
    });

    const job = settingsJob(objects);
    const container = containerOf(job, 'reconcile');
    const found = mountAt(job, container, '/etc/harbor-settings-ca');

    expect(envOf(container, 'HARBOR_URL')).toBe('https://harbor-core:443');
    expect(envOf(container, 'HARBOR_CA_FILE')).toBe('/etc/harbor-settings-ca/ca.crt');
    expect(found?.volume.configMap).toMatchObject({
      name: 'harbor-internal-ca',
      items: [{ key: 'ca.crt', path: 'ca.crt' }],
    });
  });

  test('reports every bad prop at once', () => {
    const problems = HarborSettings.check({
      instance: 'harbor',
      registry: 'https://registry.example.test',
      coreUrl: 'ftp://harbor-core',
      backoffLimit: -1,
      timeout: Duration.seconds(5),
      credentials: { username: '', password: { name: 'admin', key: 'pass word' } },
      projects: [{ name: 'apps', storageLimit: -5 }],
    }).join('\n');

    expect(problems).toMatch(
      /registry: "https:\/\/registry.example.test" is not a registry address/,
    );
    expect(problems).toMatch(/coreUrl: "ftp:\/\/harbor-core" is not an http\(s\) URL/);
    expect(problems).toMatch(/backoffLimit: -1 is not a whole number from 0 to 100/);
    expect(problems).toMatch(/timeout: is 5 seconds; allow the Job at least a minute/);
    expect(problems).toMatch(/credentials.username: "" is empty; name a Harbor user/);
    expect(problems).toMatch(/credentials.password.key: "pass word" is not a Secret key/);
    expect(problems).toMatch(/settings\.projects\[0\]\.storageLimit/);
  });

  test('needs a chart namespace', () => {
    const chart = new Chart(Testing.app(), 'test');

    expect(
      () =>
        new HarborSettings(chart, 'Settings', { instance: 'harbor', registry: 'r.example.test' }),
    ).toThrow(/HarborSettings: its chart needs a namespace/);
  });

  test('refuses a core URL that already names the API', () => {
    expect(() => synthSettings({ coreUrl: 'http://harbor-core/api/v2.0' })).toThrow(
      /coreUrl: "http:\/\/harbor-core\/api\/v2.0" ends in \/api\/v2.0/,
    );
  });
});

describe('Harbor with settings', () => {
  test('runs the Job against core with the admin password and the external registry', () => {
    const { objects } = synthHarbor(declaration(), 8443);

    const container = containerOf(settingsJob(objects), 'reconcile');
    const document = JSON.parse(
      find(objects, 'ConfigMap', 'harbor-settings').data['settings.json'],
    );

    expect(envOf(container, 'HARBOR_URL')).toBe('http://harbor-core:80');
    expect(envOf(container, 'HARBOR_PASSWORD')).toEqual({
      name: 'harbor-admin-password',
      key: 'HARBOR_ADMIN_PASSWORD',
    });
    expect(document.robots[0].secret.registry).toBe('registry.example.test:8443');
    expect(document.projects[0].metadata).toMatchObject({
      auto_scan: 'true',
      enable_content_trust_cosign: 'true',
    });
  });

  test('reports a bad declaration under settings', () => {
    expect(
      Harbor.check({
        host: 'registry.example.test',
        tls: HarborTls.fromSecret('tls'),
        registryStorage: { storageClassName: 'nfs-csi', size: '10Gi' },
        database: HarborDatabase.internal({
          storage: { storageClassName: 'standard', size: '1Gi' },
        }),
        redis: HarborRedis.internal({ storage: { storageClassName: 'standard', size: '1Gi' } }),
        settings: {
          projects: [{ name: 'Apps' }],
          robots: [{ name: 'ci', level: RobotLevel.system(), permissions: [] }],
        },
      }).join('\n'),
    ).toMatch(/settings\.projects\[0\]\.name[\s\S]*settings\.robots\[0\]\.permissions/);
  });

  test('leaves core alone when the user settings go through the API', () => {
    const { objects } = synthHarbor(declaration({ authentication: OIDC }));

    const core = find(objects, 'Deployment', 'harbor-core');
    const document = JSON.parse(
      find(objects, 'ConfigMap', 'harbor-settings').data['settings.json'],
    );

    expect(podSpec(core).initContainers).toBeUndefined();
    expect(containerOf(core, 'core').command).toBeUndefined();
    expect(document.configurations.auth_mode).toBe('oidc_auth');
  });
});

const MERGE_SCRIPT = path.join(ROOT, 'lib/harbor/scripts/merge-config-overwrite.py');

/** Runs a copy of the merge script on `dir`/overwrite.json, writing `dir`/merged.json. */
function runMerge(script: string, dir: string, env: Record<string, string>) {
  return run('python3', [script], {
    timeoutMs: 20_000,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      OVERWRITE_BASE_FILE: path.join(dir, 'overwrite.json'),
      OVERWRITE_OUTPUT_FILE: path.join(dir, 'merged.json'),
      ...env,
    },
  });
}

describe('CONFIG_OVERWRITE_JSON delivery', () => {
  const environment = () =>
    synthHarbor(
      declaration({ authentication: OIDC, userSettingsVia: UserSettingsDelivery.ENVIRONMENT }),
    );

  test('merges the settings in an init container onto a memory volume', () => {
    const { objects } = environment();

    const core = find(objects, 'Deployment', 'harbor-core');
    const init = containerOf(core, 'config-overwrite');
    const main = containerOf(core, 'core');
    const merged = mountAt(core, main, '/run/harbor-config');
    const files = mountAt(core, main, '/etc/core/overwrite');

    expect(podSpec(core).initContainers.map((c: K8sObject) => c.name)).toEqual([
      'config-overwrite',
    ]);
    expect(init.image).toBe('docker.io/goharbor/prepare:v2.15.2');
    expect(merged?.volume.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '1Mi' });
    expect(merged?.mount.readOnly).toBe(true);
    expect(mountAt(core, init, '/run/harbor-config')?.mount.readOnly).toBeUndefined();
    expect(files?.volume.configMap.name).toBe('harbor-core-overwrite');
    expect(main.command).toEqual([
      '/bin/sh',
      '/etc/core/overwrite/core-overwrite.sh',
      '/run/harbor-config/overwrite.json',
    ]);
    expect(init.securityContext).toMatchObject({
      runAsUser: 10000,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(envOf(init, 'OVERWRITE_OIDC_CLIENT_SECRET')).toEqual({
      name: 'oidc-client',
      key: 'secret',
    });
  });

  test('keeps every secret out of ConfigMaps and out of the Job document', () => {
    const { objects } = environment();

    const overwrite = find(objects, 'ConfigMap', 'harbor-core-overwrite');
    const json = JSON.parse(overwrite.data['overwrite.json']);
    const document = JSON.parse(
      find(objects, 'ConfigMap', 'harbor-settings').data['settings.json'],
    );

    expect(json).toMatchObject({ auth_mode: 'oidc_auth', oidc_verify_cert: true });
    expect(json.oidc_client_secret).toBeUndefined();
    expect(document.configurations).toEqual({});
    expect(document.secretConfigurations).toEqual({});
    for (const configMap of ofKind(objects, 'ConfigMap')) {
      expect(JSON.stringify(configMap.data ?? {})).not.toMatch(/oidc_client_secret"\s*:/);
    }
    expect(ofKind(objects, 'Secret')).toEqual([]);
  });

  test('rolls core when the plain settings change', () => {
    const digest = (clientId: string) => {
      const { objects } = synthHarbor(
        declaration({
          authentication: HarborAuthentication.oidc({
            name: 'idp',
            endpoint: 'https://idp.example.test',
            clientId,
            clientSecret: { name: 'oidc-client', key: 'secret' },
          }),
          userSettingsVia: UserSettingsDelivery.ENVIRONMENT,
        }),
      );
      return find(objects, 'Deployment', 'harbor-core').spec.template.metadata.annotations[
        'cdk8s-harbor/config-digest'
      ];
    };

    expect(digest('harbor')).toBe(digest('harbor'));
    expect(digest('harbor')).not.toBe(digest('registry'));
  });

  test('the merge script writes the settings with native types and the Secret values', async () => {
    const { objects } = environment();
    const core = find(objects, 'Deployment', 'harbor-core');
    const init = containerOf(core, 'config-overwrite');
    const data = find(objects, 'ConfigMap', 'harbor-core-overwrite').data;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'overwrite-'));
    fs.writeFileSync(path.join(dir, 'overwrite.json'), data['overwrite.json']);
    fs.writeFileSync(path.join(dir, 'merge.py'), data['merge-config-overwrite.py']);
    const secret = 'p@ss "word" $HOME \\ é';

    const result = await runMerge(path.join(dir, 'merge.py'), dir, {
      OVERWRITE_SECRET_ENVS: envOf(init, 'OVERWRITE_SECRET_ENVS'),
      OVERWRITE_OIDC_CLIENT_SECRET: secret,
    });

    expect(result.code).toBe(0);
    const merged = JSON.parse(fs.readFileSync(path.join(dir, 'merged.json'), 'utf-8'));
    expect(merged).toEqual({ ...JSON.parse(data['overwrite.json']), oidc_client_secret: secret });
    expect(merged.oidc_verify_cert).toBe(true);
    expect(typeof merged.oidc_auto_onboard).toBe('boolean');
    expect(fs.statSync(path.join(dir, 'merged.json')).mode & 0o777).toBe(0o600);
    expect(result.stderr).not.toContain(secret);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the merge script writes nothing when a Secret value is missing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'overwrite-'));
    fs.writeFileSync(path.join(dir, 'overwrite.json'), '{"auth_mode": "oidc_auth"}');

    const result = await runMerge(MERGE_SCRIPT, dir, {
      OVERWRITE_SECRET_ENVS: '{"oidc_client_secret": "OVERWRITE_OIDC_CLIENT_SECRET"}',
    });

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/missing from the environment: OVERWRITE_OIDC_CLIENT_SECRET/);
    expect(fs.existsSync(path.join(dir, 'merged.json'))).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the wrapper exports the merged file and refuses an empty one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrapper-'));
    const entrypoint = path.join(dir, 'entrypoint.sh');
    fs.writeFileSync(entrypoint, '#!/bin/sh\nprintf "%s" "$CONFIG_OVERWRITE_JSON"\n', {
      mode: 0o755,
    });
    const wrapper = path.join(dir, 'core-overwrite.sh');
    fs.writeFileSync(
      wrapper,
      fs
        .readFileSync(path.join(ROOT, 'lib/harbor/scripts/core-overwrite.sh'), 'utf-8')
        .replace('/harbor/entrypoint.sh', entrypoint),
    );
    fs.writeFileSync(path.join(dir, 'merged.json'), '{"auth_mode":"oidc_auth"}');
    fs.writeFileSync(path.join(dir, 'empty.json'), '');

    const options = { timeoutMs: 10_000, env: { PATH: process.env.PATH } };
    const ok = await run('sh', [wrapper, path.join(dir, 'merged.json')], options);
    const empty = await run('sh', [wrapper, path.join(dir, 'empty.json')], options);

    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('{"auth_mode":"oidc_auth"}');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/is missing or empty/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
