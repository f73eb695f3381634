/**
 * Catch-up: every stored message handed to the application once, across reconnects. On each new connection the
 * client reads what it missed, page by page, from a cursor a little before the newest message it handed over;
 * live messages that arrive meanwhile are held back and merged in, and remembered ids drop the duplicates.
 */
import { CATCH_UP_PAGE_LIMIT, REMEMBERED_IDS } from './options.js';
import {
  MESSAGE_ID_ALPHABET as DIGITS,
  type DirectFrame,
  type HistoryFrame,
  MESSAGE_ID_CHARS,
  type MessageFrame,
  MESSAGE_ID_TIME_CHARS as TIME_DIGITS,
} from './protocol.js';

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
    if (this.#seen.size > REMEMBERED_IDS) {
      // A Set iterates in insertion order: this forgets the ids handed over longest ago.
      for (const id of [...this.#seen].slice(0, REMEMBERED_IDS / 2)) this.#seen.delete(id);
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
    // At least one message, to learn the newest stored id.
    const newestFirst = (await fetchPage({ limit: Math.max(1, options.initial) })).messages as F[];
    stream.start(newestFirst[0]?.message_id ?? FIRST_ID);
    return newestFirst.slice(0, options.initial).reverse();
  }
  const messages: F[] = [];
  let after = cursor;
  for (;;) {
    const page = await fetchPage({ after, limit: CATCH_UP_PAGE_LIMIT });
    messages.push(...(page.messages as F[]));
    const last = page.messages.at(-1);
    if (!page.has_more || !last) return messages;
    after = last.message_id;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Cursors: message ids are ULIDs, which sort by time
// ---------------------------------------------------------------------------------------------------------------

const RANDOM_DIGITS = MESSAGE_ID_CHARS - TIME_DIGITS;

/** Sorts before every message id: a cursor meaning "from the very start". */
export const FIRST_ID = '0'.repeat(MESSAGE_ID_CHARS);

/** The smallest id of `ms` milliseconds before `id`; ids that are not ULIDs are returned unchanged. */
export function rewind(id: string, ms: number): string {
  if (id.length !== MESSAGE_ID_CHARS) return id;
  let time = 0;
  for (const digit of id.slice(0, TIME_DIGITS)) {
    const value = DIGITS.indexOf(digit);
    if (value < 0) return id;
    time = time * 32 + value;
  }
  let rest = Math.max(0, time - ms);
  let digits = '';
  for (let i = 0; i < TIME_DIGITS; i += 1) {
    digits = DIGITS.charAt(rest % 32) + digits;
    rest = Math.floor(rest / 32);
  }
  return digits + '0'.repeat(RANDOM_DIGITS);
}

function maxId(a: string, b: string): string {
  return a > b ? a : b;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
