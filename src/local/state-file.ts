import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/**
 * How `npm start` tells the `roomcast` CLI where it runs: a file in the project's `.roomcast/` (or at
 * ROOMCAST_LOCAL_STATE) with the Lambda endpoint of the local stack, the admin function's name and, when the
 * stack made its key pair up, that key pair (readable by its owner only, like ~/.aws/credentials). A stack
 * leaves a file that names another running stack alone, and removes its own when it stops; a file whose
 * process is gone is ignored (and replaced by the next stack).
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

const STATE_FILE = join('.roomcast', 'local-stack.json');

/** Where `npm start` writes: ROOMCAST_LOCAL_STATE, else `.roomcast/local-stack.json` in the directory it runs in. */
export function localStatePath(
  env: Record<string, string | undefined> = process.env,
  cwd: string = process.cwd(),
): string {
  return env.ROOMCAST_LOCAL_STATE || join(cwd, STATE_FILE);
}

/**
 * Where the CLI reads: ROOMCAST_LOCAL_STATE, else the nearest `.roomcast/local-stack.json` in the directory or
 * one of its parents (as git finds `.git`); undefined when there is none.
 */
export async function findLocalStatePath(
  env: Record<string, string | undefined> = process.env,
  cwd: string = process.cwd(),
): Promise<string | undefined> {
  if (env.ROOMCAST_LOCAL_STATE) return env.ROOMCAST_LOCAL_STATE;
  for (let dir = resolve(cwd); ; ) {
    const path = join(dir, STATE_FILE);
    if (await exists(path)) return path;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * Writes the state file unless it names another stack that is still running: answers undefined when written, or
 * that other stack's state (the file is left alone: the CLI keeps talking to that stack). A file whose process
 * is gone is replaced.
 */
export async function claimLocalState(
  path: string,
  state: LocalStackState,
): Promise<LocalStackState | undefined> {
  await mkdir(dirname(path), { recursive: true });
  // Created whole and owner-only (it may hold the made-up key pair); never over another's file.
  const text = `${JSON.stringify(state, null, 2)}\n`;
  for (let attempt = 1; ; attempt++) {
    try {
      await writeFile(path, text, { mode: 0o600, flag: 'wx' });
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === 3) throw error;
    }
    const owner = await readLocalState(path);
    if (owner && owner.pid !== state.pid) return owner;
    await rm(path, { force: true });
  }
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

/** Removes the file if it is this process's (another stack may own it). */
export async function removeLocalState(path: string, pid: number = process.pid): Promise<void> {
  const state = await readLocalState(path);
  if (state?.pid === pid) await rm(path, { force: true });
}
