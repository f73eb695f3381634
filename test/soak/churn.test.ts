import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../src/local/dynamo.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { MessageStore, type RoomMessage } from '../../src/store/messages.ts';
import { connectionsTable, createDocumentClient, messagesTable } from '../../src/store/tables.ts';
import { type StoreLocation, scanRegistry, wholeHistory } from '../faults/support.ts';
import { ChatClient, eventually, type Frame, TEST_SECRET } from '../support/chat.ts';
import type { SoakReply, SoakRequest } from './server.ts';

/**
 * Churn soak: thousands of connects, messages and disconnects (a third of them abrupt drops, some before the send
 * was acknowledged) against the stack in its own process. Afterwards the registry holds exactly the live
 * connections, each room's history holds every acknowledged message once, and the server's heap is back near its
 * baseline.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SESSIONS = Number(process.env.SOAK_SESSIONS ?? 2000);
const WARMUP_SESSIONS = 200;
const WORKERS = 24;
const ROOMS = Array.from({ length: 20 }, (_, i) => `soak-${i}`);
const LIVE_MAX = 40;
/**
 * Heap growth allowed between the warmed-up baseline and the end, once idle (keep-alive sockets time out after 5 s,
 * so the server waits 6 s before measuring). Measured here: +0.7 to +1.3 MB for 500 to 4 000 sessions, and a heap
 * snapshot diff puts nearly all of it in V8's compiled code (optimized code, deopt data, relocation info), which
 * keeps growing while functions tier up, plus Node's pooled HTTP parsers; no application object grows. So:
 * - data (the heap without compiled code and bytecode; +0.35 to +0.5 MB measured) may grow by 1.5 MB: a handler
 *   that kept a 250-byte object per invocation showed +2.4 MB already at 1 500 sessions (about 6 000
 *   invocations), and a leaked connection per session would show more;
 * - the whole heap by 4 MB, which leaves room for the code growth.
 */
const DATA_TOLERANCE_BYTES = 1.5 * 2 ** 20;
const HEAP_TOLERANCE_BYTES = 4 * 2 ** 20;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MB`;
const kb = (bytes: number) => `${bytes >= 0 ? '+' : ''}${(bytes / 2 ** 10).toFixed(0)} KB`;

// The load generator talks to DynamoDB directly to check the result; Lambda-style dummy credentials.
process.env.AWS_ACCESS_KEY_ID ??= 'local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
process.env.AWS_REGION ??= 'us-east-1';

/** mulberry32: the same choices on every run (timing still varies). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Server {
  child: ChildProcess;
  stack: LocalStack;
  request(request: SoakRequest): Promise<SoakReply>;
  exited: Promise<number | null>;
}

async function startServer(dynamodbEndpoint: string): Promise<Server> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/soak/server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      JWT_SECRET: TEST_SECRET,
      DYNAMODB_ENDPOINT: dynamodbEndpoint,
      LOG_LEVEL: 'SILENT',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const replies: Array<(reply: SoakReply) => void> = [];
  child.on('message', (reply: SoakReply) => replies.shift()?.(reply));
  const next = () => new Promise<SoakReply>((resolve) => replies.push(resolve));
  const ready = await Promise.race([
    next(),
    exited.then((code) => Promise.reject(new Error(`exit ${code}`))),
  ]);
  assert.equal(ready.kind, 'ready');
  return {
    child,
    stack: { wsUrl: ready.kind === 'ready' ? ready.wsUrl : '' } as LocalStack,
    request: (request) => {
      const reply = next();
      child.send(request);
      return reply;
    },
    exited,
  };
}

interface Tally {
  sessions: number;
  closed: number;
  dropped: number;
  droppedBeforeAck: number;
  sends: number;
  /** Acknowledged: the sender got its own message back. */
  acked: Frame[];
  /** Sent, then the connection dropped before the acknowledgement: stored at most once. */
  unconfirmed: Array<{ room: string; clientMsgId: string }>;
  live: Map<string, { client: ChatClient; room: string }>;
}

/** Runs `sessions` connect–send–leave sessions over `WORKERS` concurrent clients. */
async function churn(server: Server, sessions: number, seed: number, prefix: string): Promise<Tally> {
  const rand = random(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)] as T;
  const tally: Tally = {
    sessions: 0,
    closed: 0,
    dropped: 0,
    droppedBeforeAck: 0,
    sends: 0,
    acked: [],
    unconfirmed: [],
    live: new Map(),
  };

  const session = async () => {
    const user = `${prefix}${tally.sessions++}`;
    const room = pick(ROOMS);
    const client = await ChatClient.connect(server.stack, user, room);
    const count = 1 + Math.floor(rand() * 3);
    for (let i = 0; i < count; i++) {
      const clientMsgId = `${user}.${i}`;
      client.send({ action: 'sendMessage', message: `${user} #${i} 💬`, client_msg_id: clientMsgId });
      tally.sends++;
      if (rand() < 0.04) {
        client.socket.terminate();
        tally.unconfirmed.push({ room, clientMsgId });
        tally.dropped++;
        tally.droppedBeforeAck++;
        return;
      }
      tally.acked.push(
        await client.next(
          (frame) => frame.action === 'message' && frame.client_msg_id === clientMsgId,
          15_000,
        ),
      );
      // Frames from the rest of the room are not this test's subject; keep the queue short.
      client.frames.length = 0;
    }
    const fate = rand();
    if (fate < 0.15 && tally.live.size < LIVE_MAX) {
      tally.live.set(user, { client, room });
    } else if (fate < 0.6) {
      await client.close();
      tally.closed++;
    } else {
      client.socket.terminate();
      tally.dropped++;
    }
  };

  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (tally.sessions < sessions) await session();
    }),
  );
  return tally;
}

describe('churn soak', { timeout: 120_000 }, () => {
  let dynamo: EmbeddedDynamo;
  let server: Server;
  let location: StoreLocation;
  let messages: MessageStore;
  const doc = () => createDocumentClient({ endpoint: dynamo.endpoint, region: 'us-east-1' });
  let client: ReturnType<typeof doc>;

  before(async () => {
    dynamo = await startEmbeddedDynamo();
    server = await startServer(dynamo.endpoint);
    location = {
      dynamodbEndpoint: dynamo.endpoint,
      config: { region: 'us-east-1', tables: { connections: connectionsTable.defaultName } },
    };
    client = doc();
    messages = new MessageStore(client, { tableName: messagesTable.defaultName, retentionSeconds: 86_400 });
  });
  after(async () => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
    client?.destroy();
    await dynamo?.close();
  });

  const registeredUsers = async () => (await scanRegistry(location)).map((record) => record.user_id).sort();
  const closeAll = async (tally: Tally) => {
    await Promise.all([...tally.live.values()].map(({ client: live }) => live.close()));
    await eventually(registeredUsers, (users) => users.length === 0, 15_000);
  };

  let baseline = { heapUsed: 0, code: 0 };

  it('warms up, then measures the idle heap', async (t) => {
    const warmup = await churn(server, WARMUP_SESSIONS, 1, 'w');
    await closeAll(warmup);
    const heap = await server.request({ kind: 'heap', settleMs: 6000 });
    assert.ok(heap.kind === 'heap');
    baseline = heap;
    t.diagnostic(`baseline heap ${mb(heap.heapUsed)} (code ${mb(heap.code)})`);
  });

  it('after the churn the registry holds exactly the live connections and every message is stored once', async (t) => {
    const started = performance.now();
    const tally = await churn(server, SESSIONS, 42, 'u');
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(
      `${tally.sessions} sessions in ${seconds.toFixed(1)} s: ${tally.closed} closed, ${tally.dropped} dropped ` +
        `(${tally.droppedBeforeAck} before the ack), ${tally.live.size} live; ${tally.sends} sends, ` +
        `${tally.acked.length} acknowledged`,
    );

    // Dropped connections are noticed by the gateway and their `$disconnect` runs; nothing else is left.
    const live = [...tally.live.keys()].sort();
    const users = await eventually(
      registeredUsers,
      (registered) => registered.length === live.length,
      15_000,
    ).catch(() => registeredUsers());
    assert.deepEqual(users, live);

    // Each room holds every acknowledged message once, and of the sends dropped before their acknowledgement
    // at most one copy each; nothing else (the warm-up's users start with "w").
    const unconfirmed = new Set(tally.unconfirmed.map((entry) => entry.clientMsgId));
    let storedUnconfirmed = 0;
    for (const room of ROOMS) {
      const stored = (await wholeHistory(messages, room)).filter(
        (message): message is RoomMessage => message.kind === 'room' && message.user_id.startsWith('u'),
      );
      const ids = stored.map((message) => message.message_id);
      const clientIds = stored.map((message) => String(message.client_msg_id));
      assert.equal(new Set(ids).size, ids.length, `${room}: a message stored twice`);
      assert.equal(new Set(clientIds).size, clientIds.length, `${room}: a client_msg_id stored twice`);
      const acked = tally.acked.filter((frame) => frame.room_id === room);
      const storedIds = new Set(ids);
      for (const frame of acked)
        assert.ok(storedIds.has(String(frame.message_id)), `${room}: acked, not stored`);
      const ackedIds = new Set(acked.map((frame) => String(frame.message_id)));
      const others = stored.filter((message) => !ackedIds.has(message.message_id));
      for (const message of others) {
        assert.ok(unconfirmed.has(String(message.client_msg_id)), `${room}: stored, never sent`);
      }
      storedUnconfirmed += others.length;
    }
    t.diagnostic(
      `${storedUnconfirmed} of ${unconfirmed.size} sends dropped before their ack were stored (once)`,
    );

    await closeAll(tally);
  });

  it("returns the server's heap near its baseline", async (t) => {
    const heap = await server.request({ kind: 'heap', settleMs: 6000 });
    assert.ok(heap.kind === 'heap');
    const growth = heap.heapUsed - baseline.heapUsed;
    const codeGrowth = heap.code - baseline.code;
    t.diagnostic(
      `heap ${mb(baseline.heapUsed)} → ${mb(heap.heapUsed)} (${kb(growth)}, of which compiled code ${kb(codeGrowth)})`,
    );
    assert.ok(
      growth - codeGrowth < DATA_TOLERANCE_BYTES,
      `data on the heap grew by ${kb(growth - codeGrowth)}`,
    );
    assert.ok(growth < HEAP_TOLERANCE_BYTES, `the heap grew by ${kb(growth)}`);

    server.child.send({ kind: 'stop' } satisfies SoakRequest);
    assert.equal(await server.exited, 0);
  });
});
