import { FIRST_ID, maxId, rewind } from './cursor.js';
import { type DirectFrame, type HistoryFrame, MAX_HISTORY_LIMIT, type MessageFrame } from './protocol.js';

/** Catch-up reads the largest pages the protocol allows. */
export const HISTORY_PAGE_LIMIT = MAX_HISTORY_LIMIT;
/** Ids remembered for de-duplication; far more than one catch-up window holds. */
const SEEN_LIMIT = 5000;

type Stored = MessageFrame | DirectFrame;
export type FetchPage = (query: { after?: string; limit: number }) => Promise<HistoryFrame>;

/**
 * One stream of stored messages (the room, or the user's direct messages) as the application sees it: each message
 * once, and while a catch-up runs, live messages are held back and then handed over merged with the catch-up, in
 * message_id order.
 */
export class MessageStream<F extends Stored> {
  readonly #seen = new Set<string>();
  readonly #deliver: (frame: F) => void;
  #held: F[] | undefined;
  /** Messages up to this id predate the client (or were handed over at start); catch-up never reads before it. */
  #floor: string | undefined;
  #newest: string | undefined;

  constructor(deliver: (frame: F) => void, start?: string) {
    this.#deliver = deliver;
    this.#floor = start;
  }

  /** The newest message id handed to the application. */
  get newest(): string | undefined {
    return this.#newest;
  }

  live(frame: F): void {
    if (this.#held) this.#held.push(frame);
    else this.#hand(frame);
  }

  hold(): void {
    this.#held ??= [];
  }

  /** Ends a hold: hands over the caught-up messages and the held live ones together, in message_id order. */
  release(caughtUp: readonly F[]): void {
    const all = [...caughtUp, ...(this.#held ?? [])].sort((a, b) => compare(a.message_id, b.message_id));
    this.#held = undefined;
    for (const frame of all) this.#hand(frame);
  }

  /**
   * Where the next catch-up reads from; undefined until the stream has a starting point. It reads again the last
   * `overlapMs` before the newest message seen: message ids are taken before concurrent Lambdas store and fan
   * out, so a message can arrive after a newer one, and a connection that dropped in between would miss it.
   */
  cursor(overlapMs: number): string | undefined {
    if (this.#floor === undefined) return undefined;
    return this.#newest === undefined ? this.#floor : maxId(this.#floor, rewind(this.#newest, overlapMs));
  }

  start(floor: string): void {
    this.#floor = floor;
  }

  #hand(frame: F): void {
    if (this.#seen.has(frame.message_id)) return;
    this.#seen.add(frame.message_id);
    if (this.#seen.size > SEEN_LIMIT) {
      for (const id of [...this.#seen].slice(0, SEEN_LIMIT / 2)) this.#seen.delete(id);
    }
    this.#newest = this.#newest === undefined ? frame.message_id : maxId(this.#newest, frame.message_id);
    this.#deliver(frame);
  }
}

/**
 * Reads what the stream missed, every page of it. The first time (no starting point yet) it reads the newest
 * `initial` messages instead, and starts the stream from the newest stored one.
 */
export async function catchUp<F extends Stored>(
  stream: MessageStream<F>,
  fetchPage: FetchPage,
  options: { initial: number; overlapMs: number },
): Promise<F[]> {
  const cursor = stream.cursor(options.overlapMs);
  if (cursor === undefined) {
    const newestFirst = (await fetchPage({ limit: Math.max(1, options.initial) })).messages as F[];
    stream.start(newestFirst[0]?.message_id ?? FIRST_ID);
    return newestFirst.slice(0, options.initial).reverse();
  }
  const messages: F[] = [];
  let after = cursor;
  for (;;) {
    const page = await fetchPage({ after, limit: HISTORY_PAGE_LIMIT });
    messages.push(...(page.messages as F[]));
    const last = page.messages.at(-1);
    if (!page.has_more || !last) return messages;
    after = last.message_id;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
