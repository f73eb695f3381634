import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../src/local/stack.ts';
import { METRIC, type MetricName } from '../../src/metrics.ts';
import { ChatClient, eventually, putOldRecord, recordingMetrics, startTestStack } from '../support/chat.ts';
import { INTERNAL, type ScriptedResponse, THROTTLED } from '../support/connections-api-stub.ts';
import {
  type FaultProxy,
  FORWARD,
  HANG,
  type ProxiedRequest,
  type ProxyDecision,
  startFaultProxy,
} from '../support/fault-proxy.ts';

/**
 * The @connections API answers 429 (throttled) and 500 for a while, or not at all, through a proxy in front of the
 * gateway's management API (handlers reach it over HTTP, as on Lambda): the SDK retries with backoff, a post that
 * never answers times out, what still fails is counted as a failed delivery, and no record is pruned for it (only
 * 410 Gone prunes).
 */

let proxy: FaultProxy;
let stack: LocalStack;
const metrics = recordingMetrics();
const clients: ChatClient[] = [];
/** Per connection id, the responses of its next posts; an exhausted script forwards to the gateway. */
const script = new Map<string, ScriptedResponse[]>();
let storm: ScriptedResponse | undefined;
/** Connection ids whose posts are never answered. */
const unanswered = new Set<string>();

const PREFIX = '/dev/@connections/';
const connectionIdOf = (request: ProxiedRequest) =>
  request.path.startsWith(PREFIX) ? decodeURIComponent(request.path.slice(PREFIX.length)) : '';
const respond = (step: ScriptedResponse): ProxyDecision => ({
  kind: 'respond',
  status: step.status,
  headers: step.errorType ? { 'x-amzn-ErrorType': step.errorType } : {},
  body: step.body ?? '',
});
const postsTo = (id: string) => proxy.requests.filter((request) => connectionIdOf(request) === id);
const total = (name: MetricName) => metrics.totals.get(name) ?? 0;

async function join(user: string, room: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack, user, room);
  clients.push(client);
  return client;
}

async function connectionIdOfUser(user: string): Promise<string> {
  const [id] = await stack.deps.connections.userConnectionIds(user);
  assert.ok(id, `no connection for ${user}`);
  return id;
}

before(async () => {
  proxy = await startFaultProxy();
  proxy.decide = (request) => {
    if (unanswered.has(connectionIdOf(request))) return HANG;
    if (storm) return respond(storm);
    const steps = script.get(connectionIdOf(request));
    const step = steps?.shift();
    return step ? respond(step) : FORWARD;
  };
  stack = await startTestStack({
    env: { WEBSOCKET_MANAGEMENT_ENDPOINT: `${proxy.url}/dev`, PRESENCE_ENABLED: 'false' },
    managementTransport: 'http',
    depsOverrides: { metrics },
  });
  proxy.target = new URL(stack.managementEndpoint).origin;
});
after(async () => {
  storm = undefined;
  await Promise.all(clients.map((client) => client.close()));
  // First the proxy: posts it holds fail at once instead of at their timeout, so the gateway drains sooner.
  await proxy.close();
  await stack.close();
});

describe('@connections answering 429 and 500', () => {
  it('retries with backoff: throttled posts get through once, failing ones are counted and their records kept', async (t) => {
    const alice = await join('alice', 'r');
    const bob = await join('bob', 'r');
    const carol = await join('carol', 'r');
    const bobId = await connectionIdOfUser('bob');
    const carolId = await connectionIdOfUser('carol');
    script.set(bobId, [THROTTLED, THROTTLED]);
    script.set(carolId, [INTERNAL, INTERNAL, INTERNAL]);
    // Connections of other API Gateway nodes, as far as this test can tell: records whose posts the proxy answers.
    const throttledIds = Array.from({ length: 8 }, (_, i) => `Throttled${i}AAAAA=`);
    const failingIds = Array.from({ length: 8 }, (_, i) => `Failing${i}AAAAAAA=`);
    for (const id of [...throttledIds, ...failingIds]) {
      await putOldRecord(stack, { connectionId: id, roomId: 'r', userId: `remote-${id}` });
      script.set(
        id,
        throttledIds.includes(id) ? [THROTTLED, THROTTLED, { status: 200 }] : Array(3).fill(INTERNAL),
      );
    }
    const before = { ok: total(METRIC.deliveriesSucceeded), failed: total(METRIC.deliveriesFailed) };

    alice.send({ action: 'sendMessage', message: 'through the storm' });
    const own = await alice.next(() => true, 10_000);
    assert.deepEqual(await bob.next(() => true, 10_000), own, 'bob gets it after two 429s');
    // The fan-out is over once its deliveries are counted.
    await eventually(
      async () => total(METRIC.deliveriesFailed) - before.failed,
      (failed) => failed === 1 + failingIds.length,
      10_000,
    );
    assert.equal(total(METRIC.deliveriesSucceeded) - before.ok, 2 + throttledIds.length);
    assert.equal(total(METRIC.staleConnectionsPruned), 0);

    // Three attempts each (the SDK's maxAttempts), then it gave up.
    for (const id of [bobId, carolId, ...throttledIds, ...failingIds])
      assert.equal(postsTo(id).length, 3, id);
    // With backoff: the SDK waits a random fraction of base·2ⁿ, base 50 ms for 5xx and 1 s for throttling (SDK
    // 3.1169), so the mean gaps are ~40 ms and ~750 ms; without backoff they would be a loopback round trip.
    const meanGap = (ids: string[]) => {
      const gaps = ids.flatMap((id) => {
        const at = postsTo(id).map((request) => request.at);
        return at.slice(1).map((time, i) => time - (at[i] as number));
      });
      return gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length;
    };
    const throttledGap = meanGap([bobId, ...throttledIds]);
    const failingGap = meanGap([carolId, ...failingIds]);
    t.diagnostic(
      `mean gap between attempts: ${throttledGap.toFixed(0)} ms (429), ${failingGap.toFixed(0)} ms (500)`,
    );
    assert.ok(throttledGap > 200, `mean gap between throttled attempts ${throttledGap.toFixed(0)} ms`);
    assert.ok(failingGap > 10, `mean gap between failing attempts ${failingGap.toFixed(0)} ms`);

    // Nothing was pruned for it: only 410 Gone removes a record.
    for (const id of [carolId, ...throttledIds, ...failingIds]) {
      assert.ok(await stack.deps.connections.get(id), `record ${id} was removed`);
    }
    await carol.expectOnlyPong();
    for (const id of [...throttledIds, ...failingIds]) await stack.deps.connections.remove(id);
  });

  it('recovers when the storm passes: every connection is served again and nothing was pruned', async () => {
    const [alice, bob, carol] = clients as [ChatClient, ChatClient, ChatClient];
    const prunedBefore = total(METRIC.staleConnectionsPruned);
    const failedBefore = total(METRIC.deliveriesFailed);
    storm = { status: 429, errorType: 'LimitExceededException', body: '{"message":"Rate exceeded"}' };
    alice.send({ action: 'sendMessage', message: 'lost in the storm?', client_msg_id: 'storm-1' });
    await eventually(
      async () => total(METRIC.deliveriesFailed) - failedBefore,
      (failed) => failed === 3,
      10_000,
    );
    storm = undefined;

    alice.send({ action: 'sendMessage', message: 'after the storm' });
    const own = await alice.next(() => true, 10_000);
    assert.equal(own.message, 'after the storm');
    for (const member of [bob, carol]) assert.deepEqual(await member.next(), own);
    assert.equal(total(METRIC.staleConnectionsPruned), prunedBefore);
    assert.equal((await stack.deps.connections.roomMembers('r')).length, 3);

    // The message sent during the storm was stored: the sender's retry gets it, the room reads it from history.
    alice.send({ action: 'sendMessage', message: 'lost in the storm?', client_msg_id: 'storm-1' });
    const retried = await alice.next();
    assert.equal(retried.message, 'lost in the storm?');
    bob.send({ action: 'getHistory', limit: 2 });
    const page = await bob.next();
    assert.deepEqual(
      (page.messages as Array<{ message_id: string }>).map((message) => message.message_id),
      [own.message_id, retried.message_id],
    );
    await Promise.all([alice, bob, carol].map((client) => client.expectOnlyPong()));
  });

  it('times out a post that is never answered, without holding up the room', async (t) => {
    const [alice, bob] = clients as [ChatClient, ChatClient];
    // More posts than the 64 pooled sockets the @connections client used to have: each unanswered post held one.
    const lost = 'LostBehindAWall=';
    await putOldRecord(stack, { connectionId: lost, roomId: 'r', userId: 'lost' });
    unanswered.add(lost);
    const failedBefore = total(METRIC.deliveriesFailed);
    let slowest = 0;
    for (let i = 0; i < 80; i++) {
      const started = performance.now();
      alice.send({ action: 'sendMessage', message: `into the void ${i}` });
      assert.equal((await bob.next(() => true, 5000)).message, `into the void ${i}`);
      slowest = Math.max(slowest, performance.now() - started);
      await alice.next();
    }
    t.diagnostic(`slowest delivery to the room with 80 posts hanging: ${slowest.toFixed(0)} ms`);
    assert.ok(slowest < 1000, `a delivery took ${slowest.toFixed(0)} ms`);
    // Each hanging post times out (2 s an attempt), is counted as failed, and the record stays.
    await eventually(
      async () => total(METRIC.deliveriesFailed) - failedBefore,
      (failed) => failed >= 1,
      15_000,
    );
    assert.ok(await stack.deps.connections.get(lost), 'a connection that does not answer is not pruned');
    unanswered.clear();
    await stack.deps.connections.remove(lost);
  });
});
