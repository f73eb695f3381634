import type { AwsCredentialIdentity } from '@smithy/types';
import type { Config } from './config.ts';
import { type DeliverySummary, managementEndpoint } from './delivery.ts';
import type { Log, WebSocketEvent } from './invocation.ts';
import { METRIC } from './metrics.ts';
import { postToAll, type RoomDeps } from './rooms.ts';
import * as z from './zod.ts';

/**
 * The fan-out tier: a message to a room with more connections than the threshold is posted by fan-out workers,
 * in parallel, instead of by the one invocation that stored it. The sender reads the room's connection ids (the
 * strongly consistent room query every broadcast makes, page by page) and hands each shard of them, with the
 * frame, to a worker invocation (Lambda's asynchronous `Event` invocation) as soon as the shard is full, so the
 * first workers post while the sender still reads. A worker posts to its shard with the rules of every broadcast
 * (src/rooms.ts): only a 410 prunes, past the connect grace; throttling and 5xx are retried by the client; a
 * timed-out post is never sent again.
 *
 * What can go wrong, and what happens (docs/protocol.md, "Delivery"):
 * - Lambda refuses a shard (after the SDK's retries): the sender posts to that shard itself.
 * - Posts in a shard fail after the client's retries (throttling, 5xx that lasted): the worker hands just those
 *   connections to a new worker invocation, which waits a back-off first, up to SHARD_ATTEMPTS in all.
 * - A worker fails (crash, timeout, that hand-off refused): Lambda runs the whole shard again (two retries by
 *   default), so no connection of the shard misses the message; those already posted to get it twice, which the
 *   client drops by its `seq`. A shard whose retries all fail goes to the worker's on-failure destination.
 */

/** One worker invocation's work: a frame and the connections of one shard of its room. */
export interface FanOutTask {
  v: 1;
  room_id: string;
  /** The frame as every connection gets it (JSON text). */
  frame: string;
  seq: number;
  message_id: string;
  /** When the sender handed the shard over (epoch ms): a worker's queue delay is measured from here. */
  dispatched_at: number;
  /** The shard's number in its message (0-based), for logs. */
  shard: number;
  connection_ids: string[];
  /** 1 for the sender's hand-off; then one more for each hand-off of posts that failed. */
  attempt: number;
  /** A retried shard posts no earlier than this (epoch ms): the back-off between attempts. */
  not_before?: number;
  /** The stage's @connections endpoint, as the sender resolved it. */
  endpoint: string;
}

/** Hand-offs of one shard's failed posts, first included. */
const SHARD_ATTEMPTS = 3;
/** The wait before a retried shard posts: this times its attempt number before (1 s, then 2 s). */
const SHARD_RETRY_DELAY_MS = 1_000;
/** Shards a sender hands over at once (each one is an Invoke call). */
const DISPATCH_CONCURRENCY = 8;
/**
 * Largest task payload. Lambda takes 1 MB for an asynchronous invocation (256 KB before late 2025); a shard stays
 * under the older limit, and one that would not (very long ids, a large frame) is split in two.
 */
const MAX_TASK_BYTES = 256 * 1024;

const taskSchema = z.object({
  v: z.literal(1),
  room_id: z.string().check(z.minLength(1)),
  frame: z.string().check(z.minLength(2)),
  seq: z.number().check(z.int(), z.positive()),
  message_id: z.string().check(z.minLength(1)),
  dispatched_at: z.number(),
  shard: z.number().check(z.int(), z.nonnegative()),
  connection_ids: z.array(z.string().check(z.minLength(1), z.maxLength(256))).check(z.minLength(1)),
  attempt: z.number().check(z.int(), z.positive(), z.maximum(SHARD_ATTEMPTS)),
  not_before: z.optional(z.number()),
  endpoint: z.url(),
});

/** A worker's event, checked: anything else is a bug or a stranger, and is refused before any post. */
export function parseFanOutTask(event: unknown): FanOutTask {
  const parsed = taskSchema.safeParse(event);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new TypeError(`not a fan-out task: ${problems.join('; ')}`);
  }
  return parsed.data as FanOutTask;
}

/** Queues an asynchronous invocation; resolves once Lambda accepted it (202), rejects with Lambda's error. */
export interface WorkerInvoker {
  invoke(functionName: string, payload: string): Promise<void>;
}

export interface LambdaInvokerOptions {
  region: string;
  credentials?: AwsCredentialIdentity;
  /** Another transport for the SDK's client: the local stack passes the emulator's in-process Invoke API. */
  requestHandler?: unknown;
}

/**
 * Lambda's Invoke API through the SDK's `LambdaClient`, built on first use: the client is loaded only by a
 * container that meets a room above the threshold, so the send-message bundle of a deployment with small rooms
 * does not carry it into every cold start (the bundler splits it into a chunk of its own).
 */
export function lambdaInvoker(options: LambdaInvokerOptions): WorkerInvoker {
  let ready: Promise<(functionName: string, payload: Uint8Array) => Promise<unknown>> | undefined;
  const load = async () => {
    const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
    const client = new LambdaClient({
      region: options.region,
      ...(options.credentials && { credentials: options.credentials }),
      ...(options.requestHandler !== undefined && {
        requestHandler: options.requestHandler as never,
      }),
    });
    return (functionName: string, payload: Uint8Array) =>
      client.send(
        new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: payload }),
      );
  };
  return {
    async invoke(functionName, payload) {
      ready ??= load();
      ready.catch(() => {
        ready = undefined;
      });
      await (await ready)(functionName, encoder.encode(payload));
    },
  };
}

/** What the tier uses of the handlers' dependencies (route.ts's HandlerDeps has all of it). */
export interface FanOutDeps extends RoomDeps {
  config: RoomDeps['config'] & Pick<Config, 'fanOutTier'>;
  /** Present when the tier is configured. */
  workerInvoker?: WorkerInvoker;
}

export interface RoomMessageRef {
  room_id: string;
  seq: number;
  message_id: string;
}

export type RoomDelivery =
  | ({ path: 'direct' } & DeliverySummary & { pruned: number })
  | {
      path: 'workers';
      /** Connections handed to workers (or posted by the sender when a hand-off failed). */
      connections: number;
      shards: number;
      /** Shards Lambda refused, posted by the sender. */
      dispatchFailures: number;
      durationMs: number;
    };

/**
 * Delivers a stored message's frame to every connection of its room: by the sender itself (the direct path)
 * while the room has at most the tier's threshold of connections or no tier is configured, otherwise through
 * fan-out workers. Either way the room is read once, strongly consistent, as every broadcast reads it.
 */
export async function deliverToRoom(
  deps: FanOutDeps,
  event: WebSocketEvent,
  log: Log,
  message: RoomMessageRef,
  frame: string,
): Promise<RoomDelivery> {
  const endpoint = managementEndpoint(deps.config, event);
  const pages = deps.connections.roomConnectionIds(message.room_id);
  const tier = deps.config.fanOutTier;
  const invoker = deps.workerInvoker;
  const roomId = message.room_id;
  if (!tier || !invoker) {
    return { path: 'direct', ...(await postToAll(deps, endpoint, log, pages, frame, { roomId })) };
  }
  const started = performance.now();
  // Read until the room proves bigger than the threshold; most rooms end first, in one page.
  const iterator = pages[Symbol.asyncIterator]();
  const head: string[] = [];
  for (;;) {
    if (head.length > tier.threshold) break;
    const next = await iterator.next();
    if (next.done) {
      return { path: 'direct', ...(await postToAll(deps, endpoint, log, head, frame, { roomId })) };
    }
    head.push(...next.value);
  }

  const shards = shardsOf(head, iterator, tier.shardSize);
  let connections = 0;
  let count = 0;
  let dispatchFailures = 0;
  const dispatchedAt = deps.now().getTime();
  const handOver = async (ids: string[], shard: number): Promise<void> => {
    const task: FanOutTask = {
      v: 1,
      room_id: roomId,
      frame,
      seq: message.seq,
      message_id: message.message_id,
      dispatched_at: dispatchedAt,
      shard,
      connection_ids: ids,
      attempt: 1,
      endpoint,
    };
    try {
      for (const payload of payloadsOf(task)) await invoker.invoke(tier.workerFunction, payload);
    } catch (error) {
      // Lambda did not take the shard (after the SDK's retries): the sender posts to it, as it would without
      // workers. A split task whose first half was taken may post that half twice; the client drops the copy.
      dispatchFailures++;
      deps.metrics.count(METRIC.fanOutDispatchFailures);
      log.warn('shard not handed to a worker; posting it here', {
        room_id: roomId,
        shard,
        connections: ids.length,
        error: error as Error,
      });
      await postToAll(deps, endpoint, log, ids, frame, { roomId });
    }
  };
  const dispatcher = async (): Promise<void> => {
    for (let next = await shards.next(); !next.done; next = await shards.next()) {
      const shard = count++;
      connections += next.value.length;
      await handOver(next.value, shard);
    }
  };
  const results = await Promise.allSettled(Array.from({ length: DISPATCH_CONCURRENCY }, dispatcher));
  const failure = results.find((result) => result.status === 'rejected');
  deps.metrics.count(METRIC.fanOutShards, count);
  if (failure) throw failure.reason;
  return {
    path: 'workers',
    connections,
    shards: count,
    dispatchFailures,
    durationMs: Math.round(performance.now() - started),
  };
}

/** The ids read so far, then the rest of the room's pages, in shards of `size`; one reader at a time. */
function shardsOf(
  head: string[],
  rest: AsyncIterator<string[]>,
  size: number,
): { next(): Promise<IteratorResult<string[]>> } {
  const pending = [...head];
  let ended = false;
  let reading: Promise<IteratorResult<string[]>> | undefined;
  const take = async (): Promise<IteratorResult<string[]>> => {
    while (!ended && pending.length < size) {
      const page = await rest.next();
      if (page.done) ended = true;
      else pending.push(...page.value);
    }
    if (pending.length === 0) return { done: true, value: undefined };
    return { done: false, value: pending.splice(0, size) };
  };
  return {
    // Dispatchers ask at once; each waits for the one before it, so pages are read in order, once.
    next() {
      const result = (reading ?? Promise.resolve()).then(take, take);
      reading = result;
      return result;
    },
  };
}

/** The task as JSON payloads under MAX_TASK_BYTES: itself, or its connections split in halves until they fit. */
function payloadsOf(task: FanOutTask): string[] {
  const payload = JSON.stringify(task);
  if (Buffer.byteLength(payload) <= MAX_TASK_BYTES) return [payload];
  const ids = task.connection_ids;
  if (ids.length === 1) throw new RangeError(`one connection's task is ${Buffer.byteLength(payload)} bytes`);
  const half = Math.ceil(ids.length / 2);
  return [
    ...payloadsOf({ ...task, connection_ids: ids.slice(0, half) }),
    ...payloadsOf({ ...task, connection_ids: ids.slice(half) }),
  ];
}

export interface ShardSummary extends DeliverySummary {
  pruned: number;
  /** Connections handed to another worker invocation because their posts failed. */
  handedOn: number;
}

/**
 * A worker's run: waits out its back-off (a retried shard), posts the frame to the shard's connections, and hands
 * the posts that failed (not timed out) to a new invocation while attempts remain. Throws only when that hand-off
 * is refused, so that Lambda runs the whole shard again rather than lose those posts.
 */
export async function runFanOutTask(
  deps: FanOutDeps,
  task: FanOutTask,
  log: Log,
  { sleep = defaultSleep }: { sleep?: (ms: number) => Promise<void> } = {},
): Promise<ShardSummary> {
  const wait = (task.not_before ?? 0) - deps.now().getTime();
  if (wait > 0) await sleep(Math.min(wait, SHARD_RETRY_DELAY_MS * SHARD_ATTEMPTS));
  if (task.attempt === 1) {
    deps.metrics.milliseconds(
      METRIC.fanOutQueueDelay,
      Math.max(0, deps.now().getTime() - task.dispatched_at),
    );
  }
  const tier = deps.config.fanOutTier;
  const invoker = deps.workerInvoker;
  const canHandOn = task.attempt < SHARD_ATTEMPTS && tier !== undefined && invoker !== undefined;
  const failed: string[] = [];
  const summary = await postToAll(
    deps,
    deps.config.managementEndpoint ?? task.endpoint,
    log,
    task.connection_ids,
    task.frame,
    { roomId: task.room_id, ...(canHandOn && { onFailed: (id: string) => failed.push(id) }) },
  );
  let handedOn = 0;
  if (failed.length > 0 && canHandOn) {
    const retry: FanOutTask = {
      ...task,
      connection_ids: failed,
      attempt: task.attempt + 1,
      not_before: deps.now().getTime() + SHARD_RETRY_DELAY_MS * task.attempt,
    };
    for (const payload of payloadsOf(retry)) await invoker.invoke(tier.workerFunction, payload);
    handedOn = failed.length;
    deps.metrics.count(METRIC.fanOutShardRetries);
  }
  return { ...summary, handedOn };
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const encoder = new TextEncoder();
