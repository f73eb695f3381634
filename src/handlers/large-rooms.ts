/**
 * Rooms this container recently found over PRESENCE_MAX_ROOM_SIZE. Presence is skipped in them without asking
 * DynamoDB again, so connecting to a big room does not cost a query of a hundred-odd index entries each time.
 * A room that shrinks gets presence again once its entry expires.
 */
export class LargeRooms {
  readonly #until = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #maxRooms: number;

  constructor(options: { ttlMs: number; now?: () => number; maxRooms?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#maxRooms = options.maxRooms ?? 10_000;
  }

  has(roomId: string): boolean {
    const until = this.#until.get(roomId);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#until.delete(roomId);
    return false;
  }

  add(roomId: string): void {
    // Bounded: a container that sees very many big rooms forgets the oldest (Map keeps insertion order).
    this.#until.delete(roomId);
    if (this.#until.size >= this.#maxRooms) {
      const oldest = this.#until.keys().next().value;
      if (oldest !== undefined) this.#until.delete(oldest);
    }
    this.#until.set(roomId, this.#now() + this.#ttlMs);
  }
}

/** How long a container remembers that a room is too large for presence. */
export const LARGE_ROOM_MEMORY_MS = 30_000;
