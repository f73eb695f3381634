/**
 * A model of send → last delivery for one message to a room of N on AWS, for the direct path (the send-message
 * invocation posts to every member) and the fan-out tier (src/fan-out.ts: shards handed to worker invocations).
 *
 * Closed form (`modelDelivery`):
 *   inbound (API Gateway → Lambda, the sender's record, the message stored)
 *   + room read: pages of the strongly consistent subscriptions query (~100-byte items, 1 MB a page), each a query
 *     round trip plus DynamoDB's and the sender's time per item (the SDK's parsing, at the sender's vCPU share)
 *   + direct: posting, max(N / concurrency × round trip, N × CPU per post ÷ the sender's vCPU share)
 *   + tier: the hand-offs (an Invoke round trip each, 8 in flight; the last one after the last page), a worker's
 *     start, and one shard's posting, max(shard / concurrency × round trip, shard × CPU per post ÷ the worker's
 *     vCPU share), in waves when fewer workers may run than there are shards,
 *   bounded below by API Gateway's account throttle on @connections calls (a token bucket: `burst` at once, then
 *   `ratePerSecond`). Lambda gives CPU in proportion to memory: 1,769 MB is one vCPU.
 *
 * When the posts asked for exceed the throttle, the bound says nothing about what the 429s do: `simulateThrottle`
 * plays the posts against the token bucket with the SDK's retries (3 attempts, throttling back-off U(0, 1 s × 2^i),
 * a retry budget of 500 per client at 5 a retry, +1 per success) and the tier's hand-on of failed posts (a new
 * worker, 1 s then 2 s later, 3 attempts in all): when the last post lands, and how many never do.
 *
 * `npx tsx bench/model.ts [--post-rtt-ms 15] [--cpu-per-post-us 124] [--rate 10000] [--burst 5000]
 * [--raised-rate 50000] [--worker-concurrency K] [--threshold 1000] [--n 1000,10000,100000] [--json]` prints the
 * inputs and the outputs.
 */
import { parseArgs } from 'node:util';
import {
  DEFAULT_FAN_OUT_CONCURRENCY,
  DEFAULT_FAN_OUT_THRESHOLD,
  DEFAULT_FAN_OUT_TIER_CONCURRENCY,
} from '../src/config.ts';

interface Throttle {
  ratePerSecond: number;
  burst: number;
}

export interface ModelInputs {
  /** PostToConnection round trip from a Lambda, ms. */
  postRttMs: number;
  /** CPU per post at one vCPU, µs (bench/micro/post-to-connection.ts, "roomcast (as deployed)"). */
  cpuPerPostUs: number;
  /** Posts in flight per invocation (FANOUT_CONCURRENCY). */
  concurrency: number;
  /**
   * Posts in flight across a message's workers (FANOUT_TIER_CONCURRENCY), shared equally among its shards, each
   * between 1 and `concurrency`; Infinity: every worker at `concurrency` (unpaced).
   */
  tierConcurrency: number;
  /** FANOUT_SHARD_SIZE. */
  shardSize: number;
  /** FANOUT_THRESHOLD: rooms above it go through workers (the tier only). */
  threshold: number;
  /** Hand-offs in flight at once (src/fan-out.ts). */
  dispatchConcurrency: number;
  /** Lambda Invoke (`Event`) round trip, ms. Assumption. */
  invokeRttMs: number;
  /** From Invoke's 202 to the worker's handler running (Lambda's queue, a warm container), ms. Assumption. */
  workerStartMs: number;
  /** API Gateway → the send-message handler, ms. Assumption. */
  apiToLambdaMs: number;
  /** The sender's record read and the message stored (five sequential DynamoDB calls with a client_msg_id), ms. */
  storeMs: number;
  itemBytes: number;
  pageBytes: number;
  /** One Query round trip, the items aside, ms. Assumption. */
  queryRttMs: number;
  /** DynamoDB's time per item of a page (reading and sending it), µs. Assumption. */
  dynamoUsPerItem: number;
  /** The SDK's parsing per item at one vCPU, µs (bench/micro/room-page.ts). */
  cpuUsPerItem: number;
  senderMemoryMb: number;
  workerMemoryMb: number;
  /** Memory that buys one vCPU (Lambda). */
  mbPerVcpu: number;
  /** Worker invocations running at once (reserved concurrency); Infinity: every shard at once. */
  workerConcurrency: number;
  throttle: Throttle;
  /** send-message's timeout (API Gateway waits 29 s): a direct fan-out that needs longer is cut off. */
  senderTimeoutMs: number;
  /**
   * `per-invocation`: each Lambda has its vCPU share (AWS). `shared`: one core for the sender and every worker
   * together (the local stack, one process), which the shares then describe.
   */
  cpu: 'per-invocation' | 'shared';
}

/** AWS as assumed here: every input and where it comes from is printed with the results. */
export const AWS_INPUTS: ModelInputs = {
  postRttMs: 15,
  cpuPerPostUs: 124,
  concurrency: DEFAULT_FAN_OUT_CONCURRENCY,
  tierConcurrency: DEFAULT_FAN_OUT_TIER_CONCURRENCY,
  shardSize: 500,
  threshold: DEFAULT_FAN_OUT_THRESHOLD,
  dispatchConcurrency: 8,
  invokeRttMs: 20,
  workerStartMs: 50,
  apiToLambdaMs: 10,
  storeMs: 25,
  itemBytes: 100,
  pageBytes: 1024 * 1024,
  queryRttMs: 10,
  dynamoUsPerItem: 2,
  cpuUsPerItem: 0.8,
  senderMemoryMb: 512,
  workerMemoryMb: 512,
  mbPerVcpu: 1769,
  workerConcurrency: Number.POSITIVE_INFINITY,
  throttle: { ratePerSecond: 10_000, burst: 5_000 },
  senderTimeoutMs: 29_000,
  cpu: 'per-invocation',
};

/** Where each input comes from, for the printed table. */
const INPUT_SOURCES: Partial<Record<keyof ModelInputs, string>> = {
  postRttMs: 'as `--post-latency-ms` (assumed AWS-like)',
  cpuPerPostUs: 'measured: micro/post-to-connection.ts, roomcast (as deployed); client + gateway + receivers',
  concurrency: 'FANOUT_CONCURRENCY default',
  tierConcurrency: 'FANOUT_TIER_CONCURRENCY default (∞: unpaced)',
  shardSize: 'FANOUT_SHARD_SIZE default',
  threshold: 'FANOUT_THRESHOLD default',
  dispatchConcurrency: 'src/fan-out.ts',
  invokeRttMs: 'assumption',
  workerStartMs: 'assumption (warm container; a cold start adds ~0.2–1 s)',
  apiToLambdaMs: 'assumption',
  storeMs: 'assumption: 5 sequential DynamoDB calls × 5 ms',
  itemBytes: 'subscription item (room, connection, user, ttl, created_at)',
  pageBytes: "DynamoDB's Query page limit",
  queryRttMs: 'assumption',
  dynamoUsPerItem: 'assumption (~20 ms per 1 MB page)',
  cpuUsPerItem: 'measured: micro/room-page.ts (SDK parsing, one core)',
  senderMemoryMb: 'Terraform default (send-message: max(512, lambda_memory_mb))',
  workerMemoryMb: 'Terraform default (fan-out-worker)',
  mbPerVcpu: 'Lambda',
  workerConcurrency: 'reserved concurrency; Terraform default none',
  throttle: "API Gateway's account quota (default)",
  senderTimeoutMs: 'Terraform: send-message gets API Gateway’s 29 s',
};

export interface ModelResult {
  n: number;
  path: 'direct' | 'workers';
  pages: number;
  /** Reading every page of the room, ms. */
  readMs: number;
  shards: number;
  /** Tier: when the last shard was handed over (from the sender's start), ms. */
  lastHandOffMs: number;
  /** One invocation's posting: the direct path's whole room, or one shard, ms. */
  postingMs: number;
  /** What bounds the posting: the round trips at the concurrency, or the CPU. */
  postingBound: 'round trips' | 'CPU';
  /** The account throttle's floor: (N − burst) / rate, ms. */
  throttleFloorMs: number;
  /** Posts per second the design asks for at its peak, against the throttle's rate. */
  peakPostsPerSecond: number;
  throttled: boolean;
  /** Send → last delivery, ms. */
  totalMs: number;
  bound: 'latency' | 'CPU' | 'throttle' | 'waves';
  /** Duration of the send-message invocation, ms (for cost). */
  senderMs: number;
  /** Duration of all worker invocations together, ms (for cost). */
  workerMsTotal: number;
  /** Direct path only: the sender would pass its timeout, and the rest of the room gets nothing. */
  pastSenderTimeout: boolean;
}

const share = (mb: number, inputs: ModelInputs) => mb / inputs.mbPerVcpu;

/** Reading `items` items in pages: per page a round trip; per item DynamoDB's time and the parsing. */
function readMs(items: number, inputs: ModelInputs): { pages: number; ms: number; firstPageMs: number } {
  const perPage = Math.floor(inputs.pageBytes / inputs.itemBytes);
  const pages = Math.max(1, Math.ceil(items / perPage));
  const perItemMs =
    (inputs.dynamoUsPerItem + inputs.cpuUsPerItem / share(inputs.senderMemoryMb, inputs)) / 1000;
  return {
    pages,
    ms: pages * inputs.queryRttMs + items * perItemMs,
    firstPageMs: inputs.queryRttMs + Math.min(items, perPage) * perItemMs,
  };
}

function throttleFloorMs(posts: number, throttle: Throttle): number {
  return (Math.max(0, posts - throttle.burst) / throttle.ratePerSecond) * 1000;
}

/**
 * Posts in flight in worker `index` of a room of `shards` shards (src/fan-out.ts, shareOf): an equal share of
 * FANOUT_TIER_CONCURRENCY, the remainder one each to the first; without `index`, the average share.
 */
function workerShare(shards: number, inputs: ModelInputs, index?: number): number {
  if (!Number.isFinite(inputs.tierConcurrency)) return inputs.concurrency;
  const count = Math.max(1, shards);
  const share =
    index === undefined
      ? inputs.tierConcurrency / count
      : Math.floor(inputs.tierConcurrency / count) + (index % count < inputs.tierConcurrency % count ? 1 : 0);
  return Math.max(1, Math.min(inputs.concurrency, share));
}

/** Posting `posts` from one invocation of `memoryMb`: round trips at `inFlight` posts at once, or its CPU. */
function postingMs(posts: number, memoryMb: number, inputs: ModelInputs, inFlight = inputs.concurrency) {
  const trips = Math.ceil(posts / inFlight) * inputs.postRttMs;
  const cpu = (posts * inputs.cpuPerPostUs) / share(memoryMb, inputs) / 1000;
  return { ms: Math.max(trips, cpu), bound: cpu > trips ? ('CPU' as const) : ('round trips' as const) };
}

export function modelDelivery(n: number, path: 'direct' | 'workers', inputs: ModelInputs): ModelResult {
  const read = readMs(n, inputs);
  const inbound = inputs.apiToLambdaMs + inputs.storeMs;
  const floor = throttleFloorMs(n, inputs.throttle);
  if (path === 'direct' || n <= inputs.threshold) {
    const posting = postingMs(n, inputs.senderMemoryMb, inputs);
    const own = read.ms + posting.ms;
    const totalMs = inbound + Math.max(own, floor + inputs.postRttMs);
    const peak = Math.min(
      (inputs.concurrency / inputs.postRttMs) * 1000,
      (share(inputs.senderMemoryMb, inputs) / inputs.cpuPerPostUs) * 1e6,
    );
    return {
      n,
      path: 'direct',
      pages: read.pages,
      readMs: read.ms,
      shards: 0,
      lastHandOffMs: 0,
      postingMs: posting.ms,
      postingBound: posting.bound,
      throttleFloorMs: floor,
      peakPostsPerSecond: peak,
      throttled: peak > inputs.throttle.ratePerSecond && n > inputs.throttle.burst,
      totalMs,
      bound: floor + inputs.postRttMs > own ? 'throttle' : posting.bound === 'CPU' ? 'CPU' : 'latency',
      senderMs: inputs.storeMs + Math.min(own, inputs.senderTimeoutMs),
      workerMsTotal: 0,
      pastSenderTimeout: inputs.storeMs + own > inputs.senderTimeoutMs,
    };
  }
  const shards = Math.ceil(n / inputs.shardSize);
  const rounds = Math.ceil(shards / inputs.dispatchConcurrency);
  const lastHandOffMs = Math.max(
    read.ms + inputs.invokeRttMs,
    read.firstPageMs + rounds * inputs.invokeRttMs,
  );
  const firstHandOffMs = read.firstPageMs + inputs.invokeRttMs;
  const inFlight = workerShare(shards, inputs);
  const shard = postingMs(Math.min(n, inputs.shardSize), inputs.workerMemoryMb, inputs, inFlight);
  const running = Math.min(shards, inputs.workerConcurrency);
  const waves = Math.ceil(shards / running);
  let posted = lastHandOffMs + inputs.workerStartMs + shard.ms;
  let bound: ModelResult['bound'] = shard.bound === 'CPU' ? 'CPU' : 'latency';
  const inWaves = firstHandOffMs + waves * (inputs.workerStartMs + shard.ms);
  if (inWaves > posted) {
    posted = inWaves;
    bound = 'waves';
  }
  if (inputs.cpu === 'shared') {
    // One core for everything: every post's CPU, one after another, from the first hand-off.
    const cpuMs = (n * inputs.cpuPerPostUs) / share(inputs.workerMemoryMb, inputs) / 1000;
    if (firstHandOffMs + cpuMs > posted) {
      posted = firstHandOffMs + cpuMs;
      bound = 'CPU';
    }
  }
  if (floor + inputs.postRttMs > posted) {
    posted = floor + inputs.postRttMs;
    bound = 'throttle';
  }
  const perWorker =
    inputs.cpu === 'shared'
      ? (inFlight / inputs.postRttMs) * 1000
      : Math.min(
          (inFlight / inputs.postRttMs) * 1000,
          (share(inputs.workerMemoryMb, inputs) / inputs.cpuPerPostUs) * 1e6,
        );
  const peak = running * perWorker;
  return {
    n,
    path: 'workers',
    pages: read.pages,
    readMs: read.ms,
    shards,
    lastHandOffMs,
    postingMs: shard.ms,
    postingBound: shard.bound,
    throttleFloorMs: floor,
    peakPostsPerSecond: peak,
    throttled: peak > inputs.throttle.ratePerSecond && n > inputs.throttle.burst,
    totalMs: inbound + posted,
    bound,
    senderMs: inputs.storeMs + lastHandOffMs,
    workerMsTotal: shards * (inputs.workerStartMs + shard.ms),
    pastSenderTimeout: false,
  };
}

/** Workers that keep the posts in flight under the throttle's rate: rate × round trip ÷ concurrency. */
export function workersWithinThrottle(inputs: ModelInputs): number {
  return Math.max(
    1,
    Math.floor((inputs.throttle.ratePerSecond * inputs.postRttMs) / 1000 / inputs.concurrency),
  );
}

// -----------------------------------------------------------------------------------------------------------------
// The throttle, simulated
// -----------------------------------------------------------------------------------------------------------------

/** The SDK's standard retry as roomcast's management client uses it (src/delivery.ts, @smithy/core/retry). */
const POST_ATTEMPTS = 3;
const THROTTLING_BACKOFF_MS = 1_000;
const RETRY_CAPACITY = 500;
const THROTTLING_RETRY_COST = 5;
/** src/fan-out.ts: hand-offs of one shard's failed posts, first included; a retried shard waits 1 s × attempt. */
const SHARD_ATTEMPTS = 3;
const SHARD_RETRY_DELAY_MS = 1_000;

interface ThrottleRun {
  /** Send → last delivery, ms (of the posts that landed). */
  lastDeliveryMs: number;
  /** Posts that never landed: failed in every attempt of the shard's last hand-on (or cut off by the timeout). */
  lost: number;
  /** 429s answered. */
  throttled: number;
  /** Worker invocations, hand-ons included. */
  workerInvocations: number;
  /** Their durations together, ms (for cost). */
  workerMsTotal: number;
  /** The send-message invocation's duration, ms. */
  senderMs: number;
}

export interface ThrottleSummary {
  runs: number;
  lastDeliveryMs: { median: number; max: number };
  lost: { median: number; max: number };
  throttled: number;
  workerInvocations: number;
  workerMsTotal: number;
  senderMs: number;
}

/** `runs` simulations with seeds 1…runs; the medians and worst cases. */
export function simulateThrottle(
  n: number,
  path: 'direct' | 'workers',
  inputs: ModelInputs,
  runs = 5,
): ThrottleSummary {
  const all = Array.from({ length: runs }, (_, i) => simulateOnce(n, path, inputs, i + 1));
  const mid = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? 0;
  const pick = (key: 'lastDeliveryMs' | 'lost') => ({
    median: mid(all.map((r) => r[key])),
    max: Math.max(...all.map((r) => r[key])),
  });
  return {
    runs,
    lastDeliveryMs: pick('lastDeliveryMs'),
    lost: pick('lost'),
    throttled: mid(all.map((r) => r.throttled)),
    workerInvocations: mid(all.map((r) => r.workerInvocations)),
    workerMsTotal: mid(all.map((r) => r.workerMsTotal)),
    senderMs: mid(all.map((r) => r.senderMs)),
  };
}

interface Invocation {
  posts: number;
  /** 1 for the sender's hand-off (or the direct path), then one more per hand-on. */
  attempt: number;
  readyAt: number;
  /** A retried shard's handler starts before `readyAt` and sleeps until it: billed from here. */
  waitMs: number;
  memoryMb: number;
  startedAt: number;
  cpuFreeAt: number;
  capacity: number;
  next: number;
  inFlight: number;
  failed: number;
}

interface PostEvent {
  at: number;
  invocation: Invocation;
  /** Attempts of this post so far (0 before its first). */
  tries: number;
}

/** One run, event by event in time order (the token bucket is shared by every invocation). */
function simulateOnce(n: number, path: 'direct' | 'workers', inputs: ModelInputs, seed: number): ThrottleRun {
  const random = mulberry32(seed);
  const direct = path === 'direct' || n <= inputs.threshold;
  const read = readMs(n, inputs);
  const inbound = inputs.apiToLambdaMs + inputs.storeMs;
  const events = new MinHeap<PostEvent>((a, b) => a.at - b.at);
  const waiting: Invocation[] = [];
  let running = 0;
  let tokens = inputs.throttle.burst;
  let refilledAt = 0;
  const result: ThrottleRun = {
    lastDeliveryMs: 0,
    lost: 0,
    throttled: 0,
    workerInvocations: 0,
    workerMsTotal: 0,
    senderMs: 0,
  };
  const take = (at: number): boolean => {
    tokens = Math.min(
      inputs.throttle.burst,
      tokens + ((at - refilledAt) / 1000) * inputs.throttle.ratePerSecond,
    );
    refilledAt = at;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
  const invocation = (
    posts: number,
    attempt: number,
    readyAt: number,
    memoryMb: number,
    waitMs = 0,
  ): Invocation => ({
    posts,
    attempt,
    readyAt,
    waitMs,
    memoryMb,
    startedAt: 0,
    cpuFreeAt: 0,
    capacity: RETRY_CAPACITY,
    next: 0,
    inFlight: 0,
    failed: 0,
  });
  const cpuMs = (inv: Invocation) => inputs.cpuPerPostUs / share(inv.memoryMb, inputs) / 1000;
  /** Starts the next post of `inv` on a free slot, at `at` or when its CPU is free. */
  const issue = (inv: Invocation, at: number) => {
    if (inv.next >= inv.posts) return;
    inv.next++;
    inv.inFlight++;
    const start = Math.max(at, inv.cpuFreeAt);
    inv.cpuFreeAt = start + cpuMs(inv);
    events.push({ at: start, invocation: inv, tries: 0 });
  };
  const start = (inv: Invocation, at: number) => {
    running++;
    result.workerInvocations += direct ? 0 : 1;
    inv.startedAt = at;
    inv.cpuFreeAt = at;
    const inFlight = direct
      ? inputs.concurrency
      : workerShare(Math.ceil(n / inputs.shardSize), inputs, result.workerInvocations - 1);
    for (let i = 0; i < inFlight; i++) issue(inv, at);
  };
  const schedule = (inv: Invocation) => {
    if (direct || running < inputs.workerConcurrency) start(inv, inv.readyAt);
    else waiting.push(inv);
  };
  const finish = (inv: Invocation, at: number) => {
    running--;
    if (!direct) result.workerMsTotal += at - inv.startedAt + inv.waitMs;
    // Posts that failed go to a new worker, 1 s (then 2 s) later; after the last attempt they are lost.
    if (inv.failed > 0 && !direct && inv.attempt < SHARD_ATTEMPTS) {
      const handedOn = at + inputs.invokeRttMs + inputs.workerStartMs;
      const notBefore = at + SHARD_RETRY_DELAY_MS * inv.attempt;
      const readyAt = Math.max(handedOn, notBefore);
      schedule(invocation(inv.failed, inv.attempt + 1, readyAt, inv.memoryMb, readyAt - handedOn));
    }
    waiting.sort((a, b) => a.readyAt - b.readyAt);
    const next = waiting.shift();
    if (next) start(next, Math.max(at, next.readyAt));
  };

  if (direct) {
    const sender = invocation(n, SHARD_ATTEMPTS, inbound + read.ms, inputs.senderMemoryMb);
    schedule(sender);
  } else {
    // Shards become available as their page is read; 8 dispatchers hand them over, an Invoke round trip each.
    const perPage = Math.floor(inputs.pageBytes / inputs.itemBytes);
    const pageMs = read.ms / read.pages;
    const dispatchers = Array.from({ length: inputs.dispatchConcurrency }, () => inbound);
    let lastHandOff = 0;
    for (let s = 0, left = n; left > 0; s++, left -= inputs.shardSize) {
      const lastId = Math.min(n, (s + 1) * inputs.shardSize);
      const readBy = inbound + Math.ceil(lastId / perPage) * pageMs;
      dispatchers.sort((a, b) => a - b);
      const handedAt = Math.max(dispatchers[0] as number, readBy) + inputs.invokeRttMs;
      dispatchers[0] = handedAt;
      lastHandOff = Math.max(lastHandOff, handedAt);
      schedule(
        invocation(
          Math.min(left, inputs.shardSize),
          1,
          handedAt + inputs.workerStartMs,
          inputs.workerMemoryMb,
        ),
      );
    }
    result.senderMs = lastHandOff - inputs.apiToLambdaMs;
  }

  let delivered = 0;
  for (let event = events.pop(); event; event = events.pop()) {
    const { at, invocation: inv } = event;
    const tries = event.tries + 1;
    // The sender cut off by its timeout makes no more posts: the rest of the room gets nothing.
    if (direct && at > inputs.apiToLambdaMs + inputs.senderTimeoutMs) continue;
    const answeredAt = at + inputs.postRttMs;
    if (take(at + inputs.postRttMs / 2)) {
      delivered++;
      result.lastDeliveryMs = Math.max(result.lastDeliveryMs, at + inputs.postRttMs / 2);
      inv.capacity = Math.min(RETRY_CAPACITY, inv.capacity + (tries > 1 ? THROTTLING_RETRY_COST : 1));
    } else {
      result.throttled++;
      if (tries < POST_ATTEMPTS && inv.capacity >= THROTTLING_RETRY_COST) {
        inv.capacity -= THROTTLING_RETRY_COST;
        const backoff = random() * Math.min(THROTTLING_BACKOFF_MS * 2 ** (tries - 1), 20_000);
        events.push({ at: answeredAt + backoff, invocation: inv, tries });
        continue;
      }
      inv.failed++;
    }
    inv.inFlight--;
    issue(inv, answeredAt);
    if (inv.inFlight === 0 && inv.next >= inv.posts) finish(inv, answeredAt);
  }
  result.lost = n - delivered;
  if (direct) result.senderMs = Math.min(result.lastDeliveryMs, inputs.senderTimeoutMs);
  return result;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class MinHeap<T> {
  readonly #items: T[] = [];
  constructor(readonly compare: (a: T, b: T) => number) {}
  push(item: T): void {
    const items = this.#items;
    items.push(item);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (this.compare(items[i] as T, items[parent] as T) >= 0) break;
      [items[i], items[parent]] = [items[parent] as T, items[i] as T];
      i = parent;
    }
  }
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < items.length && this.compare(items[left] as T, items[least] as T) < 0) least = left;
        if (right < items.length && this.compare(items[right] as T, items[least] as T) < 0) least = right;
        if (least === i) break;
        [items[i], items[least]] = [items[least] as T, items[i] as T];
        i = least;
      }
    }
    return top;
  }
}

// -----------------------------------------------------------------------------------------------------------------
// Scenarios and report
// -----------------------------------------------------------------------------------------------------------------

interface Scenario {
  label: string;
  inputs: ModelInputs;
}

export interface ModelRow {
  scenario: string;
  n: number;
  model: ModelResult;
  sim: ThrottleSummary;
}

/**
 * The tier as deployed (every shard at once, each worker with its share of FANOUT_TIER_CONCURRENCY), the same
 * unpaced (every worker at FANOUT_CONCURRENCY) and capped by a reserved concurrency within the quota instead, and
 * with the quota raised and FANOUT_TIER_CONCURRENCY raised with it (rate × round trip).
 */
function awsScenarios(base: ModelInputs, raisedRate: number): Scenario[] {
  const quota = (inputs: ModelInputs) =>
    `${fmt(inputs.throttle.ratePerSecond)}/s, burst ${fmt(inputs.throttle.burst)}`;
  const paced = (inputs: ModelInputs) =>
    Number.isFinite(inputs.tierConcurrency)
      ? `${fmt(inputs.tierConcurrency)} posts in flight across the workers`
      : 'unpaced';
  const label = (inputs: ModelInputs) =>
    `tier, quota ${quota(inputs)}, ${paced(inputs)}, ${Number.isFinite(inputs.workerConcurrency) ? `${inputs.workerConcurrency} workers at once` : 'every shard at once'}`;
  const unpaced = { ...base, tierConcurrency: Number.POSITIVE_INFINITY };
  const capped = { ...unpaced, workerConcurrency: workersWithinThrottle(base) };
  const raised = {
    ...base,
    throttle: { ...base.throttle, ratePerSecond: raisedRate },
    // Rate × round trip: the burst is a small part of a raised quota, so asking more buys mostly 429s.
    tierConcurrency: Math.round((raisedRate * base.postRttMs) / 1000),
  };
  return [base, unpaced, capped, raised].map((inputs) => ({ label: label(inputs), inputs }));
}

export function runModel(base: ModelInputs, ns: readonly number[], raisedRate: number): ModelRow[] {
  const rows: ModelRow[] = [];
  for (const n of ns) {
    rows.push({
      scenario: `direct, quota ${fmt(base.throttle.ratePerSecond)}/s`,
      n,
      model: modelDelivery(n, 'direct', base),
      sim: simulateThrottle(n, 'direct', base),
    });
  }
  for (const scenario of awsScenarios(base, raisedRate)) {
    // Up to the threshold the tier is the direct path.
    for (const n of ns.filter((n) => n > scenario.inputs.threshold)) {
      rows.push({
        scenario: scenario.label,
        n,
        model: modelDelivery(n, 'workers', scenario.inputs),
        sim: simulateThrottle(n, 'workers', scenario.inputs),
      });
    }
  }
  return rows;
}

const fmt = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits }) : '∞';
const seconds = (ms: number) => `${fmt(ms / 1000, ms < 10_000 ? 2 : 1)} s`;
const table = (head: string[], rows: string[][]) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

export function inputsMarkdown(inputs: ModelInputs): string {
  const show = (key: keyof ModelInputs): string => {
    const value = inputs[key];
    if (key === 'throttle') {
      const t = value as Throttle;
      return `${fmt(t.ratePerSecond)}/s, burst ${fmt(t.burst)}`;
    }
    if (key === 'senderMemoryMb' || key === 'workerMemoryMb') {
      const mb = value as number;
      return `${fmt(mb)} MB (${fmt(mb / inputs.mbPerVcpu, 3)} vCPU)`;
    }
    return typeof value === 'number' ? fmt(value, 2) : String(value);
  };
  return table(
    ['input', 'value', 'from'],
    (Object.keys(inputs) as Array<keyof ModelInputs>)
      .filter((key) => key !== 'cpu')
      .map((key) => [`\`${key}\``, show(key), INPUT_SOURCES[key] ?? '']),
  );
}

export function rowsMarkdown(rows: readonly ModelRow[]): string {
  return table(
    [
      'path, throttle, workers',
      'N',
      'model: send → last delivery',
      'bound',
      'room read',
      'peak posts/s asked',
      'simulated: last delivery, median (worst of 5)',
      'lost, median (worst)',
      '429s',
    ],
    rows.map(({ scenario, n, model, sim }) => [
      scenario,
      fmt(n),
      `${seconds(model.totalMs)}${model.pastSenderTimeout ? ' (past the 29 s timeout)' : ''}`,
      model.bound === 'waves' ? 'worker waves' : model.bound,
      `${fmt(model.pages)} page${model.pages > 1 ? 's' : ''}, ${fmt(model.readMs)} ms`,
      fmt(model.peakPostsPerSecond),
      `${seconds(sim.lastDeliveryMs.median)} (${seconds(sim.lastDeliveryMs.max)})`,
      `${fmt(sim.lost.median)} (${fmt(sim.lost.max)})`,
      fmt(sim.throttled),
    ]),
  );
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      'post-rtt-ms': { type: 'string' },
      'cpu-per-post-us': { type: 'string' },
      rate: { type: 'string' },
      burst: { type: 'string' },
      'raised-rate': { type: 'string' },
      'worker-concurrency': { type: 'string' },
      threshold: { type: 'string' },
      n: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const number = (value: string | undefined, fallback: number) =>
    value === undefined ? fallback : Number(value);
  const inputs: ModelInputs = {
    ...AWS_INPUTS,
    postRttMs: number(values['post-rtt-ms'], AWS_INPUTS.postRttMs),
    cpuPerPostUs: number(values['cpu-per-post-us'], AWS_INPUTS.cpuPerPostUs),
    workerConcurrency: number(values['worker-concurrency'], AWS_INPUTS.workerConcurrency),
    threshold: number(values.threshold, AWS_INPUTS.threshold),
    throttle: {
      ratePerSecond: number(values.rate, AWS_INPUTS.throttle.ratePerSecond),
      burst: number(values.burst, AWS_INPUTS.throttle.burst),
    },
  };
  const ns = values.n ? values.n.split(',').map(Number) : [1000, 10_000, 100_000];
  const rows = runModel(inputs, ns, number(values['raised-rate'], 50_000));
  if (values.json) console.log(JSON.stringify({ inputs, rows }, null, 2));
  else console.log(`${inputsMarkdown(inputs)}\n\n${rowsMarkdown(rows)}`);
}
