import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { managementEndpoint } from '../../src/delivery.ts';
import {
  deliverToRoom,
  type FanOutDeps,
  type FanOutTask,
  parseFanOutTask,
  runFanOutTask,
} from '../../src/fan-out.ts';
import type { Log, WebSocketEvent } from '../../src/invocation.ts';
import { METRIC } from '../../src/metrics.ts';
import { LargeRooms, PresenceBudget } from '../../src/rooms.ts';
import type { ConnectionStore } from '../../src/store/connections.ts';
import { recordingMetrics } from '../support/chat.ts';

/**
 * How a sender cuts a big room into shards (src/fan-out.ts), with the room's pages, Lambda and API Gateway
 * replaced by recorders: the real ones are exercised by test/integration/fan-out-tier.test.ts, which cannot make
 * rooms of many pages or payloads near Lambda's limit cheaply.
 */

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} };
const event = {} as WebSocketEvent;
const message = { room_id: 'big', seq: 7, message_id: 'm7' };
const frame = JSON.stringify({ action: 'message', ...message, user_id: 'u', message: 'hi' });

function room(
  ids: string[],
  options: {
    pageSize: number;
    threshold: number;
    shardSize: number;
    concurrency?: number;
    tierConcurrency?: number;
    refuseFrom?: number;
  },
) {
  const tasks: FanOutTask[] = [];
  const payloadBytes: number[] = [];
  const posted: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let invokes = 0;
  const metrics = recordingMetrics();
  const deps: FanOutDeps = {
    config: {
      fanOutConcurrency: options.concurrency ?? 32,
      presenceEnabled: false,
      presenceMaxRoomSize: 100,
      managementEndpoint: 'https://abc.execute-api.us-east-1.amazonaws.com/dev',
      region: 'us-east-1',
      fanOutTier: {
        workerFunction: 'worker',
        threshold: options.threshold,
        shardSize: options.shardSize,
        concurrency: options.tierConcurrency ?? 160,
      },
    },
    connections: {
      async *roomConnectionIds() {
        for (let i = 0; i < ids.length; i += options.pageSize) yield ids.slice(i, i + options.pageSize);
      },
      removeGone: async () => false,
    } as unknown as ConnectionStore,
    metrics,
    managementClient: () =>
      ({
        async send(command: PostToConnectionCommand) {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((resolve) => setImmediate(resolve));
          posted.push(command.input.ConnectionId as string);
          inFlight--;
          return {};
        },
      }) as never,
    now: () => new Date(),
    largeRooms: new LargeRooms({ ttlMs: 1000 }),
    presenceBudget: new PresenceBudget(),
    workerInvoker: {
      async invoke(_functionName, payload) {
        invokes++;
        if (options.refuseFrom !== undefined && invokes >= options.refuseFrom) {
          throw Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' });
        }
        payloadBytes.push(Buffer.byteLength(payload));
        tasks.push(parseFanOutTask(JSON.parse(payload)));
      },
    },
  };
  return {
    deps,
    deliver: () => deliverToRoom(deps, managementEndpoint(deps.config, event), silent, message, frame),
    tasks,
    payloadBytes,
    posted,
    metrics,
    maxInFlight: () => maxInFlight,
  };
}

const idsOf = (n: number, length = 16) =>
  Array.from({ length: n }, (_, i) => `c${String(i).padStart(length - 1, '0')}`);

describe('the fan-out tier: shards', () => {
  it('a room of many pages is cut into shards in its order, each id once, none by the sender', async () => {
    const ids = idsOf(1000);
    const r = room(ids, { pageSize: 7, threshold: 10, shardSize: 50 });
    const result = await r.deliver();
    assert.equal(result.path, 'workers');
    // Handed over eight at a time, so in any order; by shard number, the room's order.
    const byShard = [...r.tasks].sort((a, b) => a.shard - b.shard);
    assert.deepEqual(
      byShard.flatMap((task) => task.connection_ids),
      ids,
      'every id once',
    );
    assert.ok(r.tasks.every((task) => task.connection_ids.length <= 50));
    assert.deepEqual(
      r.tasks.map((task) => task.shard).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.deepEqual(r.posted, []);
    assert.equal(r.metrics.totals.get(METRIC.fanOutShards), 20);
  });

  it('a room of the threshold is posted by its sender, without a worker', async () => {
    const r = room(idsOf(10), { pageSize: 3, threshold: 10, shardSize: 4 });
    assert.equal((await r.deliver()).path, 'direct');
    assert.equal(r.tasks.length, 0);
    assert.equal(r.posted.length, 10);
  });

  it('a shard whose payload would be too big is split, and no id is lost', async () => {
    // 2,000 ids of 200 characters: about 400 KB of ids in one shard.
    const ids = idsOf(2000, 200);
    const r = room(ids, { pageSize: 500, threshold: 10, shardSize: 2000 });
    const result = await r.deliver();
    assert.ok(r.tasks.length >= 3, `${r.tasks.length} payloads`);
    assert.ok(
      r.payloadBytes.every((bytes) => bytes <= 192 * 1024),
      `${r.payloadBytes}`,
    );
    assert.deepEqual(r.tasks.flatMap((task) => task.connection_ids).sort(), [...ids].sort());
    assert.equal(result.path === 'workers' && result.invocations, r.tasks.length);
  });

  it('once Lambda refuses a hand-off, the sender posts the rest itself, within FANOUT_CONCURRENCY', async () => {
    const ids = idsOf(1000);
    const r = room(ids, { pageSize: 100, threshold: 10, shardSize: 50, concurrency: 4, refuseFrom: 3 });
    const result = await r.deliver();
    const handed = r.tasks.flatMap((task) => task.connection_ids);
    assert.deepEqual([...handed, ...r.posted].sort(), ids, 'each connection once, by a worker or the sender');
    assert.ok(r.posted.length >= 1000 - 50 * 9, 'the sender took over after the refusal');
    assert.ok(r.maxInFlight() <= 4, `${r.maxInFlight()} posts in flight`);
    assert.equal(result.path === 'workers' && result.postedBySender, r.posted.length);
    assert.equal(r.metrics.totals.get(METRIC.fanOutDispatchFailures), 1);
  });
});

describe('the fan-out tier: posts in flight', () => {
  it('each worker gets its share of FANOUT_TIER_CONCURRENCY, at least one, at most FANOUT_CONCURRENCY', async () => {
    const shares = async (tierConcurrency: number) => {
      const r = room(idsOf(1000), { pageSize: 1000, threshold: 10, shardSize: 50, tierConcurrency });
      await r.deliver();
      return [...new Set(r.tasks.map((task) => task.concurrency))];
    };
    // 20 shards: 170 is 8 each and one more for the first 10, 170 in all.
    assert.deepEqual(await shares(160), [8]);
    assert.deepEqual((await shares(170)).sort(), [8, 9]);
    const r = room(idsOf(1000), { pageSize: 1000, threshold: 10, shardSize: 50, tierConcurrency: 170 });
    await r.deliver();
    assert.equal(
      r.tasks.reduce((sum, task) => sum + task.concurrency, 0),
      170,
    );
    assert.deepEqual(await shares(10), [1]);
    assert.deepEqual(await shares(10_000), [32]);
  });

  it('a worker keeps no more posts in flight than its task says', async () => {
    const r = room(idsOf(30), { pageSize: 30, threshold: 10, shardSize: 50 });
    const task = { ...taskOf(idsOf(30)), concurrency: 3 };
    await runFanOutTask(r.deps, task, silent);
    assert.equal(r.posted.length, 30);
    assert.equal(r.maxInFlight(), 3);
  });
});

describe('the fan-out tier: a worker running out of time', () => {
  it('hands the connections it did not reach to a new invocation, and posts to none twice', async () => {
    const ids = idsOf(30);
    const r = room(ids, { pageSize: 30, threshold: 10, shardSize: 50 });
    let calls = 0;
    // Plenty of time for the first ten connections, then less than the margin.
    const remainingMs = () => (++calls <= 10 ? 60_000 : 1_000);
    const summary = await runFanOutTask(r.deps, { ...taskOf(ids), concurrency: 3 }, silent, { remainingMs });
    assert.deepEqual([...r.posted].sort(), ids.slice(0, 10));
    assert.equal(summary.handedOnAtDeadline, 20);
    assert.equal(r.tasks.length, 1);
    assert.deepEqual(r.tasks[0]?.connection_ids, ids.slice(10));
    assert.equal(r.tasks[0]?.attempt, 1, 'not attempted yet: the same attempt');
    assert.equal(r.tasks[0]?.not_before, undefined);
  });

  it('throws when it has no time for even one post, so that Lambda runs the shard again', async () => {
    const ids = idsOf(5);
    const r = room(ids, { pageSize: 5, threshold: 1, shardSize: 50 });
    await assert.rejects(
      runFanOutTask(r.deps, taskOf(ids), silent, { remainingMs: () => 1_000 }),
      /time ran short before 5 posts/,
    );
    assert.deepEqual(r.posted, []);
    assert.deepEqual(r.tasks, []);
  });
});

function taskOf(ids: string[]): FanOutTask {
  return {
    v: 1,
    ...message,
    frame,
    dispatched_at: 0,
    shard: 0,
    connection_ids: ids,
    attempt: 1,
    concurrency: 8,
  };
}

describe('the fan-out tier: tasks', () => {
  const task = taskOf(['a']);

  it('a task is taken only with the frame of the message it names', () => {
    assert.equal(parseFanOutTask(task).seq, 7);
    const forged = (change: Record<string, unknown>) =>
      parseFanOutTask({ ...task, frame: JSON.stringify({ ...JSON.parse(frame), ...change }) });
    assert.throws(() => forged({ room_id: 'elsewhere' }), /not the message/);
    assert.throws(() => forged({ seq: 8 }), /not the message/);
    assert.throws(() => forged({ action: 'presence' }), /not the message/);
    assert.throws(() => parseFanOutTask({ ...task, frame: 'not json' }), /not JSON/);
    assert.throws(() => parseFanOutTask({ ...task, attempt: 4 }), /attempt/);
    assert.throws(() => parseFanOutTask({ ...task, connection_ids: [] }), /connection_ids/);
  });
});
