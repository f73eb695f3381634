/**
 * Handover: the open connection is replaced by a fresh one before the server would end it, with no visible drop.
 * The server closes a connection whose token has expired (TOKEN_EXPIRED at its next frame), and API Gateway closes
 * every connection after 2 hours. So, shortly before either, the client opens a second connection (a fresh token
 * from `getToken`), subscribes every room held on it and reads each stream forward from its position there, while
 * the first one still delivers; once the second has caught up it becomes the connection, and the first is closed
 * with 1000. The ordered streams take each message once, whichever connection brings it. A handover that fails
 * leaves the open connection alone and is tried again after a backoff delay; if the open connection is lost
 * meanwhile, the reconnect path takes over.
 */
import {
  backoffDelay,
  type Connection,
  checkToken,
  decodeJwtPayload,
  Socket,
  socketUrl,
} from './connection.js';
import { HANDOVER_LIMITS, MAX_TIMER_MS, type ResolvedOptions } from './options.js';
import { roomAllowed } from './protocol.js';
import { Requests, RoomcastError } from './requests.js';

/** Why a connection was replaced: its token was about to expire, or it was about to reach `handover.maxAgeMs`. */
export type HandoverReason = 'token-expiry' | 'max-age';

/** What the client does for a handover. */
export interface HandoverHost {
  readonly options: ResolvedOptions;
  readonly connection: Connection;
  /** A frame of the new connection; the answers among them settle in `channel`, its requests, until the swap. */
  receive(text: string, channel: Requests): void;
  /**
   * Subscribes every room held (that `allows` allows) and reads every stream forward on `channel`; resolves once
   * all caught up, with what to do when the new connection (`generation`) has become the connection.
   */
  prepare(channel: Requests, allows: (room: string) => boolean): Promise<(generation: number) => void>;
  /** A handover is done: the `handover` event. */
  done(event: { reason: HandoverReason; durationMs: number }): void;
}

/** One handover under way: ended (its socket closed, its requests failed) unless it swaps in. */
interface Run {
  reason: HandoverReason;
  deadline: ReturnType<typeof setTimeout>;
  /** Rejects when the run is ended: every wait of the run gives up with it. */
  ended: Promise<never>;
  end(error: Error): void;
  socket?: Socket;
  channel?: Requests;
}

/** Plans and runs the handovers of one client: at most one at a time, every timer cleared by `stop`. */
export class Handover {
  readonly #host: HandoverHost;
  /** When the next handover starts, or the delay before a failed one is tried again. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #run: Run | undefined;
  /** Handovers failed in a row, for the backoff. */
  #failures = 0;
  #runs = 0;

  constructor(host: HandoverHost) {
    this.#host = host;
  }

  /**
   * The open connection has caught up (or just swapped in): time its handover, at `refreshMarginMs` before its
   * token expires (with `getToken`; at most a third of the token's lifetime) or `maxAgeLeadMs` before it reaches
   * `maxAgeMs`, whichever comes first.
   */
  plan(): void {
    this.stop();
    const { options, connection } = this.#host;
    if (connection.state !== 'open') return;
    const { refreshMarginMs, maxAgeMs, maxAgeLeadMs } = options.handover;
    const { token, startedAt } = connection.current;
    let due = startedAt + maxAgeMs - maxAgeLeadMs;
    let reason: HandoverReason = 'max-age';
    const exp = expiry(token);
    if (options.refreshable && exp !== undefined) {
      const iat = decodeJwtPayload(token)?.iat;
      const issued = typeof iat === 'number' && iat * 1000 < exp ? iat * 1000 : startedAt;
      const margin = Math.min(refreshMarginMs, (exp - issued) * HANDOVER_LIMITS.maxRefreshFraction);
      if (exp - margin < due) {
        due = exp - margin;
        reason = 'token-expiry';
      }
    }
    if (due !== Number.POSITIVE_INFINITY) this.#at(due, () => void this.#start(reason));
  }

  /** No handover any more (the connection was lost, or the client closed): ends the one under way, if any. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#failures = 0;
    if (this.#run) this.#end(this.#run, 'the handover was called off', false);
  }

  async #start(reason: HandoverReason): Promise<void> {
    const { options, connection } = this.#host;
    if (this.#run || connection.state !== 'open') return;
    const began = Date.now();
    let end = (_error: Error) => {};
    const ended = new Promise<never>((_, reject) => {
      end = reject;
    });
    ended.catch(() => {});
    // Bounds the whole handover, getToken included: a hung one must not hold up the next.
    const limitMs = options.connectTimeoutMs + options.requestTimeoutMs;
    const deadline = setTimeout(() => this.#end(run, `the handover took over ${limitMs} ms`), limitMs);
    const run: Run = { reason, deadline, ended, end };
    this.#run = run;
    const current = connection.current.token;
    try {
      const token = await Promise.race([options.getToken(), ended]);
      const check = checkToken(token, options.room, Date.now());
      // A fixed token that fails now fails for good: the reconnect path reports it once the connection is lost.
      if (!check.ok) throw new Refused(check.detail, options.refreshable);
      // The same token again (from a cache, say) would be due for a handover at once, again and again.
      if (reason === 'token-expiry' && !((expiry(token) ?? 0) > (expiry(current) ?? 0)))
        throw new Refused('getToken gave no fresher token', true);
      const startedAt = Date.now();
      this.#runs += 1;
      const channel = new Requests((frame) => socket.send(JSON.stringify(frame)), yes, `h${this.#runs}.`);
      const socket = new Socket(options.WebSocket, socketUrl(options.url, token));
      run.channel = channel;
      run.socket = socket;
      const opened = new Promise<void>((open, fail) =>
        socket.listen({
          open,
          message: (text) => this.#host.receive(text, channel),
          end: (closed) => {
            const why = `the new connection ${closed.opened ? 'closed' : 'failed'} (${closed.status ?? closed.code})`;
            this.#end(run, why);
            fail(new Error(why));
          },
        }),
      );
      await Promise.race([opened, ended]);
      const swap = await Promise.race([
        this.#host.prepare(channel, (room) => roomAllowed(check.rooms, room)),
        ended,
      ]);
      if (this.#run !== run) return;
      clearTimeout(deadline);
      this.#run = undefined;
      swap(connection.replace(socket, token, check, startedAt));
      this.#host.done({ reason, durationMs: Date.now() - began });
      this.plan();
    } catch (error) {
      this.#end(run, (error as Error).message, !(error instanceof Refused) || error.retry);
    }
  }

  /** Ends `run`, if it is still under way: its socket closed, its requests failed; tried again unless `retry` is false. */
  #end(run: Run, why: string, retry = true): void {
    if (this.#run !== run) return;
    this.#run = undefined;
    clearTimeout(run.deadline);
    run.socket?.abandon(false);
    const error = new RoomcastError('CONNECTION_LOST', why);
    run.channel?.rejectAll(error);
    run.end(error);
    if (!retry) return;
    this.#failures += 1;
    const delayMs = backoffDelay(this.#failures, this.#host.options.reconnect);
    this.#at(Date.now() + delayMs, () => void this.#start(run.reason));
  }

  /** Runs `then` at `at` (epoch ms), in steps setTimeout can take. */
  #at(at: number, then: () => void): void {
    clearTimeout(this.#timer);
    const ms = at - Date.now();
    const step = ms > MAX_TIMER_MS ? () => this.#at(at, then) : then;
    this.#timer = setTimeout(step, Math.min(Math.max(0, ms), MAX_TIMER_MS));
  }
}

/** A token the handover cannot use; `retry`: whether asking getToken again may help. */
class Refused extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

const yes = () => true;

/** A token's `exp` in epoch ms; undefined when it has none the SDK can read. */
function expiry(token: string): number | undefined {
  const exp = decodeJwtPayload(token)?.exp;
  return typeof exp === 'number' ? exp * 1000 : undefined;
}
