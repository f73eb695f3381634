import { StandardRetryStrategy } from '@smithy/core/retry';
import type { RetryErrorInfo, RetryStrategyV2, StandardRetryToken } from '@smithy/types';

/**
 * The SDK's standard retry (backoff on throttling and 5xx, a shared retry budget), except that a post that timed
 * out is never retried. A timed-out PostToConnection may already have reached the client, so sending it again
 * could deliver the message twice; and each retried timeout would also spend the shared retry budget (500 tokens
 * per client) that throttled posts need.
 */
export class PostRetryStrategy implements RetryStrategyV2 {
  readonly #standard: StandardRetryStrategy;

  constructor(maxAttempts: number) {
    this.#standard = new StandardRetryStrategy(maxAttempts);
  }

  acquireInitialRetryToken(scope: string): Promise<StandardRetryToken> {
    return this.#standard.acquireInitialRetryToken(scope);
  }

  refreshRetryTokenForRetry(token: StandardRetryToken, info: RetryErrorInfo): Promise<StandardRetryToken> {
    // The retry middleware rethrows the post's own error when this rejects.
    if (isTimeout(info.error)) return Promise.reject(info.error);
    return this.#standard.refreshRetryTokenForRetry(token, info);
  }

  recordSuccess(token: StandardRetryToken): void {
    this.#standard.recordSuccess(token);
  }
}

/**
 * The request handler's `requestTimeout` error. Matched by name only: an OS-level `connect ETIMEDOUT` (code, not
 * name) means the request never left, and is retried like any other network error.
 */
export function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}
