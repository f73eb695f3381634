import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ChildMessage, ReadyInfo, ServerKind, ServerStats } from '../servers/ipc.ts';

const SERVERS_DIR = join(import.meta.dirname, '..', 'servers');
const READY_TIMEOUT_MS = 60_000;
const STATS_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

const live = new Set<ChildProcess>();

/** Kills every server child still running; called on exit and on signals so none is left behind. */
export function killAllServers(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Write a V8 CPU profile of the child into this directory when it exits. */
  cpuProfileDir?: string;
}

/** One server in its own Node process, on loopback, driven over IPC. */
export class ServerProcess {
  #nextId = 1;
  #pending = new Map<number, (stats: ServerStats) => void>();
  #stderr = '';
  #exited: Promise<number | null>;

  private constructor(
    readonly kind: ServerKind,
    readonly child: ChildProcess,
    readonly info: ReadyInfo,
  ) {
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.on('message', (message: ChildMessage) => {
      if (message.type !== 'stats') return;
      this.#pending.get(message.id)?.(message.stats);
      this.#pending.delete(message.id);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(kind: ServerKind, options: StartOptions = {}): Promise<ServerProcess> {
    const args = ['--import', 'tsx'];
    if (options.cpuProfileDir) args.push('--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir);
    args.push(join(SERVERS_DIR, `${kind}.ts`));
    const child = spawn(process.execPath, args, {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...options.env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    try {
      let timer: NodeJS.Timeout | undefined;
      const info = await new Promise<ReadyInfo>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${kind}: not ready in ${READY_TIMEOUT_MS} ms`)),
          READY_TIMEOUT_MS,
        );
        child.on('message', (message: ChildMessage) => {
          if (message.type === 'ready') resolve(message.info);
          if (message.type === 'failed') reject(new Error(`${kind} failed to start: ${message.message}`));
        });
        child.once('exit', (code) => reject(new Error(`${kind} exited (${code}) before ready: ${stderr}`)));
      }).finally(() => {
        clearTimeout(timer);
        child.removeAllListeners('message');
      });
      const server = new ServerProcess(kind, child, info);
      child.stderr?.on('data', (chunk: Buffer) => {
        server.#stderr = (server.#stderr + chunk.toString()).slice(-4000);
      });
      return server;
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  /** The last lines the child wrote to stderr (errors only: servers log nothing else). */
  get stderr(): string {
    return this.#stderr;
  }

  stats(): Promise<ServerStats> {
    const id = this.#nextId++;
    return new Promise<ServerStats>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.kind}: no stats in ${STATS_TIMEOUT_MS} ms`));
      }, STATS_TIMEOUT_MS);
      this.#pending.set(id, (stats) => {
        clearTimeout(timer);
        resolve(stats);
      });
      this.child.send({ type: 'stats', id });
    });
  }

  /** Ends the child at once (its CPU profile, if any, is lost). */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.#exited;
  }

  /** Asks the child to close its server and exit; kills it if it does not within the timeout. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }
}
