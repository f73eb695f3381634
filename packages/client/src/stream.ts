/**
 * Ordered streams: what the application gets of each room's messages, and of the user's direct messages. Each
 * stored message has a `seq` in its stream (1, 2, 3, …), so the SDK hands messages over strictly in seq order and
 * each once, by remembering one number: the last seq handed over. A frame that arrives ahead of a missing one
 * waits; a gap that does not fill within `repairDelayMs` is read from history, which also settles the seqs that
 * will never hold a message. After a reconnect, and when a heartbeat reports a newer seq than the last one seen,
 * the stream reads what it missed the same way.
 */
import type { DirectFrame, HistoryFrame, MessageFrame } from './protocol.js';

type Stored = MessageFrame | DirectFrame;

/** Why a stream read history: `handover` is the catch-up on the connection that replaces the open one. */
export type RepairReason = 'gap' | 'heartbeat' | 'reconnect' | 'handover';

export interface Repair {
  stream: 'room' | 'direct';
  /** The room, for a room's stream. */
  room?: string;
  reason: RepairReason;
  /** Messages handed over from history, that live delivery had missed or not yet brought. */
  recovered: number;
  /** Seqs history settled as empty: a write that failed, or a message past retention. */
  skipped: number;
}

export interface StreamReads {
  /** A forward page: the messages after `afterSeq`, oldest first, up to its `through_seq`. */
  after(afterSeq: number): Promise<HistoryFrame>;
  /** The newest `limit` messages before `beforeSeq` (of all, without it), newest first. */
  before(beforeSeq: number | undefined, limit: number): Promise<HistoryFrame>;
  /** The stream's newest seq when this connection joined, if the server says (a `pong`'s `joined_seq`). */
  joined(): Promise<number | undefined>;
  /**
   * Resolves once this client's sends in flight are answered: a fresh start waits for them, so that one sent
   * before the start is known (its answer held) and the start is placed below it.
   */
  ownSendsSettled(): Promise<void>;
}

export interface StreamOptions {
  /** How long a frame ahead of a missing seq waits for it before the gap is read from history. */
  repairDelayMs: number;
  /** Longest wait between reads of a seq the server reports is still being written. */
  maxRetryDelayMs: number;
  /** Most frames held back waiting for a gap; past it they are dropped and read from history instead. */
  maxBuffered: number;
}

export interface StreamHandlers<F extends Stored> {
  deliver(frame: F): void;
  repaired(repair: Repair): void;
}

export class OrderedStream<F extends Stored> {
  readonly #name: Repair['stream'];
  readonly #on: StreamHandlers<F>;
  readonly #reads: StreamReads;
  readonly #options: StreamOptions;
  /** The last seq handed over (or settled empty); undefined until the stream has a starting point. */
  #position: number | undefined;
  /** Frames ahead of a missing seq, by seq. */
  readonly #held = new Map<number, F>();
  /** The newest seq known to exist. */
  #known = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pendingReason: RepairReason | undefined;
  #reading: Promise<void> | undefined;
  #stopped = false;
  /** The server reported a newest seq below the position. */
  #behind = false;
  /** The wait before asking again for a seq still being written; stop() ends it early. */
  #wait: { timer: ReturnType<typeof setTimeout>; done(): void } | undefined;

  constructor(
    name: Repair['stream'],
    handlers: StreamHandlers<F>,
    reads: StreamReads,
    options: StreamOptions,
    start?: number,
  ) {
    this.#name = name;
    this.#on = handlers;
    this.#reads = reads;
    this.#options = options;
    this.#position = start;
  }

  /** The last seq handed over (or settled empty): keep it to resume after it later. */
  get position(): number | undefined {
    return this.#position;
  }

  /** A frame that arrived live. */
  live(frame: F): void {
    if (this.#position !== undefined && frame.seq <= this.#position) return;
    this.#known = Math.max(this.#known, frame.seq);
    if (this.#position !== undefined && frame.seq === this.#position + 1) {
      this.#hand(frame);
      this.#handHeld();
      return;
    }
    // Bounded: past the limit the frame is dropped; it is stored, so the repair reads it.
    if (this.#held.size < this.#options.maxBuffered) this.#held.set(frame.seq, frame);
    if (this.#position !== undefined) this.#schedule('gap');
  }

  /** The server's newest seq of this stream (a heartbeat, a members list): a newer one means something was missed. */
  latest(seq: number): void {
    this.#known = Math.max(this.#known, seq);
    if (this.#position === undefined) return;
    // Behind the position: the stream was started over (a new table); the read finds out and follows it.
    if (seq < this.#position) this.#behind = true;
    if (this.#known > this.#position || this.#behind) this.#schedule('heartbeat');
  }

  /**
   * On a new connection: the first time, starts `initial` seqs below the stream's newest seq when it was joined
   * and reads forward from there, so the newest messages are handed over first and every seq above the start
   * after them, once settled: also one whose writer was still at work at the join (a backward page cannot tell
   * such a seq from an empty one, and a start above it would drop it). After that, reads everything missed.
   * Rejects when a read fails.
   */
  async catchUp(initial: number): Promise<void> {
    await this.#reading?.catch(() => {});
    if (this.#position !== undefined) {
      await this.#read('reconnect');
      return;
    }
    await this.#reads.ownSendsSettled();
    const joined = await this.#reads.joined();
    if (this.#position !== undefined) return;
    if (joined === undefined) {
      await this.#startFromNewest(initial);
      return;
    }
    // Never above a frame this client already received live (on an earlier connection whose catch-up was cut
    // off, or the answer to its own send): those were stored after it joined, so they are its to see.
    const lowestHeld = Math.min(...this.#held.keys());
    this.#position = Math.max(0, Math.min(joined - initial, lowestHeld - 1));
    this.#known = Math.max(this.#known, joined);
    this.#handHeld();
    // The newest `initial` seqs are the start, not a repair: no `repair` event for them.
    if (this.#known > this.#position) await this.#read('reconnect', { report: false });
  }

  /**
   * A server that does not say where the stream stood at the join: starts after the newest stored message, with
   * the newest `initial` handed over (a seq below it still being written is then taken for empty).
   */
  async #startFromNewest(initial: number): Promise<void> {
    const newestFirst: F[] = [];
    let latest = 0;
    let before: number | undefined;
    // At least one message, to learn the newest stored; pages until `initial` (a page may be cut to fit a frame).
    for (;;) {
      const page = await this.#reads.before(before, Math.max(1, initial) - newestFirst.length);
      newestFirst.push(...(page.messages as F[]));
      latest = Math.max(latest, page.latest_seq);
      if (!page.has_more || page.next_before_seq === undefined || newestFirst.length >= Math.max(1, initial))
        break;
      before = page.next_before_seq;
    }
    if (this.#position !== undefined) return;
    const lowestHeld = Math.min(...this.#held.keys());
    const start = Math.min(newestFirst[0]?.seq ?? 0, lowestHeld - 1);
    this.#position = 0;
    for (const frame of newestFirst.slice(0, initial).reverse()) if (frame.seq <= start) this.#hand(frame);
    this.#position = start;
    this.#known = Math.max(this.#known, latest);
    this.#handHeld();
    if (this.#known > this.#position) this.#schedule('reconnect', 0);
  }

  /**
   * A handover: reads forward from the position with `read` (on the new connection, while the old one still
   * delivers), as far as history is settled; a seq still being written is left to the stream's own repair. Runs
   * beside a repair under way: each page settles its range, so both hand over each message once, in order.
   */
  async forward(read: StreamReads['after']): Promise<void> {
    if (this.#position === undefined) return;
    await this.#readLoop('handover', true, read);
    if (this.#position !== undefined && this.#known > this.#position) this.#schedule('gap');
  }

  /** No more reads (the client closed). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#wait) {
      clearTimeout(this.#wait.timer);
      this.#wait.done();
    }
  }

  #schedule(reason: RepairReason, delayMs = this.#options.repairDelayMs): void {
    this.#pendingReason ??= reason;
    if (this.#timer !== undefined || this.#reading || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const why = this.#pendingReason ?? reason;
      this.#pendingReason = undefined;
      if (this.#reading || this.#position === undefined) return;
      if (this.#known <= this.#position && !this.#behind) return;
      this.#read(why).catch(() => {
        // The connection is gone or the server failed: a reconnect catches up; otherwise try again later.
        this.#schedule(why, this.#options.maxRetryDelayMs);
      });
    }, delayMs);
  }

  /** Reads forward from the position until it reaches the newest known seq; `report`: a `repair` event. */
  #read(reason: RepairReason, { report = true } = {}): Promise<void> {
    const reading = this.#readLoop(reason, report).finally(() => {
      if (this.#reading === reading) this.#reading = undefined;
      // Frames that arrived meanwhile may need another repair.
      if (this.#position !== undefined && this.#known > this.#position)
        this.#schedule(this.#pendingReason ?? 'gap');
    });
    this.#reading = reading;
    return reading;
  }

  /** `read`: a handover's, which does not wait for seqs still being written. */
  async #readLoop(reason: RepairReason, report: boolean, read?: StreamReads['after']): Promise<void> {
    let recovered = 0;
    let skipped = 0;
    let delayMs = this.#options.repairDelayMs;
    try {
      while (!this.#stopped && this.#position !== undefined) {
        // Live frames may move the position on while the page is on its way: the page answers `asked`.
        const asked = this.#position;
        const page = await (read ?? this.#reads.after)(asked);
        this.#behind = false;
        if (page.latest_seq < asked) {
          // The server's stream ends before this position: it was started over (its table replaced, or the
          // position came from elsewhere). Follow it from its newest seq rather than wait for it to pass.
          this.#position = page.latest_seq;
          this.#known = page.latest_seq;
          this.#held.clear();
          return;
        }
        const through = page.through_seq ?? asked;
        let inRange = 0;
        for (const frame of page.messages as F[]) {
          if (frame.seq <= asked || frame.seq > through) continue;
          inRange += 1;
          if (frame.seq > this.#position) {
            // A frame held back had arrived live: it is not one the repair recovered.
            if (!this.#held.has(frame.seq)) recovered += 1;
            this.#hand(frame);
          }
        }
        skipped += Math.max(0, through - asked - inRange);
        this.#position = Math.max(this.#position, through);
        for (const seq of this.#held.keys()) if (seq <= this.#position) this.#held.delete(seq);
        this.#handHeld();
        this.#known = Math.max(this.#known, page.latest_seq);
        if (page.has_more && through > asked) continue;
        if (read || this.#position >= this.#known) return;
        // A seq is still being written (the server waits a bounded time before it gives up on one): ask again.
        await new Promise<void>((done) => {
          this.#wait = { timer: setTimeout(done, delayMs), done };
        });
        this.#wait = undefined;
        delayMs = Math.min(delayMs * 2, this.#options.maxRetryDelayMs);
      }
    } finally {
      if (report && recovered + skipped > 0)
        this.#on.repaired({ stream: this.#name, reason, recovered, skipped });
    }
  }

  #hand(frame: F): void {
    this.#position = frame.seq;
    this.#held.delete(frame.seq);
    this.#on.deliver(frame);
  }

  /** Hands over the held frames that follow on now, in order. */
  #handHeld(): void {
    if (this.#position === undefined) return;
    for (const seq of [...this.#held.keys()]) if (seq <= this.#position) this.#held.delete(seq);
    for (let next = this.#held.get(this.#position + 1); next; next = this.#held.get(this.#position + 1)) {
      this.#hand(next);
    }
  }
}

/**
 * With `catchUp: false` there is no order to keep, but a message must still be handed over once: during a
 * handover both connections deliver it, and a retried send's answer repeats it. The ids of the last `max`.
 */
export class RecentIds {
  readonly #ids = new Set<string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** Whether `id` is new; it is remembered either way. */
  fresh(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    // A Set keeps insertion order: the first is the oldest.
    if (this.#ids.size > this.#max) this.#ids.delete(this.#ids.values().next().value as string);
    return true;
  }
}
