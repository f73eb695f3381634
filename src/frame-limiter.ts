/**
 * Per-connection limits on what a client sends: frames and bytes per second, each a token bucket with a burst,
 * kept in the memory of the container that runs the routes. API Gateway has no per-client limit (its throttling
 * is per route for the whole API), so without this one connection's flood of pings costs every room.
 *
 * The bound is per container. A refused frame is answered in microseconds, without DynamoDB, so a flood from one
 * connection keeps few invocations in flight and is served by few containers; in the worst case a connection gets
 * the limit once per container that serves it. Memory is bounded: at most `maxConnections` connections are
 * tracked, the least recently seen is forgotten first (it starts again with a full bucket).
 */

export interface FrameLimits {
  framesPerSecond: number;
  frameBurst: number;
  bytesPerSecond: number;
  byteBurst: number;
  /** Refusals within a minute after which the connection is closed: sustained abuse, not a burst. */
  closeAfterRefusals: number;
}

/**
 * What to do with a frame: `admit` it; `refuse` it with RATE_LIMITED; `drop` it without an answer; `close` the
 * connection, after sustained abuse (and drop what still arrives from it).
 */
export type FrameVerdict = 'admit' | 'refuse' | 'drop' | 'close';

/**
 * Refusals are counted per minute, as leaky counters (each drains at its limit per minute), not in fixed windows:
 * a burst split across a window's boundary would otherwise get twice the limit.
 */
const MINUTE_MS = 60_000;
/**
 * Refusals answered with RATE_LIMITED per connection and minute; past it, refused frames are dropped unanswered
 * (each answer is a post). A client that waits `retry_after_ms`, as the SDK does, stays far below it.
 */
const ANSWERED_REFUSALS = 50;

interface Bucket {
  frames: number;
  bytes: number;
  at: number;
  /** Refusals lately (a leaky counter, draining `closeAfterRefusals` a minute) and answered ones (50 a minute). */
  refused: number;
  answered: number;
  refusedAt: number;
  /** Once closed, every later frame is dropped until the connection is gone. */
  closed: boolean;
}

export class FrameLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #limits: FrameLimits;
  readonly #now: () => number;
  readonly #maxConnections: number;

  constructor(limits: FrameLimits, options: { now?: () => number; maxConnections?: number } = {}) {
    this.#limits = limits;
    this.#now = options.now ?? Date.now;
    this.#maxConnections = options.maxConnections ?? 10_000;
  }

  /** Counts one frame of `bytes` from `connectionId` and says what to do with it. */
  check(connectionId: string, bytes: number): FrameVerdict {
    const now = this.#now();
    const bucket = this.#bucket(connectionId, now);
    if (bucket.closed) return 'drop';
    const elapsed = Math.max(0, now - bucket.at) / 1000;
    const limits = this.#limits;
    bucket.frames = Math.min(limits.frameBurst, bucket.frames + elapsed * limits.framesPerSecond);
    bucket.bytes = Math.min(limits.byteBurst, bucket.bytes + elapsed * limits.bytesPerSecond);
    bucket.at = now;
    if (bucket.frames >= 1 && bucket.bytes >= bytes) {
      bucket.frames -= 1;
      bucket.bytes -= bytes;
      return 'admit';
    }
    const minutes = Math.max(0, now - bucket.refusedAt) / MINUTE_MS;
    bucket.refusedAt = now;
    bucket.refused = Math.max(0, bucket.refused - minutes * limits.closeAfterRefusals) + 1;
    bucket.answered = Math.max(0, bucket.answered - minutes * ANSWERED_REFUSALS);
    if (bucket.refused > limits.closeAfterRefusals) {
      bucket.closed = true;
      return 'close';
    }
    if (bucket.answered + 1 > ANSWERED_REFUSALS) return 'drop';
    bucket.answered += 1;
    return 'refuse';
  }

  /** Milliseconds until a frame of `bytes` would be admitted: the `retry_after_ms` of a RATE_LIMITED answer. */
  retryAfterMs(connectionId: string, bytes: number): number {
    const bucket = this.#buckets.get(connectionId);
    if (!bucket) return 0;
    const limits = this.#limits;
    const forFrame = Math.max(0, 1 - bucket.frames) / limits.framesPerSecond;
    const forBytes = Math.max(0, Math.min(bytes, limits.byteBurst) - bucket.bytes) / limits.bytesPerSecond;
    return Math.ceil(Math.max(forFrame, forBytes) * 1000);
  }

  /** The connection is gone: forget it. */
  forget(connectionId: string): void {
    this.#buckets.delete(connectionId);
  }

  #bucket(connectionId: string, now: number): Bucket {
    let bucket = this.#buckets.get(connectionId);
    if (bucket) {
      // Map order is insertion order: moving it to the end keeps the least recently seen first.
      this.#buckets.delete(connectionId);
    } else {
      if (this.#buckets.size >= this.#maxConnections) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      const { frameBurst, byteBurst } = this.#limits;
      bucket = {
        frames: frameBurst,
        bytes: byteBurst,
        at: now,
        refused: 0,
        answered: 0,
        refusedAt: now,
        closed: false,
      };
    }
    this.#buckets.set(connectionId, bucket);
    return bucket;
  }
}
