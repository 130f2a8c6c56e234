/**
 * Running a Job's Python script with the real python3, on a stand-in for its container's
 * filesystem: a work folder for the test file and, per test, a fresh pod folder holding the
 * container's mount points and the script at the path the container runs it from. The script
 * talks to an in-process double of the Kubernetes API.
 *
 * Debian packages: python3.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunResult, run } from './processes';

/** What the Job gives the container that runs the script. */
export interface PodScript {
  /** The script's text, as the Job's ConfigMap carries it. */
  readonly script: string;
  /** Where the container finds it: the argument of its `python3` command. */
  readonly scriptPath: string;
  /** The container's volume mount paths. */
  readonly mounts: string[];
}

/** The API the script talks to. */
export interface PodApi {
  readonly url: string;
  /** The service-account token the API accepts; the script reads it from K8S_TOKEN_FILE. */
  readonly token: string;
}

export interface PodRunOptions {
  /**
   * K8S_API_URL; null for none, so the script builds it from KUBERNETES_SERVICE_HOST/PORT.
   * @default - the API's URL
   */
  readonly apiUrl?: string | null;
  /** Set last, over the container's env and the API settings. @default - none */
  readonly extraEnv?: Record<string, string>;
}

/**
 * How a pod finds the API: no K8S_API_URL, only the service variables the kubelet sets, and
 * the CA file in place of the one the service account mounts.
 */
export function inClusterApi(url: string, caFile: string): PodRunOptions {
  const { hostname, port } = new URL(url);
  const extraEnv = {
    KUBERNETES_SERVICE_HOST: hostname,
    KUBERNETES_SERVICE_PORT: port,
    K8S_CA_FILE: caFile,
  };
  return { apiUrl: null, extraEnv };
}

export class PodFiles {
  /** The test file's scratch folder; removed with `remove()`. */
  readonly workDir: string;
  private readonly python: string;
  private podDir: string | undefined;

  constructor(
    prefix: string,
    private readonly container: PodScript,
  ) {
    // an absolute path: a bare name would be looked up on the PATH of the script's env
    this.python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], {
      encoding: 'utf8',
    }).trim();
    this.workDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  }

  /** Starts a fresh pod: empty mount points, and the script where the container runs it. */
  newPod(): void {
    this.podDir = fs.mkdtempSync(path.join(this.workDir, 'pod-'));
    for (const mount of this.container.mounts) {
      fs.mkdirSync(path.join(this.podDir, mount), { recursive: true });
    }
    fs.writeFileSync(this.inPod(this.container.scriptPath), this.container.script);
  }

  /** A container path, as a path under the current pod's folder; it must be on a mount. */
  inPod(containerPath: string): string {
    if (!this.podDir) throw new Error('no pod yet: call newPod() first');
    const mounted = this.container.mounts.some(
      (m) => containerPath === m || containerPath.startsWith(`${m}/`),
    );
    if (!mounted) throw new Error(`${containerPath} is on no volume the container mounts`);
    return path.join(this.podDir, containerPath);
  }

  /**
   * Runs the script with `env` (the container's, its paths mapped with `inPod`), a fresh token
   * file, fast retries and none of the test's own Kubernetes or proxy variables.
   */
  run(env: Record<string, string>, api: PodApi, options: PodRunOptions = {}): Promise<RunResult> {
    const scriptEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(scriptEnv)) {
      if (/^(KUBERNETES_|K8S_|HTTPS?_PROXY$)/i.test(key)) delete scriptEnv[key];
    }
    Object.assign(scriptEnv, env);

    const token = path.join(this.workDir, `token-${randomBytes(4).toString('hex')}`);
    fs.writeFileSync(token, `${api.token}\n`, { mode: 0o600 });
    scriptEnv.K8S_TOKEN_FILE = token;
    if (options.apiUrl !== null) scriptEnv.K8S_API_URL = options.apiUrl ?? api.url;
    scriptEnv.K8S_RETRY_BASE_SECONDS = '0.01';
    scriptEnv.PYTHONDONTWRITEBYTECODE = '1';
    Object.assign(scriptEnv, options.extraEnv);

    const script = this.inPod(this.container.scriptPath);
    return run(this.python, [script], { env: scriptEnv, timeoutMs: 20_000 });
  }

  remove(): void {
    fs.rmSync(this.workDir, { recursive: true, force: true });
  }
}
