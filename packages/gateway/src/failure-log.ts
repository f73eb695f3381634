/**
 * Failure logs one client cannot inflate (SPEC.md §8.5). Each failed invocation deserves an error in the log, but a
 * client sending 50 000 frames to a failing route must not write 50 000 stack traces. So the first failure of each
 * kind (what failed, plus the error's message) is logged with its stack; after that the whole gateway logs at most
 * `FAILURE_LOG_LINES_PER_SECOND` one-line failures a second (a token bucket on the gateway's clock), and only counts
 * the rest, reported as `n more failures suppressed` every `FAILURE_LOG_SUMMARY_INTERVAL_MS`. Memory is bounded:
 * `FAILURE_LOG_MAX_KINDS` kinds are remembered (then new kinds are only rate-limited), and long texts are cut.
 */
import { inspect } from 'node:util';
import {
  FAILURE_KIND_CHARS,
  FAILURE_LOG_BURST,
  FAILURE_LOG_LINES_PER_SECOND,
  FAILURE_LOG_MAX_KINDS,
  FAILURE_LOG_SUMMARY_INTERVAL_MS,
  MAX_LOGGED_ERROR_CHARS,
} from './constants.js';
import type { GatewayClock, GatewayLogger } from './options.js';
import { TokenBucket } from './token-bucket.js';

/** One failure as the log tells it. */
export interface FailureReport {
  /** One line naming the failure: `TypeError: x is undefined`, `integration timeout`. */
  summary: string;
  /** Logged instead of the summary for the first failure of its kind: the stack. */
  detail?: string;
}

export interface FailureLogLimits {
  linesPerSecond: number;
  burst: number;
  summaryIntervalMs: number;
  maxKinds: number;
}

const DEFAULT_LIMITS: FailureLogLimits = {
  linesPerSecond: FAILURE_LOG_LINES_PER_SECOND,
  burst: FAILURE_LOG_BURST,
  summaryIntervalMs: FAILURE_LOG_SUMMARY_INTERVAL_MS,
  maxKinds: FAILURE_LOG_MAX_KINDS,
};

/** The gateway's failure log: `report` instead of `logger.error` wherever a client can cause the failure. */
export class FailureLog {
  readonly #seenKinds = new Set<string>();
  readonly #lines: TokenBucket;
  #suppressed = 0;
  #summaryTimer: unknown;

  constructor(
    readonly logger: GatewayLogger,
    readonly clock: GatewayClock,
    readonly limits: FailureLogLimits = DEFAULT_LIMITS,
  ) {
    this.#lines = new TokenBucket(limits.linesPerSecond, limits.burst, clock);
  }

  /** `what` says what failed (`sendMessage failed`), `failure` how; `extra` (ids) goes into the line as is. */
  report(what: string, failure: FailureReport, extra: object = {}): void {
    const kind = `${what}\n${failure.summary.slice(0, FAILURE_KIND_CHARS)}`;
    if (!this.#seenKinds.has(kind) && this.#seenKinds.size < this.limits.maxKinds) {
      this.#seenKinds.add(kind);
      this.logger.error(what, { ...extra, error: failure.detail ?? failure.summary });
    } else if (this.#lines.tryTake()) {
      this.logger.error(what, { ...extra, error: failure.summary });
    } else {
      this.#suppressed += 1;
      this.#summaryTimer ??= this.clock.setTimeout(() => this.#summarize(), this.limits.summaryIntervalMs);
    }
  }

  /** Logs the count of suppressed failures now and stops the summary timer; `gateway.close()` calls it. */
  flush(): void {
    if (this.#summaryTimer !== undefined) this.clock.clearTimeout(this.#summaryTimer);
    this.#summarize();
  }

  #summarize(): void {
    this.#summaryTimer = undefined;
    if (this.#suppressed === 0) return;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.logger.error(`${suppressed} more failures suppressed`, { suppressed });
  }
}

/** A thrown value as the failure log tells it: name and message in one line, the stack as the detail. */
export function describeError(error: unknown): FailureReport {
  if (error instanceof Error) {
    const header = `${error.name}: ${error.message}`;
    const summary = cut(header.replace(/\s*\n\s*/g, ' '));
    const stack = error.stack ?? header;
    // The stack repeats the message: a long message is cut there, so that the frames still make it into the log.
    const detail = stack.startsWith(header) ? summary + cut(stack.slice(header.length)) : cut(stack);
    return { summary, detail };
  }
  const text = typeof error === 'string' ? error : inspect(error, { depth: 2, breakLength: Infinity });
  return { summary: cut(text) };
}

/** A handler may throw a message of any length (one quoting a 128 KB body, say): the log gets its beginning. */
function cut(text: string): string {
  if (text.length <= MAX_LOGGED_ERROR_CHARS) return text;
  return `${text.slice(0, MAX_LOGGED_ERROR_CHARS)}… (${text.length - MAX_LOGGED_ERROR_CHARS} more characters)`;
}
