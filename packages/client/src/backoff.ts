export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Exponential backoff with full jitter: after the n-th consecutive failure (n ≥ 1) wait a uniformly random time
 * in [0, min(max, initial · 2^(n-1))). The randomness spreads out the reconnects of many clients dropped at once.
 */
export function backoffDelay(
  failures: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.floor(random() * ceiling);
}
