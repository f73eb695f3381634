import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { MessageFrame, RoomcastClient } from '@roomcast/client';
import type { LocalStack } from '../../src/local/stack.ts';
import type { StoredMessage } from '../../src/store/messages.ts';
import { client, instrumentedWebSocket, Recorder } from '../client/support.ts';
import { wholeHistory } from '../faults/support.ts';
import { ChatClient, eventually, startTestStack } from '../support/chat.ts';
import { dynamoOperation, type FaultProxy, FORWARD, startFaultProxy } from '../support/fault-proxy.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

/**
 * The promise of ordered streams, tested the way an application sees it: SDK receivers whose `message` events are
 * compared with the stored history, after bursts, dropped and delayed connections, and server restarts. Every
 * receiver must get exactly the history: each message once, in seq order, which for one sender is its send order.
 */

const stacks: LocalStack[] = [];
const proxies: Array<TcpProxy | FaultProxy> = [];
const raw: ChatClient[] = [];
const clients: RoomcastClient[] = [];
const dirs: string[] = [];

after(async () => {
  for (const c of clients) c.close();
  await Promise.all(raw.map((c) => c.close()));
  // Client proxies first: one that black-holes frames would hold a closing handshake, and so its stack, forever.
  await Promise.all(proxies.filter((proxy) => proxy instanceof TcpProxy).map((proxy) => proxy.close()));
  // Newest first: a stack whose store is another stack's must close before that one.
  for (const stack of stacks.reverse()) await stack.close().catch(() => {});
  await Promise.all(proxies.filter((proxy) => !(proxy instanceof TcpProxy)).map((proxy) => proxy.close()));
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function stackOn(
  options: { port?: number; dataDir?: string; env?: Record<string, string> } = {},
): Promise<LocalStack> {
  const stack = await startTestStack({ ...options, env: { PRESENCE_ENABLED: 'false', ...options.env } });
  stacks.push(stack);
  return stack;
}

/** An SDK client with test timings (fast reconnects), recorded. */
function sdk(url: string, user: string, room: string, options: Parameters<typeof client>[3] = {}) {
  const c = client(url, user, room, { sendTimeoutMs: 120_000, requestTimeoutMs: 20_000, ...options });
  clients.push(c);
  return { client: c, recorder: new Recorder(c) };
}

/**
 * Waits until each client is in its room: its connection is open and its subscribe answered. A message stored
 * before that is before its start (docs/protocol.md, "Order and delivery"), so a burst waits for this.
 */
async function opened(clients: Array<{ client: RoomcastClient; recorder: Recorder }>): Promise<void> {
  await Promise.all(
    clients.map(async ({ client, recorder }) => {
      await recorder.waitForState('open', 0);
      if (client.defaultRoom !== undefined) await client.room(client.defaultRoom).ready;
    }),
  );
}

/** Waits until `recorder` has handed over `count` room messages. */
function received(recorder: Recorder, count: number, timeoutMs = 60_000): Promise<unknown> {
  return recorder.waitFor('message', () => recorder.of('message').length >= count, { timeoutMs });
}

/** What a receiver's application got equals the stored history: the same messages, once each, in seq order. */
function assertIsHistory(
  name: string,
  got: readonly MessageFrame[],
  history: readonly StoredMessage[],
): void {
  const ids = got.map((frame) => frame.message_id);
  assert.equal(new Set(ids).size, ids.length, `${name}: no message twice`);
  assert.deepEqual(
    got.map((frame) => `${frame.seq} ${frame.message}`),
    history.map((message) => `${message.seq} ${message.message}`),
    `${name}: the history, in seq order`,
  );
}

const texts = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

/**
 * How a room's messages reach its members: posted by the function that stored them, or (in a room above the tier's
 * threshold) by fan-out workers that Lambda runs in parallel and may run twice (src/fan-out.ts). The first
 * guarantees are tested on both.
 */
const DELIVERY_PATHS: Array<{ path: string; env: Record<string, string> }> = [
  { path: 'posted by the sender', env: {} },
  { path: 'posted by fan-out workers', env: { FANOUT_THRESHOLD: '3', FANOUT_SHARD_SIZE: '4' } },
];

for (const { path, env } of DELIVERY_PATHS) {
  describe(`ordered streams through the SDK, ${path}`, () => {
    it('ten receivers and a burst of 200 from one sender: each gets the history, in send order, once', async () => {
      const stack = await stackOn({ env });
      const receivers = Array.from({ length: 10 }, (_, i) => sdk(stack.wsUrl, `r${i}`, 'burst'));
      const sender = sdk(stack.wsUrl, 'sender', 'burst');
      await opened([sender, ...receivers]);

      const sent = texts('burst', 200);
      // All at once: the outbox puts one on the wire at a time, so they are stored in the order sent.
      const stored = await Promise.all(sent.map((text) => sender.client.send(text)));
      assert.deepEqual(
        stored.map((frame) => frame.seq),
        sent.map((_, i) => i + 1),
      );
      const history = await wholeHistory(stack.deps.messages, 'burst');
      assert.deepEqual(
        history.map((message) => message.message),
        sent,
      );
      for (const [i, receiver] of receivers.entries()) {
        await received(receiver.recorder, sent.length);
        assertIsHistory(`r${i}`, receiver.recorder.of('message'), history);
      }
      // Eleven connections in shards of four: three worker invocations per message, or none without the tier.
      assert.equal(stack.functions.stats.accepted, env.FANOUT_THRESHOLD ? sent.length * 3 : 0);
    });

    it('the same while some receivers are delayed, cut off repeatedly, or black-holed', async () => {
      const stack = await stackOn({ env });
      const proxy = (latencyMs = 0) =>
        TcpProxy.start(stack.wsUrl).then((started) => {
          started.latencyMs = latencyMs;
          proxies.push(started);
          return started;
        });
      const slow = await proxy(15);
      const flaky = await proxy();
      const hole = await proxy();
      const receivers = [
        ...[0, 1, 2].map((i) => ({ name: `slow${i}`, ...sdk(slow.url, `slow${i}`, 'rough') })),
        ...[0, 1, 2].map((i) => ({ name: `flaky${i}`, ...sdk(flaky.url, `flaky${i}`, 'rough') })),
        ...[0, 1].map((i) => ({
          name: `hole${i}`,
          // A short heartbeat finds the black hole; the client then reconnects and catches up.
          ...sdk(hole.url, `hole${i}`, 'rough', { heartbeatMs: 300, heartbeatTimeoutMs: 300 }),
        })),
        ...[0, 1].map((i) => ({ name: `direct${i}`, ...sdk(stack.wsUrl, `direct${i}`, 'rough') })),
      ];
      const sender = sdk(stack.wsUrl, 'sender', 'rough');
      await opened([sender, ...receivers]);

      const sent = texts('rough', 200);
      let acknowledged = 0;
      let cuts = 0;
      let blackholed = false;
      const sending = Promise.all(
        sent.map((text) =>
          sender.client.send(text).then((frame) => {
            acknowledged += 1;
            // Every 25 messages the flaky receivers lose their connections, with whatever frames were on the way.
            if (acknowledged % 25 === 0) {
              flaky.cut();
              cuts += 1;
            }
            if (acknowledged === 60 && !blackholed) {
              hole.blackhole('both');
              blackholed = true;
            }
            return frame;
          }),
        ),
      );
      await sending;
      const history = await wholeHistory(stack.deps.messages, 'rough');
      assert.equal(history.length, sent.length);
      for (const receiver of receivers) {
        await received(receiver.recorder, sent.length);
        assertIsHistory(receiver.name, receiver.recorder.of('message'), history);
      }
      assert.equal(cuts, 8);
      for (const receiver of receivers.filter((r) => /flaky|hole/.test(r.name))) {
        const reconnects =
          receiver.recorder.of('state').filter((change) => change.state === 'open').length - 1;
        assert.ok(reconnects >= 1, `${receiver.name} lost its connection (${reconnects} reconnects)`);
      }
    });

    it('the same across a server restart on its data directory in the middle of the burst', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'roomcast-order-'));
      dirs.push(dataDir);
      let stack = await stackOn({ dataDir, env });
      const port = Number(new URL(stack.wsUrl).port);
      const receivers = Array.from({ length: 10 }, (_, i) => sdk(stack.wsUrl, `r${i}`, 'restart'));
      const sender = sdk(stack.wsUrl, 'sender', 'restart');
      await opened([sender, ...receivers]);

      const sent = texts('restart', 200);
      let acknowledged = 0;
      let restarted: Promise<void> | undefined;
      const stored = await Promise.all(
        sent.map((text) =>
          sender.client.send(text).then((frame) => {
            acknowledged += 1;
            if (acknowledged === 80) {
              restarted = (async () => {
                await stack.close();
                stack = await stackOn({ port, dataDir, env });
              })();
            }
            return frame;
          }),
        ),
      );
      await restarted;
      // A seq taken by a send the restart cut short stays empty; the order is the send order all the same.
      assert.ok(
        stored.every((frame, i) => i === 0 || frame.seq > (stored[i - 1] as MessageFrame).seq),
        'stored in send order, across the restart',
      );
      const history = await wholeHistory(stack.deps.messages, 'restart');
      assert.deepEqual(
        history.map((message) => message.message),
        sent,
      );
      for (const [i, receiver] of receivers.entries()) {
        await received(receiver.recorder, sent.length);
        assertIsHistory(`r${i}`, receiver.recorder.of('message'), history);
        assert.ok(receiver.recorder.of('state').filter((change) => change.state === 'open').length >= 2);
      }
    });
  });
}

describe('ordered streams through the SDK', () => {
  it('a fresh client that joins while a message is being written gets it, after the newest `initial`', async () => {
    const dynamo = await startFaultProxy();
    proxies.push(dynamo);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reached = () => {};
    const holding = new Promise<void>((resolve) => {
      reached = resolve;
    });
    dynamo.decide = (request) => {
      if (dynamoOperation(request) !== 'PutItem' || !request.body.includes('slow writer')) return FORWARD;
      reached();
      return { kind: 'hold', until: held };
    };
    const store = await stackOn();
    dynamo.target = store.dynamodbEndpoint;
    const stack = await startTestStack({ env: { PRESENCE_ENABLED: 'false', DYNAMODB_ENDPOINT: dynamo.url } });
    stacks.push(stack);

    const alice = await ChatClient.connect(stack, 'alice', 'joining');
    raw.push(alice);
    for (let i = 1; i <= 5; i++) {
      alice.send({ action: 'sendMessage', message: `m${i}` });
      await alice.next((frame) => frame.message === `m${i}`);
    }
    // Seq 6 is taken; its write hangs in the network while bob joins and starts.
    alice.send({ action: 'sendMessage', message: 'slow writer' });
    await holding;
    const { WebSocket, seen } = instrumentedWebSocket();
    const bob = sdk(stack.wsUrl, 'bob', 'joining', { WebSocket, catchUp: { initial: 10 } });
    await eventually(
      () => seen.frames.some((frame) => frame.action === 'history'),
      (started) => started,
    );
    // Its subscribe read the room's newest seq after the subscription was written: 6, taken and not yet stored.
    assert.equal(seen.frames.find((frame) => frame.action === 'subscribed')?.latest_seq, 6);
    release();
    await alice.next((frame) => frame.message === 'slow writer');
    alice.send({ action: 'sendMessage', message: 'm7' });
    await received(bob.recorder, 7);
    assertIsHistory('bob', bob.recorder.of('message'), await wholeHistory(stack.deps.messages, 'joining'));
  });

  it('catchUp.initial hands over that many, also when they take more than one frame', async () => {
    const stack = await stackOn();
    // 20 messages of 4,000 four-byte characters: about 320 KB, three frames.
    const long = '😀'.repeat(4_000);
    for (let i = 0; i < 20; i++) {
      await stack.deps.messages.saveRoomMessage({
        kind: 'room',
        room_id: 'long',
        user_id: 'writer',
        message: `${i} ${long}`,
        message_id: stack.deps.newMessageId(),
        timestamp: new Date().toISOString(),
      });
    }
    const reader = sdk(stack.wsUrl, 'reader', 'long', { catchUp: { initial: 20 } });
    await received(reader.recorder, 20);
    assert.deepEqual(
      reader.recorder.of('message').map((frame) => frame.seq),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  it('a busy room: thousands of messages at hundreds per second and a restart, no duplicate, none missing', async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'roomcast-busy-'));
    dirs.push(dataDir);
    let stack = await stackOn({ dataDir });
    const port = Number(new URL(stack.wsUrl).port);
    const receivers = Array.from({ length: 3 }, (_, i) => sdk(stack.wsUrl, `r${i}`, 'busy'));
    // Senders that do not care about each other's order pipeline their sends, for throughput.
    const senders = Array.from({ length: 4 }, (_, i) =>
      sdk(stack.wsUrl, `s${i}`, 'busy', { maxSendsInFlight: 16 }),
    );
    await opened([...senders, ...receivers]);

    const perSender = 750;
    const total = perSender * senders.length;
    const started = performance.now();
    let acknowledged = 0;
    let restarted: Promise<void> | undefined;
    let restartedAfterMs = 0;
    await Promise.all(
      senders.flatMap((sender, s) =>
        texts(`s${s}`, perSender).map((text) =>
          sender.client.send(text).then(() => {
            acknowledged += 1;
            if (acknowledged === total / 2) {
              restartedAfterMs = performance.now() - started;
              restarted = (async () => {
                await stack.close();
                stack = await stackOn({ port, dataDir });
              })();
            }
          }),
        ),
      ),
    );
    await restarted;
    const rate = Math.round((total / 2 / restartedAfterMs) * 1000);
    t.diagnostic(`${total / 2} messages stored at ${rate}/s before the restart`);
    const history = await wholeHistory(stack.deps.messages, 'busy');
    assert.equal(history.length, total, 'each send stored once');
    assert.equal(new Set(history.map((message) => message.message)).size, total);
    for (const [i, receiver] of receivers.entries()) {
      await received(receiver.recorder, total, 120_000);
      assertIsHistory(`r${i}`, receiver.recorder.of('message'), history);
    }
  });
});
