/**
 * Running real programs from tests: long-lived daemons in their own process group, one-shot
 * commands with a deadline, and free ports to point them at.
 */
import { ChildProcess, SpawnOptions as NodeSpawnOptions, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';

/** Regular files that receive a program's stdout and stderr (appended to). */
export interface OutputFiles {
  readonly stdout: string;
  readonly stderr: string;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * Files instead of pipes for stdout and stderr. Node's pipes are Unix sockets, which cannot
   * be reopened by path: nginx's `access_log /dev/stdout` fails on one with ENXIO, while the
   * FIFO or file a pod's container gets works.
   */
  outputFiles?: OutputFiles;
}

function readIfExists(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

function readOutput(files: OutputFiles): { stdout: string; stderr: string } {
  return { stdout: readIfExists(files.stdout), stderr: readIfExists(files.stderr) };
}

function spawnWithOutput(
  bin: string,
  args: string[],
  options: NodeSpawnOptions,
  files: OutputFiles | undefined,
): ChildProcess {
  if (!files) return spawn(bin, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  // append mode: a program that reopens /dev/stdout writes through a second file description,
  // and with a shared write offset the two would overwrite each other's lines
  const fds = [fs.openSync(files.stdout, 'a'), fs.openSync(files.stderr, 'a')];
  try {
    return spawn(bin, args, { ...options, stdio: ['ignore', ...fds] });
  } finally {
    // the child holds its own copies from here on
    for (const fd of fds) fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Daemons

export interface Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  exited(): boolean;
}

/** Starts a long-running program in its own process group, so stopping it takes its children. */
export function startDaemon(
  name: string,
  bin: string,
  args: string[],
  options: SpawnOptions = {},
): Daemon {
  const files = options.outputFiles;
  const child = spawnWithOutput(bin, args, { env: options.env, detached: true }, files);
  let printed = '';
  let exited = false;
  child.stdout?.on('data', (d: Buffer) => (printed += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (printed += d.toString('utf8')));
  child.on('exit', () => (exited = true));
  child.on('error', (err) => {
    exited = true;
    printed += `\n${err.message}`;
  });
  const output = () => {
    if (!files) return printed;
    const { stdout, stderr } = readOutput(files);
    return stdout + stderr + printed;
  };
  return { name, child, output, exited: () => exited };
}

/**
 * Signals the whole process group, so workers the daemon forked go too; SIGKILL after 5 s so a
 * daemon that ignores SIGTERM cannot hang the suite.
 */
export async function stopDaemon(daemon: Daemon | undefined): Promise<void> {
  if (!daemon || daemon.exited() || daemon.child.pid === undefined) return;
  const pid = daemon.child.pid;
  const gone = new Promise<void>((resolve) => daemon.child.once('exit', () => resolve()));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is already gone
    }
  };
  signalGroup('SIGTERM');
  const timer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
}

/** Polls until `ready` holds; fails early, with the program's output, if it exits. */
export async function waitUntil(
  daemon: Daemon,
  ready: () => Promise<boolean>,
  { timeoutMs, intervalMs = 100 }: WaitOptions,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (daemon.exited()) throw new Error(`${daemon.name} exited:\n${daemon.output()}`);
    if (
      await Promise.resolve()
        .then(ready)
        .catch(() => false)
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${daemon.name} not ready after ${timeoutMs} ms:\n${daemon.output()}`);
}

// ---------------------------------------------------------------------------------------------
// Commands

export interface RunResult {
  /** null when the program was killed, by the deadline or otherwise */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions extends SpawnOptions {
  /** The program is killed with SIGKILL after this long. */
  timeoutMs: number;
}

/**
 * Runs a program to completion. Asynchronous on purpose: a synchronous child would block the
 * event loop, and with it any in-process server (a fake API) the program talks to.
 * Rejects only when the program cannot be started at all.
 */
export function run(bin: string, args: string[], options: RunOptions): Promise<RunResult> {
  const files = options.outputFiles;
  return new Promise((resolve, reject) => {
    const child = spawnWithOutput(bin, args, { env: options.env }, files);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (files) ({ stdout, stderr } = readOutput(files));
      if (timedOut) stderr += `\n${bin} killed after ${options.timeoutMs} ms`;
      resolve({ code, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Ports

/**
 * A port nothing listens on right now. It can be taken before the program binds it; tests
 * accept that small race for not having to parse each program's choice of port.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
