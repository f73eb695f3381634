import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/config.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { LOCAL_CREDENTIALS, startLocalStack } from '../../src/local/stack.ts';
import { MAX_MESSAGE_BYTES } from '../../src/protocol.ts';
import { ConnectionStore } from '../../src/store/connections.ts';
import { createDocumentClient } from '../../src/store/tables.ts';
import { ChatClient, startTestStack, TEST_SECRET } from '../support/chat.ts';
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
async function pingTimes(client: ChatClient, count: number, tag: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const ref = `${tag}-${i}`;
    const started = performance.now();
    client.send({ action: 'ping', ref });
    await client.next((frame) => frame.action === 'pong' && frame.ref === ref, 30_000);
    times.push(performance.now() - started);
  }
  return times;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Stops reading at the TCP level: what the server sends piles up in its buffers. */
function stopReading(client: ChatClient): void {
  (client.socket as unknown as { _socket: Socket })._socket.pause();
}

describe('1. a client that stops reading, then floods malformed frames', () => {
  it('fails no invocation, logs little, and serves a bystander once it has passed', async (t) => {
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
    for (let i = 0; i < FRAMES; i++) {
      mallory.send('x');
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
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
    // Not yet bounded: the peak RSS and the bystander's round trip during the flood (one invocation per frame,
    // all at once, until per-connection limits refuse them cheaply); reported above.
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
