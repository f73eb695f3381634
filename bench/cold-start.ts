/**
 * Lambda cold start, approximated: each bundle (`buildBundles`, minified ESM) is imported in a fresh Node process
 * that then serves one event against a local stack, as test/build/bundles.test.ts does. Runnable alone:
 * `npx tsx bench/cold-start.ts [runs]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { type BundleReport, buildBundles } from '../scripts/bundle.ts';
import { bundleInvoker, deployedConnection, type InvokeBundle } from '../scripts/bundle-invoker.ts';
import { signDevToken } from '../src/auth.ts';
import { ROUTES } from '../src/handlers/routes.ts';
import { type LocalStack, startLocalStack } from '../src/local/stack.ts';
import { type BundlePart, bundleContents } from './bundle-contents.ts';
import { median, round } from './driver/stats.ts';

const SECRET = 'roomcast-bench-cold-start-secret-0123456789';
const ROOM = 'cold';

export interface ColdStartRow {
  functionName: string;
  bytes: number;
  runs: number;
  /** Medians, ms. */
  importMs: number;
  firstEventMs: number;
  importPlusFirstMs: number;
  /** Node's own start before the bundle is imported, and the whole process from spawn to exit. */
  nodeBootMs: number;
  processMs: number;
  failures: number;
  error?: string;
}

interface Timing {
  bootMs: number;
  importMs: number;
  firstEventMs: number;
  processMs: number;
}

export interface ColdStartResult {
  rows: ColdStartRow[];
  /** The send-message bundle by npm package (from its source map). */
  contents: BundlePart[];
}

/**
 * What a cold-start measurement needs: the bundles, a local stack with one connected client (alice, whose
 * connection the message routes act for) and the invoker. `close()` ends it all. bench/micro/source-maps.ts uses
 * it too.
 */
export interface ColdStartFixture {
  bundles: BundleReport[];
  stack: LocalStack;
  invoker: InvokeBundle;
  aliceId: string;
  /** The secret of the stack's tokens; `$connect` needs it in its environment. */
  secret: string;
  close(): Promise<void>;
}

export async function startColdStartFixture(): Promise<ColdStartFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'roomcast-bench-bundles-'));
  const stack = await startLocalStack({ port: 0, env: { JWT_SECRET: SECRET, LOG_LEVEL: 'SILENT' } });
  let alice: WebSocket | undefined;
  const close = async () => {
    alice?.terminate();
    await stack.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const bundles = await buildBundles(join(dir, 'dist'));
    const invoker = await bundleInvoker(dir, stack);
    alice = await connect(`${stack.wsUrl}?token=${await signDevToken(SECRET, 'alice')}&room_id=${ROOM}`);
    const aliceId = (await stack.deps.connections.roomMembers(ROOM))[0]?.connection_id;
    if (!aliceId) throw new Error('the cold-start client has no connection record');
    return { bundles, stack, invoker, aliceId, secret: SECRET, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export async function runColdStart(runs: number): Promise<ColdStartResult> {
  const fixture = await startColdStartFixture();
  const { bundles, stack, invoker, aliceId } = fixture;
  try {
    const timings = new Map<string, Timing[]>(bundles.map((b) => [b.functionName, []]));
    const errors = new Map<string, string>();
    for (let r = 0; r < runs; r++) {
      for (const bundle of bundles) {
        try {
          const event = await coldStartEvent(stack, bundle.functionName, aliceId, r);
          timings
            .get(bundle.functionName)
            ?.push(await invoke(invoker, bundle.file, bundle.functionName, event));
          if (bundle.functionName === 'connect') await stack.deps.connections.remove(fakeId('connect', r));
        } catch (error) {
          errors.set(bundle.functionName, error instanceof Error ? error.message : String(error));
        }
      }
    }
    const sendMessage = bundles.find((b) => b.functionName === 'send-message');
    const contents = sendMessage ? await bundleContents(sendMessage.file) : [];
    const rows = bundles.map((bundle) => {
      const list = timings.get(bundle.functionName) ?? [];
      const pick = (f: (t: Timing) => number) => round(median(list.map(f)), 1);
      const error = errors.get(bundle.functionName);
      return {
        functionName: bundle.functionName,
        bytes: bundle.bytes,
        runs: list.length,
        importMs: pick((t) => t.importMs),
        firstEventMs: pick((t) => t.firstEventMs),
        importPlusFirstMs: pick((t) => t.importMs + t.firstEventMs),
        nodeBootMs: pick((t) => t.bootMs),
        processMs: pick((t) => t.processMs),
        failures: runs - list.length,
        ...(error && { error }),
      };
    });
    return { rows, contents };
  } finally {
    await fixture.close();
  }
}

async function invoke(invoker: InvokeBundle, file: string, functionName: string, event: object) {
  const timing = await invoker(file, functionName, event, { JWT_SECRET: SECRET });
  const status = (timing.result as { statusCode?: number } | null)?.statusCode;
  if (status !== undefined && status !== 200) throw new Error(`${functionName}: status ${status}`);
  return timing;
}

/** A connection id shaped like API Gateway's: 16 characters ending in `=`. */
export function fakeId(kind: string, run: number): string {
  return `${kind
    .replace(/[^A-Za-z]/g, '')
    .slice(0, 9)
    .padEnd(9, 'X')}${String(run).padStart(6, '0')}=`;
}

const FRAME_BODIES: Record<string, string> = {
  default: 'not json',
  'send-message': '{"action":"sendMessage","message":"cold start"}',
  'send-direct': '{"action":"sendDirect","to_user_id":"alice","message":"cold start"}',
  'get-history': '{"action":"getHistory"}',
  'list-members': '{"action":"listMembers"}',
  ping: '{"action":"ping"}',
};

/**
 * The event run `run` of `functionName` serves, as a deployed stage would send it. `$connect` and `$disconnect`
 * act for a connection of their own (the `$disconnect` one is stored first; the caller removes the `$connect` one
 * afterwards); the message routes act for alice.
 */
export async function coldStartEvent(
  stack: LocalStack,
  functionName: string,
  aliceId: string,
  run: number,
): Promise<object> {
  if (functionName === 'connect') {
    const token = await signDevToken(SECRET, `cold${run}`);
    return deployedConnection(fakeId(functionName, run)).connect({ token, room_id: ROOM });
  }
  if (functionName === 'disconnect') {
    const own = fakeId(functionName, run);
    await stack.deps.connections.put({ connectionId: own, roomId: ROOM, userId: `gone${run}` });
    return deployedConnection(own).disconnect();
  }
  if (functionName === 'fan-out-worker') return workerTask(aliceId, run);
  const route = ROUTES.find((r) => r.functionName === functionName);
  if (!route) throw new Error(`${functionName} serves no route`);
  return deployedConnection(aliceId).message(route.routeKey, FRAME_BODIES[functionName] ?? '{}');
}

/** A fan-out worker's task: one shard of the cold-start room, alice's connection, as send-message hands it over. */
function workerTask(aliceId: string, run: number): object {
  const seq = 1_000_000 + run;
  const frame = {
    action: 'message',
    room_id: ROOM,
    user_id: 'cold',
    message: 'cold start',
    message_id: `cold${run}`,
    seq,
  };
  return {
    v: 1,
    room_id: ROOM,
    frame: JSON.stringify(frame),
    seq,
    message_id: frame.message_id,
    dispatched_at: Date.now(),
    shard: 0,
    connection_ids: [aliceId],
    attempt: 1,
    concurrency: 1,
  };
}

function connect(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const { rows, contents } = await runColdStart(Number(process.argv[2] ?? 5));
  console.table(rows);
  console.table(contents.slice(0, 15));
}
