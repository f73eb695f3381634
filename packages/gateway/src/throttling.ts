/**
 * API Gateway's stage and route throttling of messages (SPEC.md §7.7): one token bucket per throttled message route,
 * on the gateway's clock. AWS throttles the API, not a client, so every connection draws on the same buckets.
 */
import type { GatewayClock, ThrottleSettings } from './options.js';
import { TokenBucket } from './token-bucket.js';

export class RouteThrottle {
  readonly #buckets = new Map<string, TokenBucket>();

  /** `routeThrottles`: each throttled route's own setting or the stage default (options.ts resolves which). */
  constructor(routeThrottles: ReadonlyMap<string, ThrottleSettings>, clock: GatewayClock) {
    for (const [routeKey, { rateLimit, burstLimit }] of routeThrottles) {
      this.#buckets.set(routeKey, new TokenBucket(rateLimit, burstLimit, clock));
    }
  }

  /** Takes a token for one message to `routeKey`; false when it is throttled. Routes without a bucket always pass. */
  admit(routeKey: string): boolean {
    return this.#buckets.get(routeKey)?.tryTake() ?? true;
  }
}
