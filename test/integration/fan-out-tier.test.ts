import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  ApiGatewayManagementApiServiceException,
  ForbiddenException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { AsyncInvocationRecord } from '@roomcast/gateway';
import type { FanOutTask, WorkerInvoker } from '../../src/fan-out.ts';
import type { LocalStack, LocalStackOptions } from '../../src/local/stack.ts';
import { METRIC } from '../../src/metrics.ts';
import type { HandlerDeps } from '../../src/route.ts';
import { client, Recorder } from '../client/support.ts';
import { ChatClient, type Frame, recordingMetrics, startTestStack } from '../support/chat.ts';

/**
 * The fan-out tier through the local stack: rooms above FANOUT_THRESHOLD are posted by fan-out workers that the
 * emulator runs as Lambda runs asynchronous invocations (src/fan-out.ts), invoked through the SDK's
 * InvokeCommand as on AWS. Receivers compare what they got with what was stored; faults that cannot be made for
 * real (a 5xx from API Gateway that outlasts the retries, Lambda refusing an invocation) are injected into the
 * clients the handlers use.
 */

const stacks: LocalStack[] = [];
const sockets: ChatClient[] = [];
after(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  for (const stack of stacks) await stack.close();
});

async function tierStack(
  env: Record<string, string>,
  options: LocalStackOptions = {},
): Promise<LocalStack & { metrics: ReturnType<typeof recordingMetrics>; waits: number[] }> {
  const metrics = recordingMetrics();
  // A retried shard's back-off, recorded instead of waited for.
  const waits: number[] = [];
  const stack = await startTestStack({
    // The failures these tests cause on purpose are asserted, not printed.
    gatewayLogger: { info() {}, warn() {}, error() {} },
    ...options,
    env: { PRESENCE_ENABLED: 'false', ...env },
    depsOverrides: {
      metrics,
      sleep: async (ms) => {
        waits.push(ms);
      },
    },
  });
  stacks.push(stack);
  return Object.assign(stack, { metrics, waits });
}

async function members(stack: LocalStack, room: string, count: number): Promise<ChatClient[]> {
  const joined = await Promise.all(
    Array.from({ length: count }, (_, i) => ChatClient.connect(stack, `${room}-user${i}`, room)),
  );
  sockets.push(...joined);
  return joined;
}

const isMessage = (seq: number) => (frame: Frame) => frame.action === 'message' && frame.seq === seq;

let sent = 0;
/** Sends a message and returns its seq, from the sender's own copy (it is a member of the room). */
async function send(sender: ChatClient, text: string): Promise<number> {
  const id = `c-${++sent}`;
  sender.send({ action: 'sendMessage', message: text, client_msg_id: id });
  const own = await sender.next((frame) => frame.client_msg_id === id || frame.action === 'error', 10_000);
  assert.equal(own.action, 'message', JSON.stringify(own));
  return own.seq as number;
}

/** Every frame of `seq` a socket has received, kept or taken: the sender's own answer excluded. */
async function copiesOf(socket: ChatClient, seq: number): Promise<number> {
  // A ping's pong comes after every frame posted before it was answered: the sentinel that nothing else is on its way.
  socket.send({ action: 'ping' });
  await socket.next((frame) => frame.action === 'pong', 10_000);
  return socket.frames.filter(isMessage(seq)).length;
}

/** Wraps the handlers' worker invoker: `refuse(task)` true makes Lambda's answer a 429 for that task. */
function refusingInvoker(deps: HandlerDeps, refuse: (task: FanOutTask) => boolean): { refused: number } {
  const real = deps.workerInvoker as WorkerInvoker;
  const counts = { refused: 0 };
  deps.workerInvoker = {
    invoke(functionName, payload) {
      if (refuse(JSON.parse(payload) as FanOutTask)) {
        counts.refused++;
        return Promise.reject(
          Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }),
        );
      }
      return real.invoke(functionName, payload);
    },
  };
  return counts;
}

const serverError = () =>
  new ApiGatewayManagementApiServiceException({
    name: 'InternalServerErrorException',
    $fault: 'server',
    $metadata: { httpStatusCode: 500 },
    message: 'injected',
  });

/** Posts to `connectionId` fail `times` times with `error` (default: a 500 that outlasted the client's retries). */
function failingPosts(
  deps: HandlerDeps,
  connectionId: () => string,
  times: number,
  error: () => Error = serverError,
): { failed: number } {
  const real = deps.managementClient;
  const counts = { failed: 0 };
  deps.managementClient = (endpoint) => {
    const management = real(endpoint);
    return new Proxy(management, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return (command: unknown) => {
          if (
            command instanceof PostToConnectionCommand &&
            command.input.ConnectionId === connectionId() &&
            counts.failed < times
          ) {
            counts.failed++;
            return Promise.reject(error());
          }
          return target.send(command as PostToConnectionCommand);
        };
      },
    });
  };
  return counts;
}

/** The connection id of a socket, as the store has it: the one record of its user. */
async function connectionIdOf(stack: LocalStack, user: string): Promise<string> {
  const [id] = await stack.deps.connections.userConnectionIds(user);
  assert.ok(id, `${user} has a connection`);
  return id;
}

describe('the fan-out tier', () => {
  it('a room above the threshold is posted by workers, one shard each; a room at it by its sender', async () => {
    const stack = await tierStack({ FANOUT_THRESHOLD: '3', FANOUT_SHARD_SIZE: '2' });

    const small = await members(stack, 'small', 3);
    const smallSeq = await send(small[0] as ChatClient, 'to three');
    for (const socket of small.slice(1)) await socket.next(isMessage(smallSeq));
    assert.equal(stack.functions.stats.accepted, 0, 'a room at the threshold: no worker');

    const big = await members(stack, 'big', 7);
    const bigSeq = await send(big[0] as ChatClient, 'to seven');
    for (const socket of big.slice(1)) await socket.next(isMessage(bigSeq), 10_000);
    await stack.functions.whenIdle();
    // Seven connections in shards of two: four worker invocations, each posting to its shard once.
    assert.equal(stack.functions.stats.accepted, 4);
    assert.equal(stack.functions.stats.succeeded, 4);
    assert.equal(stack.metrics.totals.get(METRIC.fanOutShards), 4);
    for (const socket of big) assert.equal(await copiesOf(socket, bigSeq), 0, 'no second copy');
    assert.equal(stack.metrics.totals.get(METRIC.deliveriesSucceeded), 3 + 7);
    assert.equal(stack.metrics.totals.get(METRIC.deliveriesFailed) ?? 0, 0);
  });

  it('posts that fail for good are handed to a new worker invocation, which delivers them once', async () => {
    const stack = await tierStack({ FANOUT_THRESHOLD: '1', FANOUT_SHARD_SIZE: '10' });
    const room = await members(stack, 'retry', 4);
    const unlucky = await connectionIdOf(stack, 'retry-user2');
    const injected = failingPosts(stack.deps, () => unlucky, 1);

    const seq = await send(room[0] as ChatClient, 'once, a second later');
    for (const socket of room.slice(1)) await socket.next(isMessage(seq), 10_000);
    await stack.functions.whenIdle();
    assert.equal(injected.failed, 1);
    // The sender's shard, then the unlucky connection's own: two invocations, no Lambda retry.
    assert.equal(stack.functions.stats.accepted, 2);
    assert.equal(stack.functions.stats.retries, 0);
    assert.equal(stack.metrics.totals.get(METRIC.fanOutShardRetries), 1);
    assert.equal(stack.metrics.totals.get(METRIC.deliveriesFailed) ?? 0, 0, 'handed on, not failed');
    // The new invocation waited out its back-off first: about a second after the failure.
    assert.equal(stack.waits.length, 1);
    assert.ok((stack.waits[0] as number) > 500 && (stack.waits[0] as number) <= 1000, `${stack.waits}`);
    for (const socket of room) assert.equal(await copiesOf(socket, seq), 0);
  });

  it('a connection whose posts keep failing is tried three times, a longer wait each time, then counted', async () => {
    const stack = await tierStack({ FANOUT_THRESHOLD: '1', FANOUT_SHARD_SIZE: '10' });
    const room = await members(stack, 'hopeless', 3);
    const unlucky = await connectionIdOf(stack, 'hopeless-user2');
    // Three failures: every attempt the tier makes (the connection's own frames get through afterwards).
    const injected = failingPosts(stack.deps, () => unlucky, 3);

    const seq = await send(room[0] as ChatClient, 'never there');
    await room[1]?.next(isMessage(seq), 10_000);
    await stack.functions.whenIdle();
    assert.equal(injected.failed, 3);
    assert.equal(stack.functions.stats.accepted, 3, 'the shard, then two hand-ons');
    assert.equal(stack.metrics.totals.get(METRIC.fanOutShardRetries), 2);
    assert.equal(
      stack.metrics.totals.get(METRIC.deliveriesFailed),
      1,
      'counted once, after the last attempt',
    );
    assert.equal(stack.waits.length, 2);
    assert.ok((stack.waits[1] as number) > 1000 && (stack.waits[1] as number) <= 2000, `${stack.waits}`);
    assert.equal(await copiesOf(room[2] as ChatClient, seq), 0);
    // The message is in history, where the client's next heartbeat finds it.
    const history = await (room[2] as ChatClient).request({ action: 'getHistory', room_id: 'hopeless' });
    assert.deepEqual(
      (history.messages as Frame[]).map((message) => message.seq),
      [seq],
    );
  });

  it('a refusal that would only repeat (403) is not handed on', async () => {
    const stack = await tierStack({ FANOUT_THRESHOLD: '1', FANOUT_SHARD_SIZE: '10' });
    const room = await members(stack, 'forbidden', 3);
    const unlucky = await connectionIdOf(stack, 'forbidden-user2');
    failingPosts(
      stack.deps,
      () => unlucky,
      1,
      () => new ForbiddenException({ message: 'injected', $metadata: {} }),
    );

    const seq = await send(room[0] as ChatClient, 'not again');
    await room[1]?.next(isMessage(seq), 10_000);
    await stack.functions.whenIdle();
    assert.equal(stack.functions.stats.accepted, 1);
    assert.equal(stack.metrics.totals.get(METRIC.fanOutShardRetries) ?? 0, 0);
    assert.equal(stack.metrics.totals.get(METRIC.deliveriesFailed), 1);
  });

  it('a worker that fails is run again by Lambda: nobody misses the message, and the SDK drops the copies', async () => {
    const stack = await tierStack(
      { FANOUT_THRESHOLD: '1', FANOUT_SHARD_SIZE: '10' },
      { fanOutWorker: { retryDelaysMs: [0, 0] } },
    );
    const room = await members(stack, 'rerun', 3);
    const reader = client(stack.wsUrl, 'rerun-sdk', 'rerun');
    const recorder = new Recorder(reader);
    await reader.room('rerun').ready;
    const unlucky = await connectionIdOf(stack, 'rerun-user2');
    failingPosts(stack.deps, () => unlucky, 1);
    // Lambda refuses the hand-off of the failed post, so the worker fails and Lambda runs its whole shard again.
    const refusals = refusingInvoker(stack.deps, (task) => task.attempt > 1);

    const seq = await send(room[0] as ChatClient, 'at least once');
    await stack.functions.whenIdle();
    assert.equal(refusals.refused, 1);
    assert.equal(stack.functions.stats.retries, 1, 'Lambda ran the shard again');
    assert.equal(stack.functions.stats.succeeded, 1);
    // The unlucky connection gets it on the second run; the others were posted to on both runs.
    assert.equal(await copiesOf(room[2] as ChatClient, seq), 1);
    assert.equal(await copiesOf(room[1] as ChatClient, seq), 2);
    // The reader's own message: its answer comes after both copies that were posted to the reader before it.
    const sentinel = await reader.send('sentinel');
    await recorder.waitFor('message', (message) => message.seq === sentinel.seq);
    assert.deepEqual(
      recorder.of('message').map((message) => message.seq),
      [seq, sentinel.seq],
      'the application sees each message once',
    );
    reader.close();
  });

  it('a shard Lambda refuses is posted by the sender itself', async () => {
    const stack = await tierStack({ FANOUT_THRESHOLD: '1', FANOUT_SHARD_SIZE: '2' });
    const room = await members(stack, 'refused', 5);
    refusingInvoker(stack.deps, (task) => task.shard === 1);

    const seq = await send(room[0] as ChatClient, 'still delivered');
    for (const socket of room.slice(1)) await socket.next(isMessage(seq), 10_000);
    await stack.functions.whenIdle();
    assert.equal(stack.metrics.totals.get(METRIC.fanOutDispatchFailures), 1);
    // Shard 0 went to a worker; shard 2 did too if its hand-off began before shard 1 was refused, else the sender
    // posted it with the rest.
    assert.ok(stack.functions.stats.accepted >= 1 && stack.functions.stats.accepted <= 2);
    for (const socket of room) assert.equal(await copiesOf(socket, seq), 0);
  });

  it('a malformed task posts nothing and ends at the on-failure destination', async () => {
    const records: AsyncInvocationRecord[] = [];
    const stack = await tierStack(
      {},
      { fanOutWorker: { retryDelaysMs: [0, 0], onFailure: (record) => records.push(record) } },
    );
    stack.functions.invoke('fan-out-worker', { v: 1, room_id: 'x', connection_ids: ['a'] });
    // Well-formed, but its frame is not the message it names: a worker posts nothing else.
    const forged = { action: 'message', room_id: 'elsewhere', seq: 7, message_id: 'm7' };
    stack.functions.invoke('fan-out-worker', {
      v: 1,
      room_id: 'x',
      frame: JSON.stringify(forged),
      seq: 7,
      message_id: 'm7',
      dispatched_at: 0,
      shard: 0,
      connection_ids: ['a'],
      attempt: 1,
      concurrency: 8,
    });
    await stack.functions.whenIdle();
    assert.equal(records.length, 2);
    assert.match(JSON.stringify(records[1]?.responsePayload), /not the message/);
    assert.equal(records[0]?.requestContext.condition, 'RetriesExhausted');
    assert.equal(records[0]?.requestContext.approximateInvokeCount, 3);
    assert.match(JSON.stringify(records[0]?.responsePayload), /not a fan-out task/);
    assert.equal(stack.metrics.totals.get(METRIC.deliveriesSucceeded) ?? 0, 0);
  });
});
