import { RoomcastError } from './errors.js';

interface Entry<T> {
  frame: object;
  /** Whether the request survives a lost connection (sent again on the next one) or fails with it. */
  keep: boolean;
  resolve(value: T): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface PendingOptions {
  timeoutMs: number;
  keep: boolean;
}

/**
 * Requests waiting for their answer, by correlation key. Each has a deadline; those kept across connections are
 * transmitted again whenever a new connection opens.
 */
export class PendingTable<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #transmit: (frame: object) => void;

  /** `transmit` sends a frame now if a connection is open, and otherwise does nothing. */
  constructor(transmit: (frame: object) => void) {
    this.#transmit = transmit;
  }

  add(key: string, frame: object, options: PendingOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => this.reject(key, new RoomcastError('TIMEOUT', `no answer within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      this.#entries.set(key, { frame, keep: options.keep, resolve, reject, timer });
      this.#transmit(frame);
    });
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  resolve(key: string, value: T): boolean {
    const entry = this.#settle(key);
    entry?.resolve(value);
    return entry !== undefined;
  }

  reject(key: string, error: Error): boolean {
    const entry = this.#settle(key);
    entry?.reject(error);
    return entry !== undefined;
  }

  /** A new connection opened: send again what is still waiting (it went out on a lost one, or never). */
  resend(): void {
    for (const entry of this.#entries.values()) this.#transmit(entry.frame);
  }

  /** The connection was lost: fail the requests that do not outlive it. */
  connectionLost(): void {
    for (const [key, entry] of this.#entries) {
      if (!entry.keep) this.reject(key, new RoomcastError('CONNECTION_LOST', 'the connection was lost'));
    }
  }

  rejectAll(error: Error): void {
    for (const key of [...this.#entries.keys()]) this.reject(key, error);
  }

  #settle(key: string): Entry<T> | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    clearTimeout(entry.timer);
    return entry;
  }
}
