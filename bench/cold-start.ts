/**
 * Lambda cold start, approximated: each bundle (`buildBundles`, minified ESM) is imported in a fresh Node process
 * that then serves one event against a local stack, as test/build/bundles.test.ts does. Runnable alone:
 * `npx tsx bench/cold-start.ts [runs]`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { buildBundles } from '../scripts/bundle.ts';
import { signDevToken } from '../src/auth/index.ts';
import type { LocalStack } from '../src/local/stack.ts';
import { startLocalStack } from '../src/local/stack.ts';
import { type BundlePart, bundleContents } from './bundle-contents.ts';
import { median, round } from './driver/stats.ts';

const run = promisify(execFile);
const SECRET = 'roomcast-bench-cold-start-secret-0123456789';
const ROOM = 'cold';

/** Times the import and the first invocation inside the fresh process (performance.now() is process-relative). */
const INVOKER = `
const t0 = performance.now();
const { handler } = await import(process.argv[2]);
const t1 = performance.now();
const context = {
  awsRequestId: 'cold-start', functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: '$LATEST',
  memoryLimitInMB: '256', getRemainingTimeInMillis: () => 29000, callbackWaitsForEmptyEventLoop: true,
};
const result = await handler(JSON.parse(process.env.BENCH_EVENT), context);
const t2 = performance.now();
console.log('TIMING ' + JSON.stringify({ bootMs: t0, importMs: t1 - t0, firstEventMs: t2 - t1, result }));
`;

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

export async function runColdStart(runs: number): Promise<ColdStartResult> {
  const dir = await mkdtemp(join(tmpdir(), 'roomcast-bench-bundles-'));
  const stack = await startLocalStack({ port: 0, env: { JWT_SECRET: SECRET, LOG_LEVEL: 'SILENT' } });
  let alice: WebSocket | undefined;
  try {
    const bundles = await buildBundles(join(dir, 'dist'));
    await writeFile(join(dir, 'invoke.mjs'), INVOKER);
    alice = await connect(`${stack.wsUrl}?token=${await signDevToken(SECRET, 'alice')}&room_id=${ROOM}`);
    const aliceId = (await stack.deps.store.roomMembers(ROOM))[0]?.connection_id;
    if (!aliceId) throw new Error('the cold-start client has no connection record');

    const timings = new Map<string, Timing[]>(bundles.map((b) => [b.functionName, []]));
    const errors = new Map<string, string>();
    for (let r = 0; r < runs; r++) {
      for (const bundle of bundles) {
        try {
          const event = await eventFor(stack, bundle.functionName, aliceId, r);
          timings
            .get(bundle.functionName)
            ?.push(await invoke(dir, bundle.file, bundle.functionName, stack, event));
          if (bundle.functionName === 'connect') await stack.deps.store.remove(fakeId('connect', r));
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
    alice?.terminate();
    await stack.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function invoke(dir: string, file: string, functionName: string, stack: LocalStack, event: object) {
  const started = performance.now();
  const { stdout } = await run(process.execPath, [join(dir, 'invoke.mjs'), pathToFileURL(file).href], {
    timeout: 30_000,
    env: {
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_LAMBDA_FUNCTION_NAME: `roomcast-${functionName}`,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      DYNAMO_TABLE_NAME_CHAT_CONNECTIONS: stack.config.tables.connections,
      DYNAMO_TABLE_NAME_CHAT_MESSAGES: stack.config.tables.messages,
      DYNAMODB_ENDPOINT: stack.dynamodbEndpoint,
      WEBSOCKET_MANAGEMENT_ENDPOINT: stack.managementEndpoint,
      JWT_SECRET: SECRET,
      BENCH_EVENT: JSON.stringify(event),
    },
  });
  const processMs = performance.now() - started;
  const line = stdout.split('\n').find((l) => l.startsWith('TIMING '));
  if (!line) throw new Error(`${functionName}: no timing line in ${stdout.slice(0, 500)}`);
  const timing = JSON.parse(line.slice('TIMING '.length)) as Omit<Timing, 'processMs'> & { result: unknown };
  const status = (timing.result as { statusCode?: number } | null)?.statusCode;
  if (status !== undefined && status !== 200) throw new Error(`${functionName}: status ${status}`);
  return { bootMs: timing.bootMs, importMs: timing.importMs, firstEventMs: timing.firstEventMs, processMs };
}

/** A connection id shaped like API Gateway's: 16 characters ending in `=`. */
function fakeId(kind: string, run: number): string {
  return `${kind
    .replace(/[^A-Za-z]/g, '')
    .slice(0, 9)
    .padEnd(9, 'X')}${String(run).padStart(6, '0')}=`;
}

async function eventFor(
  stack: LocalStack,
  functionName: string,
  aliceId: string,
  run: number,
): Promise<object> {
  const routeKey: Record<string, string> = {
    connect: '$connect',
    disconnect: '$disconnect',
    default: '$default',
    'send-message': 'sendMessage',
    'send-direct': 'sendDirect',
    'get-history': 'getHistory',
    'list-members': 'listMembers',
    ping: 'ping',
  };
  const key = routeKey[functionName] ?? functionName;
  const body: Record<string, string> = {
    default: 'not json',
    'send-message': '{"action":"sendMessage","message":"cold start"}',
    'send-direct': '{"action":"sendDirect","to_user_id":"alice","message":"cold start"}',
    'get-history': '{"action":"getHistory"}',
    'list-members': '{"action":"listMembers"}',
    ping: '{"action":"ping"}',
  };
  const own =
    functionName === 'connect' || functionName === 'disconnect' ? fakeId(functionName, run) : aliceId;
  const requestContext = {
    routeKey: key,
    eventType: key === '$connect' ? 'CONNECT' : key === '$disconnect' ? 'DISCONNECT' : 'MESSAGE',
    connectionId: own,
    requestId: `ColdRequest${String(run).padStart(4, '0')}=`,
    extendedRequestId: `ColdRequest${String(run).padStart(4, '0')}=`,
    domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
    stage: 'dev',
    apiId: 'abc123',
    connectedAt: Date.now(),
    requestTimeEpoch: Date.now(),
    messageDirection: 'IN',
    ...(key === '$disconnect' && { disconnectStatusCode: 1001, disconnectReason: 'Going away' }),
  };
  if (functionName === 'connect') {
    const token = await signDevToken(SECRET, `cold${run}`);
    return { requestContext, queryStringParameters: { token, room_id: ROOM }, isBase64Encoded: false };
  }
  if (functionName === 'disconnect') {
    await stack.deps.store.put({ connectionId: own, roomId: ROOM, userId: `gone${run}` });
    return { requestContext, isBase64Encoded: false };
  }
  return { requestContext, body: body[functionName] ?? '{}', isBase64Encoded: false };
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
