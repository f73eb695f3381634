import { setTimeout as delay } from 'node:timers/promises';
import type { AwsCredentialIdentity } from '@smithy/types';
import { type Config, ConfigError } from './config.ts';
import type { DeliverySummary } from './delivery.ts';
import type { Log } from './invocation.ts';
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
  /** Posts this worker keeps in flight: its share of FANOUT_TIER_CONCURRENCY. */
  concurrency: number;
}

/** Hand-offs of one shard's failed posts, first included. */
const SHARD_ATTEMPTS = 3;
/** The wait before a retried shard posts: this times its attempt number before (1 s, then 2 s). */
const SHARD_RETRY_DELAY_MS = 1_000;
/** Limits of one Invoke call: it normally answers 202 in tens of milliseconds. */
const INVOKE_CONNECT_TIMEOUT_MS = 1_000;
const INVOKE_TIMEOUT_MS = 3_000;
/** Shards a sender hands over at once (each one is an Invoke call). */
const DISPATCH_CONCURRENCY = 8;
/**
 * Largest task payload. Lambda takes 1 MB for an asynchronous invocation (256 KB before late 2025); a shard stays
 * well under the older limit, so that Lambda's record of a shard it gives up on (the task and an envelope) still
 * fits a 256 KiB SQS message on the on-failure queue. One that would not (very long ids, a large frame) is split.
 */
const MAX_TASK_BYTES = 192 * 1024;

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
  concurrency: z.number().check(z.int(), z.positive(), z.maximum(1000)),
});

/** The frame a task carries must be the message it names: a worker posts nothing else. */
const frameSchema = z.object({
  action: z.literal('message'),
  room_id: z.string(),
  seq: z.number(),
  message_id: z.string(),
});

/** A worker's event, checked: anything else is a bug or a stranger, and is refused before any post. */
export function parseFanOutTask(event: unknown): FanOutTask {
  const parsed = taskSchema.safeParse(event);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new TypeError(`not a fan-out task: ${problems.join('; ')}`);
  }
  const task = parsed.data as FanOutTask;
  let frame: unknown;
  try {
    frame = JSON.parse(task.frame);
  } catch {
    throw new TypeError('not a fan-out task: its frame is not JSON');
  }
  const message = frameSchema.safeParse(frame);
  if (
    !message.success ||
    message.data.room_id !== task.room_id ||
    message.data.seq !== task.seq ||
    message.data.message_id !== task.message_id
  ) {
    throw new TypeError("not a fan-out task: its frame is not the message of the task's room and seq");
  }
  return task;
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
      // An Invoke that hangs must not hold a hand-off until the sender's own timeout: after this it fails, and
      // the sender posts the shard itself (if Lambda had taken it after all, its connections get two copies).
      requestHandler: (options.requestHandler as never) ?? {
        connectionTimeout: INVOKE_CONNECT_TIMEOUT_MS,
        requestTimeout: INVOKE_TIMEOUT_MS,
      },
    });
    return (functionName: string, payload: Uint8Array) =>
      client.send(
        new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: payload }),
      );
  };
  return {
    async invoke(functionName, payload) {
      // A load that failed (the chunk could not be read) is tried again by the next invoke, not remembered.
      ready ??= load().catch((error: unknown) => {
        ready = undefined;
        throw error;
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
  /** How a retried shard waits out its back-off (tests replace it). Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
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
      /** The room's connections: handed to workers, or posted by the sender when Lambda refused a hand-off. */
      connections: number;
      shards: number;
      /** Worker invocations Lambda took (a shard whose payload is too big for one is split). */
      invocations: number;
      /** Connections the sender posted to itself, after Lambda refused a hand-off. */
      postedBySender: number;
      /** From the room's first read to the last hand-off. */
      durationMs: number;
    };

/**
 * Delivers a stored message's frame to every connection of its room: by the sender itself (the direct path)
 * while the room has at most the tier's threshold of connections or no tier is configured, otherwise through
 * fan-out workers. Either way the room is read once, strongly consistent, as every broadcast reads it.
 */
export async function deliverToRoom(
  deps: FanOutDeps,
  endpoint: string,
  log: Log,
  message: RoomMessageRef,
  frame: string,
): Promise<RoomDelivery> {
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
  let invocations = 0;
  // Shards Lambda did not take: once one is refused (after the SDK's retries), Lambda is unlikely to take the
  // next, so the rest of the room goes here too, and the sender posts to all of it with one fan-out, at
  // FANOUT_CONCURRENCY posts in flight, as it would without workers.
  const refused: string[] = [];
  let dispatchFailures = 0;
  const handOver = async (ids: string[], shard: number): Promise<void> => {
    if (dispatchFailures > 0) {
      refused.push(...ids);
      return;
    }
    const task: FanOutTask = {
      v: 1,
      room_id: roomId,
      frame,
      seq: message.seq,
      message_id: message.message_id,
      dispatched_at: deps.now().getTime(),
      shard,
      connection_ids: ids,
      attempt: 1,
      concurrency: shareOf(tier, deps.config.fanOutConcurrency, shards.seen, shard),
    };
    const payloads = payloadsOf(task);
    let taken = 0;
    try {
      for (const payload of payloads) {
        await invoker.invoke(tier.workerFunction, payload);
        taken++;
      }
      invocations += taken;
    } catch (error) {
      invocations += taken;
      dispatchFailures++;
      log.warn('shard not handed to a worker; the sender posts the rest of the room', {
        room_id: roomId,
        shard,
        connections: ids.length,
        error: error as Error,
      });
      // The halves of a split task Lambda did take are posted by their workers; a timed-out Invoke may have been
      // taken too, and then its connections get two copies, which readers drop by seq.
      for (const payload of payloads.slice(taken)) {
        refused.push(...(JSON.parse(payload) as FanOutTask).connection_ids);
      }
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
  deps.metrics.count(METRIC.fanOutShards, invocations);
  if (dispatchFailures > 0) deps.metrics.count(METRIC.fanOutDispatchFailures, dispatchFailures);
  const failure = results.find((result) => result.status === 'rejected');
  const posted =
    refused.length > 0
      ? await postToAll(deps, endpoint, log, refused, frame, {
          roomId,
          durationMetric: METRIC.fanOutShardDuration,
        })
      : undefined;
  if (failure) throw failure.reason;
  const durationMs = Math.round(performance.now() - started);
  deps.metrics.milliseconds(METRIC.fanOutDuration, durationMs);
  return {
    path: 'workers',
    connections,
    shards: count,
    invocations,
    postedBySender: posted?.attempted ?? 0,
    durationMs,
  };
}

/**
 * Shard `shard`'s share of the posts in flight across the message's workers: FANOUT_TIER_CONCURRENCY over the
 * shards, the remainder one each to the first, between 1 and FANOUT_CONCURRENCY. The room's size is what the sender
 * has read so far, which is all of it for a room of one page (about 10,000 connections): a bigger room's first
 * shards take more than their share.
 */
function shareOf(
  tier: NonNullable<Config['fanOutTier']>,
  perInvocation: number,
  roomSize: number,
  shard: number,
): number {
  const shards = Math.max(1, Math.ceil(roomSize / tier.shardSize));
  const share = Math.floor(tier.concurrency / shards) + (shard % shards < tier.concurrency % shards ? 1 : 0);
  return Math.max(1, Math.min(perInvocation, share));
}

/** The ids read so far, then the rest of the room's pages, in shards of `size`; one reader at a time. */
function shardsOf(
  head: string[],
  rest: AsyncIterator<string[]>,
  size: number,
): { next(): Promise<IteratorResult<string[]>>; readonly seen: number } {
  let pending = head;
  let offset = 0;
  let ended = false;
  let seen = head.length;
  let reading: Promise<IteratorResult<string[]>> | undefined;
  const take = async (): Promise<IteratorResult<string[]>> => {
    while (!ended && pending.length - offset < size) {
      const page = await rest.next();
      if (page.done) ended = true;
      else {
        seen += page.value.length;
        pending = pending.slice(offset).concat(page.value);
        offset = 0;
      }
    }
    if (offset >= pending.length) return { done: true, value: undefined };
    const shard = pending.slice(offset, offset + size);
    offset += shard.length;
    return { done: false, value: shard };
  };
  return {
    /** Ids read so far: the whole room once the last page is in. */
    get seen() {
      return seen;
    },
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
  /** Connections not posted to because the invocation's time was running out, handed to another one. */
  handedOnAtDeadline: number;
}

/**
 * A worker stops taking connections of its shard when less than this is left of its time: a post in flight may
 * take up to its own timeout (10 s), and the rest must still be handed on before Lambda ends the invocation, which
 * it would then run again whole, posts that timed out included.
 */
const DEADLINE_MARGIN_MS = 15_000;

/**
 * A worker's run: waits out its back-off (a retried shard), posts the frame to the shard's connections, and hands
 * the posts that failed (not timed out) to a new invocation while attempts remain. With `remainingMs` (the
 * invocation's `getRemainingTimeInMillis`), it also stops taking connections when its time runs short and hands
 * the ones it did not reach to a new invocation. Throws only when a hand-off is refused, or when it could post to
 * nobody before its time ran short, so that Lambda runs the whole shard again rather than lose those posts.
 */
export async function runFanOutTask(
  deps: FanOutDeps,
  task: FanOutTask,
  log: Log,
  { remainingMs }: { remainingMs?: () => number } = {},
): Promise<ShardSummary> {
  const wait = (task.not_before ?? 0) - deps.now().getTime();
  if (wait > 0) await (deps.sleep ?? delay)(Math.min(wait, SHARD_RETRY_DELAY_MS * SHARD_ATTEMPTS));
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
  const endpoint = deps.config.managementEndpoint;
  if (!endpoint) throw new ConfigError('set WEBSOCKET_MANAGEMENT_ENDPOINT for the fan-out worker');
  const ids = task.connection_ids;
  let taken = 0;
  // The shard's ids, until the invocation's time runs short; fanOut pulls them only as posts complete.
  const untilDeadline = function* (): Generator<string> {
    for (; taken < ids.length; taken++) {
      if (remainingMs && remainingMs() < DEADLINE_MARGIN_MS) return;
      yield ids[taken] as string;
    }
  };
  const summary = await postToAll(deps, endpoint, log, untilDeadline(), task.frame, {
    roomId: task.room_id,
    durationMetric: METRIC.fanOutShardDuration,
    concurrency: Math.min(task.concurrency, deps.config.fanOutConcurrency),
    ...(canHandOn && { onFailed: (id: string) => failed.push(id) }),
  });
  const unreached = ids.slice(taken);
  let handedOnAtDeadline = 0;
  if (unreached.length > 0) {
    if (taken === 0 || !tier || !invoker) {
      throw new Error(`the invocation's time ran short before ${unreached.length} posts of the shard`);
    }
    // Not attempted yet: the same attempt, no back-off.
    const rest: FanOutTask = { ...task, connection_ids: unreached };
    for (const payload of payloadsOf(rest)) await invoker.invoke(tier.workerFunction, payload);
    handedOnAtDeadline = unreached.length;
    deps.metrics.count(METRIC.fanOutShardRetries);
    log.warn('shard handed on: the invocation ran short of time', { connections: unreached.length });
  }
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
  return { ...summary, handedOn, handedOnAtDeadline };
}

const encoder = new TextEncoder();
