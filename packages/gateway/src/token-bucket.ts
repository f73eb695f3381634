/**
 * A token bucket on the gateway's clock: the new-connection rate (SPEC.md §7.5) and the failure log's line rate
 * (SPEC.md §8.5) use one each, message throttling (SPEC.md §7.7) one per throttled route.
 */
import type { GatewayClock } from './options.js';

/** `burst` tokens at most, refilled at `perSecond`; it starts full. A bucket of 0 never lets anything through. */
export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    readonly clock: GatewayClock,
  ) {
    this.#tokens = burst;
    this.#updatedAt = clock.now();
  }

  /** Takes one token if there is one. */
  tryTake(): boolean {
    const now = this.clock.now();
    const elapsedSeconds = Math.max(0, now - this.#updatedAt) / 1000;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsedSeconds * this.perSecond);
    this.#updatedAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
