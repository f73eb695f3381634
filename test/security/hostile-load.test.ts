import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { ConfigError } from '../../src/config.ts';
import { createManagementClient } from '../../src/delivery.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { LOCAL_CREDENTIALS, startLocalStack } from '../../src/local/stack.ts';
import { METRIC } from '../../src/metrics.ts';
import { MAX_MESSAGE_BYTES } from '../../src/protocol.ts';
import { ConnectionStore } from '../../src/store/connections.ts';
import { createDocumentClient } from '../../src/store/tables.ts';
import { client, Recorder } from '../client/support.ts';
import {
  ChatClient,
  eventually,
  managementApi,
  putOldRecord,
  recordingMetrics,
  startTestStack,
  TEST_SECRET,
} from '../support/chat.ts';
import { dynamoOperation, FORWARD, RESET, startFaultProxy } from '../support/fault-proxy.ts';
import type { HostileReply, HostileRequest } from './hostile-server.ts';

/**
 * Load from one hostile (or merely slow) client, each finding reproduced first and then held to a bound: the
 * server's memory, a bystander's round trip, failed invocations, log volume, what members and direct messages
 * show. The server runs in its own process (hostile-server.ts), so its memory is measured without the attacker's.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MB = 2 ** 20;
const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;

interface Server {
  wsUrl: string;
  staleConnectionsRemoved: number;
  request(request: HostileRequest): Promise<HostileReply>;
  stats(): Promise<Extract<HostileReply, { kind: 'stats' }>>;
  /** Bytes the server wrote to stdout and stderr (its log lines). */
  logBytes(): number;
  kill(signal: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

const servers: Server[] = [];
const clients: ChatClient[] = [];
const dirs: string[] = [];
after(async () => {
  for (const client of clients) client.socket.terminate();
  await Promise.all(servers.map((server) => server.stop()));
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/security/hostile-server.ts'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        JWT_SECRET: TEST_SECRET,
        LOG_LEVEL: 'INFO',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  let logBytes = 0;
  child.stdout?.on('data', (chunk: Buffer) => {
    logBytes += chunk.length;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    logBytes += chunk.length;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const replies: Array<(reply: HostileReply) => void> = [];
  child.on('message', (reply: HostileReply) => replies.shift()?.(reply));
  const next = () => new Promise<HostileReply>((resolve) => replies.push(resolve));
  const ready = await Promise.race([next(), exited.then(() => Promise.reject(new Error('server exited')))]);
  assert.equal(ready.kind, 'ready');
  const request = (message: HostileRequest) => {
    const reply = next();
    child.send(message);
    return reply;
  };
  const server: Server = {
    wsUrl: ready.kind === 'ready' ? ready.wsUrl : '',
    staleConnectionsRemoved: ready.kind === 'ready' ? ready.staleConnectionsRemoved : -1,
    request,
    stats: async () => {
      const reply = await request({ kind: 'stats' });
      assert.equal(reply.kind, 'stats');
      return reply as Extract<HostileReply, { kind: 'stats' }>;
    },
    logBytes: () => logBytes,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ kind: 'stop' } satisfies HostileRequest);
      await exited;
    },
  };
  servers.push(server);
  return server;
}

async function connect(server: Server, user: string, room: string): Promise<ChatClient> {
  const client = await ChatClient.connect({ wsUrl: server.wsUrl } as LocalStack, user, room);
  clients.push(client);
  return client;
}

/** Round trips of `count` pings, one after another, in milliseconds. */
/**
 * Round trips of `count` pings, one after another, in milliseconds. The bystander is held to the same limits as
 * everyone (50 frames at once, then 50 a second): told RATE_LIMITED, it waits as told and asks again, as the SDK
 * does, and the wait counts.
 */
async function pingTimes(client: ChatClient, count: number, tag: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const ref = `${tag}-${i}`;
    const started = performance.now();
    for (;;) {
      client.send({ action: 'ping', ref });
      const answer = await client.next((frame) => frame.ref === ref, 30_000);
      if (answer.action === 'pong') break;
      assert.equal(answer.code, 'RATE_LIMITED', JSON.stringify(answer));
      await new Promise((resolve) => setTimeout(resolve, Number(answer.retry_after_ms)));
    }
    times.push(performance.now() - started);
  }
  return times;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/**
 * Writes `payloads` as text frames straight to the client's TCP socket (masked with a zero key, which leaves the
 * payload as it is): a flood that costs this process, where the bystander's round trips are timed, almost nothing.
 */
async function flood(client: ChatClient, payloads: string[]): Promise<void> {
  const parts: Buffer[] = [];
  for (const payload of payloads) {
    const body = Buffer.from(payload);
    const header =
      body.length < 126
        ? Buffer.from([0x81, 0x80 | body.length, 0, 0, 0, 0])
        : Buffer.from([0x81, 0x80 | 126, body.length >> 8, body.length & 0xff, 0, 0, 0, 0]);
    parts.push(header, body);
  }
  const socket = (client.socket as unknown as { _socket: Socket })._socket;
  await new Promise<void>((resolve) => socket.write(Buffer.concat(parts), () => resolve()));
}

/** Stops reading at the TCP level: what the server sends piles up in its buffers. */
function stopReading(client: ChatClient): void {
  (client.socket as unknown as { _socket: Socket })._socket.pause();
}

describe('1. a client that stops reading, then floods malformed frames', () => {
  it('stays within its memory budget, fails no invocation, logs little, and keeps serving a bystander', async (t) => {
    const server = await startServer();
    const mallory = await connect(server, 'mallory', 'big');
    const bob = await connect(server, 'bob', 'quiet');
    // A room whose history pages are as large as a frame allows.
    for (let i = 0; i < 40; i++) {
      mallory.send({ action: 'sendMessage', message: 'h'.repeat(4000), client_msg_id: `fill-${i}` });
      await mallory.next((frame) => frame.client_msg_id === `fill-${i}`);
    }
    await pingTimes(bob, 20, 'warm');
    const baseline = await server.stats();
    await server.request({ kind: 'reset-peak' });
    const logBefore = server.logBytes();

    stopReading(mallory);
    // ~13 MB of history replies: more than the loopback socket buffers and the 1 MiB send buffer hold.
    for (let i = 0; i < 100; i++) mallory.send({ action: 'getHistory', limit: 100, ref: `page-${i}` });
    const FRAMES = 50_000;
    const during: Promise<number[]> = pingTimes(bob, 40, 'flood');
    await flood(mallory, Array(FRAMES).fill('x'));
    const floodTimes = await during;
    // The sentinel: a round trip that starts after the flood was sent ends after the server handled most of it.
    const afterTimes = await pingTimes(bob, 20, 'after');
    const stats = await server.stats();
    const logged = server.logBytes() - logBefore;
    t.diagnostic(
      `RSS ${mb(baseline.rss)} before, peak ${mb(stats.rssPeak)}; failed invocations ${stats.failedInvocations}; ` +
        `${(logged / 1024).toFixed(0)} KB of logs; bystander ping p50 ${percentile(floodTimes, 50).toFixed(0)} ms, ` +
        `p99 ${percentile(floodTimes, 99).toFixed(0)} ms during, p99 ${percentile(afterTimes, 99).toFixed(0)} ms after`,
    );
    assert.equal(stats.failedInvocations, 0, 'a malformed frame failed an invocation');
    assert.ok(logged < 256 * 1024, `${logged} bytes of logs for ${FRAMES} frames`);
    assert.ok(
      percentile(afterTimes, 99) < 250,
      `bystander p99 ${percentile(afterTimes, 99)} ms after the flood`,
    );
    // Budgets that separate the fixed server from the one found (+674 MB, 10 s round trips, 49,912 frames queued
    // past the send buffer); measured over this work's runs: +50 to +110 MB, the bystander's worst round trip 0.2–0.9 s.
    assert.ok(stats.rssPeak - baseline.rss < 200 * MB, `RSS grew by ${mb(stats.rssPeak - baseline.rss)}`);
    assert.ok(percentile(floodTimes, 99) < 2000, `bystander p99 ${percentile(floodTimes, 99)} ms during`);
  });
});

describe('2. database calls cut by a closed socket', () => {
  it('are retried as the SDK retries them against AWS: a reset store call costs no message', async () => {
    const store = await startTestStack();
    const dynamo = await startFaultProxy();
    dynamo.target = store.dynamodbEndpoint;
    // Every operation's first request on each socket is cut, as when the server closed an idle keep-alive socket
    // just as the request went out ("socket hang up").
    let resets = 0;
    const seen = new Set<string>();
    dynamo.decide = (request) => {
      const key = `${dynamoOperation(request)} ${request.body.length}`;
      if (seen.has(key)) return FORWARD;
      seen.add(key);
      resets++;
      return RESET;
    };
    const stack = await startTestStack({ env: { PRESENCE_ENABLED: 'false', DYNAMODB_ENDPOINT: dynamo.url } });
    try {
      const alice = await ChatClient.connect(stack, 'alice', 'reset');
      const bob = await ChatClient.connect(stack, 'bob', 'reset');
      for (let i = 0; i < 5; i++) {
        alice.send({ action: 'sendMessage', message: `through a reset ${i}`, client_msg_id: `r${i}` });
        const own = await alice.next((frame) => frame.client_msg_id === `r${i}`, 10_000);
        assert.equal(own.action, 'message', JSON.stringify(own));
        assert.equal((await bob.next((frame) => frame.action === 'message', 10_000)).message, own.message);
      }
      assert.ok(resets >= 5, `${resets} requests reset`);
      const history = await stack.deps.messages.roomHistory('reset', { afterSeq: 0, limit: 100 });
      assert.equal(history.messages.length, 5, 'each stored once');
      await Promise.all([alice.close(), bob.close()]);
    } finally {
      await stack.close();
      await dynamo.close();
      await store.close();
    }
  });
});

describe('4. one connection floods pings', () => {
  it('is refused cheaply and then closed; other rooms keep their round trips and the server its memory', async (t) => {
    const server = await startServer({
      PRESENCE_ENABLED: 'false',
      CONNECTION_FRAME_BURST: process.env.XB ?? '100',
      CONNECTION_CLOSE_AFTER_REFUSALS: process.env.XC ?? '200',
    });
    const flooder = await connect(server, 'flooder', 'noisy');
    const bystander = await connect(server, 'bystander', 'calm');
    await pingTimes(bystander, 20, 'warm');
    const baseline = await server.stats();
    await server.request({ kind: 'reset-peak' });
    const closed = new Promise<number>((resolve) => flooder.socket.once('close', resolve));

    const during = pingTimes(bystander, 40, 'flood');
    await flood(
      flooder,
      Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ action: 'ping', ref: `f${i}` })),
    );
    const floodTimes = await during;
    const code = await closed;
    const stats = await server.stats();
    const pongs = flooder.frames.filter((frame) => frame.action === 'pong').length;
    const limited = flooder.frames.filter((frame) => frame.code === 'RATE_LIMITED');
    t.diagnostic(
      `${pongs} pongs, ${limited.length} RATE_LIMITED, closed with ${code}; RSS ${mb(baseline.rss)} before, peak ` +
        `${mb(stats.rssPeak)}; bystander p50 ${percentile(floodTimes, 50).toFixed(0)} ms, p99 ` +
        `${percentile(floodTimes, 99).toFixed(0)} ms during the flood`,
    );
    // Closed within milliseconds of the flood: the admitted pings' answers (and most RATE_LIMITED notices) find
    // the connection gone.
    assert.equal(code, 1000, 'closed through the management API (DeleteConnection)');
    assert.ok(pongs <= 100, `${pongs} pings answered: the burst (50) and the rate (50/s) allow about that`);
    assert.ok(limited.length <= 50, `${limited.length} RATE_LIMITED answers: the first 50 refusals only`);
    // The budgets separate the fixed server from the one found: every ping invoked (20,000 in one process), 8 s
    // round trips for other rooms and +300 MB. Measured over this work's runs: the bystander's worst round trip 0.13–0.65 s
    // while the flooder's admitted burst is served, +25 to +40 MB.
    assert.ok(percentile(floodTimes, 99) < 2000, `bystander p99 ${percentile(floodTimes, 99)} ms`);
    assert.ok(stats.rssPeak - baseline.rss < 100 * MB, `RSS grew by ${mb(stats.rssPeak - baseline.rss)}`);
    assert.equal(stats.failedInvocations, 0);
  });
});

describe('4. the limits, for a client that is merely too fast', () => {
  it('answers RATE_LIMITED with the ids of the frame and when to try again, and admits it again then', async () => {
    const stack = await startTestStack({
      env: { PRESENCE_ENABLED: 'false', CONNECTION_FRAME_BURST: '5', CONNECTION_FRAMES_PER_SECOND: '20' },
    });
    try {
      const client = await ChatClient.connect(stack, 'eager', 'fast');
      for (let i = 0; i < 8; i++) client.send({ action: 'ping', ref: `p${i}` });
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => client.next((frame) => frame.ref === `p${i}`)),
      );
      const limited = answers.filter((frame) => frame.code === 'RATE_LIMITED');
      assert.equal(answers.filter((frame) => frame.action === 'pong').length, 5, 'the burst');
      assert.equal(limited.length, 3);
      for (const frame of limited) {
        assert.equal(frame.action, 'error');
        assert.ok((frame.retry_after_ms as number) > 0 && (frame.retry_after_ms as number) <= 150);
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(...limited.map((f) => f.retry_after_ms as number))),
      );
      client.send({ action: 'ping', ref: 'later' });
      assert.equal((await client.next((frame) => frame.ref === 'later')).action, 'pong');
      await client.close();
    } finally {
      await stack.close();
    }
  });

  it('an SDK client that pipelines past its limit gets every send through, once', async () => {
    const stack = await startTestStack({
      env: { PRESENCE_ENABLED: 'false', CONNECTION_FRAME_BURST: '10', CONNECTION_FRAMES_PER_SECOND: '20' },
    });
    const sdk = client(stack.wsUrl, 'piper', 'fast', { maxSendsInFlight: 8 });
    const recorder = new Recorder(sdk);
    try {
      await recorder.waitForState('open', 0);
      const texts = Array.from({ length: 40 }, (_, i) => `m${i}`);
      const sent = await Promise.all(texts.map((text) => sdk.send(text)));
      const page = await sdk.history({ afterSeq: 0 });
      const stored = page.messages.map((message) => message.message);
      assert.equal(new Set(sent.map((frame) => frame.message_id)).size, 40, 'each send stored once');
      assert.deepEqual([...stored].sort(), [...texts].sort());
    } finally {
      sdk.close();
      await stack.close();
    }
  });
});

describe("4. API Gateway's own throttling, in the local stack", () => {
  it('refuses frames over the stage\'s burst with "Too Many Requests", before any invocation', async () => {
    const stack = await startTestStack({ throttling: { rateLimit: 0.001, burstLimit: 2 } });
    try {
      const client = await ChatClient.connect(stack, 'thrifty', 'throttled');
      for (let i = 0; i < 4; i++) client.send({ action: 'ping', ref: `t${i}` });
      const answers = await Promise.all([0, 1, 2, 3].map(() => client.next(() => true)));
      // The ping route's bucket holds two; the stage default gives each route its own bucket.
      assert.equal(answers.filter((frame) => frame.action === 'pong').length, 2);
      assert.deepEqual(
        answers.filter((frame) => frame.action === undefined).map((frame) => frame.message),
        ['Too Many Requests', 'Too Many Requests'],
      );
      await client.close();
    } finally {
      await stack.close();
    }
  });
});

describe('4. connections per user', () => {
  it('are capped (429), counting only those API Gateway still has', async () => {
    const stack = await startTestStack({ env: { PRESENCE_ENABLED: 'false', MAX_CONNECTIONS_PER_USER: '3' } });
    try {
      const tabs = [];
      for (let i = 0; i < 3; i++) tabs.push(await ChatClient.connect(stack, 'hoarder', `room-${i}`));
      await assert.rejects(ChatClient.connect(stack, 'hoarder', 'room-3'), /429/);
      await (tabs.pop() as ChatClient).close();
      await eventually(
        () => stack.deps.connections.userConnectionIds('hoarder'),
        (ids) => ids.length === 2,
      );
      tabs.push(await ChatClient.connect(stack, 'hoarder', 'room-3'));

      // Records a crash left behind do not hold a user out.
      for (const id of ['CappedGhost000A=', 'CappedGhost000B=', 'CappedGhost000C='])
        await putOldRecord(stack, { connectionId: id, roomId: 'room-0', userId: 'returning' });
      const back = await ChatClient.connect(stack, 'returning', 'room-0');
      await Promise.all([...tabs, back].map((tab) => tab.close()));
    } finally {
      await stack.close();
    }
  });
});

describe('3. listMembers in a room of any size', () => {
  it('answers a list trimmed to within a few bytes of the limit, never INTERNAL', async () => {
    const stack = await startTestStack({ env: { PRESENCE_ENABLED: 'false' } });
    try {
      // User ids that put the trimmed list 1–16 bytes under the 128 KB limit, where the old code's
      // `"truncated":true` (17 bytes, added after trimming) pushed the frame over it: 413, then INTERNAL.
      const users = membersNearTheLimit();
      const doc = createDocumentClient({
        endpoint: stack.dynamodbEndpoint,
        region: stack.config.region,
        credentials: LOCAL_CREDENTIALS,
      });
      const store = new ConnectionStore(doc, {
        tableName: stack.config.tables.connections,
        subscriptionsTableName: stack.config.tables.subscriptions,
        ttlSeconds: stack.config.connectionTtlSeconds,
      });
      for (let i = 0; i < users.length; i += 50) {
        await Promise.all(
          users
            .slice(i, i + 50)
            .map((userId, j) =>
              store.put({ connectionId: `Member${String(i + j).padStart(8, '0')}=`, roomId: 'huge', userId }),
            ),
        );
      }
      doc.destroy();
      const caller = await ChatClient.connect(stack, 'aaa-caller', 'huge');
      caller.send({ action: 'listMembers', ref: 'm' });
      const members = await caller.next((frame) => frame.ref === 'm', 10_000);
      assert.equal(members.action, 'members', JSON.stringify(members).slice(0, 200));
      assert.equal(members.truncated, true);
      const bytes = Buffer.byteLength(JSON.stringify(members));
      assert.ok(bytes <= MAX_MESSAGE_BYTES, `${bytes} bytes`);
      assert.ok(bytes > MAX_MESSAGE_BYTES - 200, `${bytes} bytes: trimmed more than needed`);
      await caller.close();
    } finally {
      await stack.close();
    }
  });
});

/**
 * Users whose members frame, trimmed to fit with the old arithmetic, comes to 1–16 bytes under the limit. Found by
 * search over the length of the ids, with the frame built as list-members builds it.
 */
function membersNearTheLimit(): string[] {
  for (let length = 120; length < 200; length++) {
    const users = Array.from(
      { length: 900 },
      (_, i) => `u${String(i).padStart(5, '0')}-${'m'.repeat(length)}`,
    );
    const entries = ['aaa-caller', ...users].sort().map((user_id) => ({ user_id, connections: 1 }));
    const frame = { action: 'members', room_id: 'huge', users: entries, latest_seq: 0, ref: 'm' };
    // The old trimming: drop from the end until it fits, then add the flag.
    while (Buffer.byteLength(JSON.stringify(frame)) > MAX_MESSAGE_BYTES) frame.users.pop();
    const slack = MAX_MESSAGE_BYTES - Buffer.byteLength(JSON.stringify(frame));
    if (slack > 0 && slack < ',"truncated":true'.length) return users;
  }
  throw new Error('no id length puts the list near the limit');
}

describe('5. ghost members after a crash', () => {
  it('are gone after kill -9 and a restart on the data directory, and get no direct message', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'roomcast-ghosts-'));
    dirs.push(dataDir);
    const first = await startServer({ ROOMCAST_DATA_DIR: dataDir, PRESENCE_ENABLED: 'false' });
    for (const user of ['ghost-a', 'ghost-b', 'ghost-c']) await connect(first, user, 'haunted');
    const carol = await connect(first, 'carol', 'haunted');
    carol.send({ action: 'listMembers', ref: 'before' });
    const before = await carol.next((frame) => frame.ref === 'before');
    assert.equal((before.users as unknown[]).length, 4);
    await first.kill('SIGKILL');

    const second = await startServer({ ROOMCAST_DATA_DIR: dataDir, PRESENCE_ENABLED: 'false' });
    assert.equal(second.staleConnectionsRemoved, 4, 'the records the killed process left');
    const dave = await connect(second, 'dave', 'haunted');
    dave.send({ action: 'listMembers', ref: 'after' });
    const after = await dave.next((frame) => frame.ref === 'after');
    assert.deepEqual(after.users, [{ user_id: 'dave', connections: 1 }]);
    dave.send({ action: 'sendDirect', to_user_id: 'ghost-a', message: 'anyone?', client_msg_id: 'dm-1' });
    const answer = await dave.next((frame) => frame.client_msg_id === 'dm-1');
    assert.deepEqual([answer.action, answer.code], ['error', 'NOT_CONNECTED']);
  });

  it('a record whose connection is gone (no $disconnect ran) takes no direct message: NOT_CONNECTED', async () => {
    const stack = await startTestStack({ env: { PRESENCE_ENABLED: 'false' } });
    try {
      const doc = createDocumentClient({
        endpoint: stack.dynamodbEndpoint,
        region: stack.config.region,
        credentials: LOCAL_CREDENTIALS,
      });
      // A record as $connect writes it, for a connection API Gateway does not have: what a crash leaves on AWS,
      // where $disconnect is best effort.
      await new ConnectionStore(doc, {
        tableName: stack.config.tables.connections,
        subscriptionsTableName: stack.config.tables.subscriptions,
        ttlSeconds: stack.config.connectionTtlSeconds,
        now: () => Date.now() - 120_000,
      }).put({ connectionId: 'GhostConnect00A=', roomId: 'haunted', userId: 'ghost' });
      const erin = await ChatClient.connect(stack, 'erin', 'haunted');
      erin.send({ action: 'sendDirect', to_user_id: 'ghost', message: 'hello?', client_msg_id: 'dm-2' });
      const answer = await erin.next((frame) => frame.client_msg_id === 'dm-2');
      assert.deepEqual([answer.action, answer.code], ['error', 'NOT_CONNECTED']);
      assert.equal(
        await stack.deps.connections.get('GhostConnect00A='),
        undefined,
        'the ghost record was pruned',
      );
      erin.send({ action: 'getHistory', direct: true, ref: 'inbox' });
      const inbox = await erin.next((frame) => frame.ref === 'inbox');
      assert.deepEqual(inbox.messages, [], 'nothing stored for a message refused');
      doc.destroy();
      await erin.close();
    } finally {
      await stack.close();
    }
  });
});

describe('6. presence', () => {
  const presenceOf = (client: ChatClient) => client.frames.filter((frame) => frame.action === 'presence');

  it('is per user: the first tab joins, the last one leaves, the tabs between are silent', async () => {
    const metrics = recordingMetrics();
    const stack = await startTestStack({ depsOverrides: { metrics } });
    try {
      const bob = await ChatClient.connect(stack, 'bob', 'tabs', '', { keepPresence: true });
      const tabs = [];
      for (let i = 0; i < 3; i++) tabs.push(await ChatClient.connect(stack, 'alice', 'tabs'));
      // Every $connect has ended (and so announced what it would): the sentinel for "no more joins".
      await eventually(
        () => metrics.totals.get(METRIC.connectionsOpened) ?? 0,
        (opened) => opened === 4,
      );
      assert.deepEqual(
        presenceOf(bob).map((frame) => [frame.user_id, frame.event]),
        [['alice', 'join']],
      );
      const closedBefore = metrics.totals.get(METRIC.connectionsClosed) ?? 0;
      await Promise.all(tabs.slice(0, 2).map((tab) => tab.close()));
      await eventually(
        () => metrics.totals.get(METRIC.connectionsClosed) ?? 0,
        (closed) => closed === closedBefore + 2,
      );
      assert.equal(presenceOf(bob).length, 1, 'no leave while a tab is open');
      await (tabs[2] as ChatClient).close();
      await bob.next((frame) => frame.action === 'presence' && frame.event === 'leave', 5000);
      await bob.close();
    } finally {
      await stack.close();
    }
  });

  it('churn gets a bounded number of frames to each member, which say how many events they left out', async (t) => {
    const metrics = recordingMetrics();
    const stack = await startTestStack({ depsOverrides: { metrics } });
    try {
      const members = [];
      for (let i = 0; i < 50; i++)
        members.push(await ChatClient.connect(stack, `member-${i}`, 'churned', '', { keepPresence: true }));
      for (const member of members) member.frames.length = 0;
      const started = performance.now();
      for (let round = 0; round < 25; round++) {
        const batch = await Promise.all(
          Array.from({ length: 10 }, (_, i) => ChatClient.connect(stack, `churn-${round}-${i}`, 'churned')),
        );
        await Promise.all(batch.map((client) => client.close()));
      }
      const seconds = (performance.now() - started) / 1000;
      // The sentinel: every $connect and $disconnect has ended, and each posts its presence frame before it ends.
      await eventually(
        () =>
          (metrics.totals.get(METRIC.connectionsClosed) ?? 0) +
          (metrics.totals.get(METRIC.connectionsOpened) ?? 0),
        (ended) => ended === 50 + 250 + 250,
        10_000,
      );
      const watcher = members[0] as ChatClient;
      const counts = members.map((member) => presenceOf(member).length);
      const missed = presenceOf(watcher).reduce((sum, frame) => sum + Number(frame.missed ?? 0), 0);
      t.diagnostic(
        `500 churn events in ${seconds.toFixed(1)} s: at most ${Math.max(...counts)} presence frames to a member ` +
          `(${presenceOf(watcher).length} to the first, saying ${missed} were left out)`,
      );
      const bound = 10 + 2 * (seconds + 1) + 1;
      assert.ok(Math.max(...counts) <= bound, `${Math.max(...counts)} frames, more than ${bound}`);
      assert.ok(missed > 0, 'the frames say that events were left out');
      await Promise.all(members.map((client) => client.close()));
    } finally {
      await stack.close();
    }
  });

  it('cannot be switched off for a room by one account opening connections', async () => {
    const stack = await startTestStack({ env: { PRESENCE_MAX_ROOM_SIZE: '5' } });
    try {
      const bob = await ChatClient.connect(stack, 'bob', 'small', '', { keepPresence: true });
      // One account, ten connections: more connections than the room size, one user.
      const crowd = [];
      for (let i = 0; i < 10; i++) crowd.push(await ChatClient.connect(stack, 'crowder', 'small'));
      const carol = await ChatClient.connect(stack, 'carol', 'small');
      const join = await bob.next((frame) => frame.action === 'presence' && frame.user_id === 'carol', 5000);
      assert.equal(join.event, 'join');
      await Promise.all([bob, carol, ...crowd].map((client) => client.close()));
    } finally {
      await stack.close();
    }
  });
});

describe('7. configuration that fails open', () => {
  it('refuses to start with JWT_SECRET set but empty, instead of using the public development secret', async () => {
    for (const secret of ['', '   ']) {
      await assert.rejects(
        startLocalStack({ port: 0, env: { JWT_SECRET: secret, LOG_LEVEL: 'SILENT' } }),
        (error: unknown) => error instanceof ConfigError && /JWT_SECRET/.test(error.message),
      );
    }
  });

  it('refuses a JWKS URL that is not https (plain http only on loopback)', async () => {
    for (const url of ['http://keys.example.com/jwks.json', 'file:///tmp/jwks.json']) {
      await assert.rejects(
        startLocalStack({ port: 0, env: { JWT_JWKS_URL: url, LOG_LEVEL: 'SILENT' } }),
        (error: unknown) => error instanceof ConfigError && /JWT_JWKS_URL/.test(error.message),
      );
    }
  });
});

describe('8. the local management API', () => {
  it("refuses what is not signed with the functions' key pair, as AWS refuses what IAM does not allow", async () => {
    const stack = await startTestStack({ env: { PRESENCE_ENABLED: 'false' } });
    try {
      const victim = await ChatClient.connect(stack, 'victim', 'guarded');
      const [record] = await stack.deps.connections.roomMembers('guarded');
      const url = `${stack.managementEndpoint}/@connections/${encodeURIComponent(String(record?.connection_id))}`;
      const unsigned = await fetch(url, { method: 'POST', body: '{"action":"message","message":"forged"}' });
      assert.equal(unsigned.status, 403);
      assert.equal(unsigned.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
      assert.equal((await fetch(url, { method: 'DELETE' })).status, 403, 'nobody kicks a user unsigned');

      // A guessed secret, and the published local/local pair the store accepts: the key pair is made up at start.
      for (const secretAccessKey of ['guessed', 'local']) {
        const wrongKey = createManagementClient(stack.managementEndpoint, {
          region: stack.config.region,
          credentials: { accessKeyId: 'local', secretAccessKey },
          maxAttempts: 1,
        });
        await assert.rejects(
          wrongKey.send(
            new PostToConnectionCommand({ ConnectionId: String(record?.connection_id), Data: 'x' }),
          ),
          (error: Error) => error.name === 'InvalidSignatureException',
          secretAccessKey,
        );
        wrongKey.destroy();
      }

      const api = managementApi(stack);
      await api.send(
        new PostToConnectionCommand({
          ConnectionId: String(record?.connection_id),
          Data: '{"action":"signed"}',
        }),
      );
      api.destroy();
      const frame = await victim.next();
      assert.equal(frame.action, 'signed', 'only the signed post arrived');
      await victim.close();
    } finally {
      await stack.close();
    }
  });

  it('accepts unsigned requests only when told to (--management-auth none)', async () => {
    const stack = await startTestStack({ managementAuth: 'none' });
    try {
      assert.equal(stack.managementKeyId, undefined);
      const response = await fetch(`${stack.managementEndpoint}/@connections/AbsentConnect00=`);
      assert.equal(response.status, 410, 'checked no signature: the connection is simply not there');
    } finally {
      await stack.close();
    }
  });
});
