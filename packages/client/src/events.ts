/**
 * Events: the typed emitter behind `client.on` and `room.on`, and what happens to a listener that throws.
 */
import { RoomcastError } from './requests.js';

type Listeners<Events> = { [K in keyof Events]?: Set<(value: Events[K]) => void> };

/** A minimal typed event emitter that runs in browsers and Node alike. */
export class Emitter<Events> {
  readonly #listeners: Listeners<Events> = {};
  readonly #onListenerError: (error: unknown, name: keyof Events) => void;

  /**
   * A listener that throws must not break the caller's bookkeeping (a socket's callback, a stream's order): its
   * error goes to `onListenerError`, never up the stack; by default it is the emitter's own `error` event
   * (`LISTENER_FAILED`, the thrown value as `cause`), and one an `error` listener throws goes to `console.error`.
   */
  constructor(onListenerError?: (error: unknown, name: keyof Events) => void) {
    this.#onListenerError = onListenerError ?? ((error, name) => this.#report(error, name));
  }

  /** Returns a function that removes the listener (as `off` does). */
  on<K extends keyof Events>(name: K, listener: (value: Events[K]) => void): () => void {
    const set = this.#listeners[name] ?? new Set();
    this.#listeners[name] = set;
    set.add(listener);
    return () => this.off(name, listener);
  }

  /** Like `on`, for the next event only. */
  once<K extends keyof Events>(name: K, listener: (value: Events[K]) => void): () => void {
    const off = this.on(name, (value) => {
      off();
      listener(value);
    });
    return off;
  }

  off<K extends keyof Events>(name: K, listener: (value: Events[K]) => void): void {
    this.#listeners[name]?.delete(listener);
  }

  emit<K extends keyof Events>(name: K, value: Events[K]): void {
    for (const listener of [...(this.#listeners[name] ?? [])]) {
      try {
        listener(value);
      } catch (error) {
        this.#onListenerError(error, name);
      }
    }
  }

  clear(): void {
    for (const set of Object.values(this.#listeners) as Array<Set<unknown> | undefined>) set?.clear();
  }

  #report(error: unknown, name: keyof Events): void {
    const message = error instanceof Error ? error.message : String(error);
    if (name === 'error') {
      // The only place left: throwing would reach the socket's callback.
      console.error(`roomcast: an "error" listener threw: ${message}`);
      return;
    }
    const failure = new RoomcastError(
      'LISTENER_FAILED',
      `a "${String(name)}" listener threw: ${message}`,
      undefined,
      {
        cause: error,
      },
    );
    this.emit('error' as keyof Events, failure as Events[keyof Events]);
  }
}
