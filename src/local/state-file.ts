import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * How `npm start` tells the `roomcast` CLI where it runs: a file in the project's `.roomcast/` (or at
 * ROOMCAST_LOCAL_STATE) with the Lambda endpoint of the local stack, the admin function's name and, when the
 * stack made its key pair up, that key pair (readable by its owner only, like ~/.aws/credentials). Removed when
 * the stack stops; a file whose process is gone is ignored.
 */

export interface LocalStackState {
  /** The base URL of the local stack's Lambda Invoke API (the SDK's `endpoint`). */
  lambdaEndpoint: string;
  region: string;
  adminFunction: string;
  wsUrl: string;
  /** The key pair the stack checks signatures with, when it made one up; else the caller's own are used. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  pid: number;
}

export function localStatePath(
  env: Record<string, string | undefined> = process.env,
  cwd: string = process.cwd(),
): string {
  return env.ROOMCAST_LOCAL_STATE || join(cwd, '.roomcast', 'local-stack.json');
}

export async function writeLocalState(path: string, state: LocalStackState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // Written whole, owner-only: it may hold the made-up key pair.
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

/** The state of a local stack that is still running, or undefined (no file, or its process is gone). */
export async function readLocalState(path: string): Promise<LocalStackState | undefined> {
  let state: LocalStackState;
  try {
    state = JSON.parse(await readFile(path, 'utf8')) as LocalStackState;
  } catch {
    return undefined;
  }
  if (typeof state?.lambdaEndpoint !== 'string' || typeof state.pid !== 'number') return undefined;
  try {
    process.kill(state.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return state;
}

/** Removes the file if it is this process's (another stack may have written its own since). */
export async function removeLocalState(path: string, pid: number = process.pid): Promise<void> {
  const state = await readLocalState(path);
  if (state?.pid === pid) await rm(path, { force: true });
}
