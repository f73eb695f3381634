import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { LocalStack } from '../../src/local/stack.ts';
import { METRIC } from '../../src/metrics.ts';
import { MAX_MESSAGE_BYTES } from '../../src/protocol.ts';
import { ChatClient, eventually, managementApi, recordingMetrics, startTestStack } from '../support/chat.ts';

/**
 * A client that stops reading must not slow its room: delivery times to the others are measured without it and
 * with it stalled, over more messages than there would be pooled sockets to the @connections API if each post to
 * the stalled client held one. Both ways handlers reach that API: in-process (`npm start`) and over HTTP (as on
 * Lambda, through the SDK's socket pool).
 */

const MESSAGES = 100;
const POST_BYTES = MAX_MESSAGE_BYTES;

/** Milliseconds from each send until the listener has the message, one message at a time. */
async function deliveryTimes(sender: ChatClient, listener: ChatClient, label: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const started = performance.now();
    sender.send({ action: 'sendMessage', message: `${label} ${i}` });
    const frame = await listener.next((candidate) => candidate.action === 'message', 5000);
    times.push(performance.now() - started);
    assert.equal(frame.message, `${label} ${i}`, 'in order, none lost');
    assert.equal((await sender.next()).message, `${label} ${i}`, 'the sender gets its own copy');
  }
  return times;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};

/**
 * Posts 128 KB frames to the connection until its TCP buffers are full: a post then no longer completes (or the
 * gateway refuses it with 429 for its send buffer). Returns how many megabytes it took.
 */
async function backUp(stack: LocalStack, connectionId: string): Promise<number> {
  // One attempt each, given up after 500 ms: a post that is refused (429) or never completes counts as stuck.
  const api = managementApi(stack, { maxAttempts: 1, requestTimeoutMs: 500 });
  const body = Buffer.alloc(POST_BYTES, 'x');
  let stuck = 0;
  try {
    for (let posts = 1; posts <= 512; posts++) {
      const answered = await api
        .send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: body }))
        .then(
          () => true,
          () => false,
        );
      stuck = answered ? 0 : stuck + 1;
      if (stuck === 2) return (posts * POST_BYTES) / 2 ** 20;
    }
  } finally {
    api.destroy();
  }
  throw new Error('64 MB went through to a client that reads nothing');
}

for (const transport of ['in-process', 'http'] as const) {
  describe(`a client that stops reading (@connections ${transport})`, () => {
    let stack: LocalStack;
    const metrics = recordingMetrics();
    const clients: ChatClient[] = [];
    const join = async (user: string, room: string) => {
      const client = await ChatClient.connect(stack, user, room);
      clients.push(client);
      return client;
    };

    before(async () => {
      stack = await startTestStack({
        env: { PRESENCE_ENABLED: 'false' },
        managementTransport: transport,
        depsOverrides: { metrics },
      });
    });
    after(async () => {
      await Promise.all(clients.map((client) => client.close()));
      await stack.close();
    });

    it('does not slow its room for the others', async (t) => {
      const alice = await join('alice', 'room');
      const bob = await join('bob', 'room');
      const baseline = await deliveryTimes(alice, bob, 'baseline');

      const stalled = await join('stalled', 'room');
      (stalled.socket as unknown as { _socket: Socket })._socket.pause();
      const [stalledId] = await stack.deps.connections.userConnectionIds('stalled');
      assert.ok(stalledId);
      const megabytes = await backUp(stack, stalledId);
      const failedBefore = metrics.totals.get(METRIC.deliveriesFailed) ?? 0;

      const withStalled = await deliveryTimes(alice, bob, 'stalled');
      const report = (times: number[]) =>
        `p50 ${percentile(times, 50).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms`;
      t.diagnostic(`stalled client backed up after ${megabytes.toFixed(1)} MB`);
      t.diagnostic(`without it: ${report(baseline)}; with it: ${report(withStalled)}`);
      // Two cores shared with other test files: generous, but far below what a blocked room shows (posts queued
      // behind hanging ones until their 2 s timeout, or until the 29 s integration timeout without one).
      const bound = Math.max(3 * percentile(baseline, 95), percentile(baseline, 95) + 100);
      assert.ok(percentile(withStalled, 95) <= bound, `p95 ${percentile(withStalled, 95)} > ${bound}`);
      assert.ok(Math.max(...withStalled) < 1000, `a delivery took ${Math.max(...withStalled)} ms`);

      // The stalled client's posts failed (timed out or throttled), were counted, and its record was kept.
      await eventually(
        async () => (metrics.totals.get(METRIC.deliveriesFailed) ?? 0) - failedBefore,
        (failed) => failed >= 1,
        15_000,
      );
      assert.ok(await stack.deps.connections.get(stalledId), 'a slow client is not pruned');
      assert.equal(metrics.totals.get(METRIC.staleConnectionsPruned) ?? 0, 0);

      // Once it is dropped, its `$disconnect` runs like anyone's.
      stalled.socket.terminate();
      await eventually(
        () => stack.deps.connections.get(stalledId),
        (record) => record === undefined,
        10_000,
      );
    });
  });
}
