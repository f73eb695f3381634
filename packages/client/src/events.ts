type Listeners<Events> = { [K in keyof Events]?: Set<(value: Events[K]) => void> };

/** A minimal typed event emitter that runs in browsers and Node alike. */
export class Emitter<Events> {
  readonly #listeners: Listeners<Events> = {};
  readonly #onListenerError: (error: unknown) => void;

  /** A listener that throws must not break the caller's bookkeeping; by default its error is rethrown later. */
  constructor(onListenerError: (error: unknown) => void = rethrowLater) {
    this.#onListenerError = onListenerError;
  }

  /** Returns a function that removes the listener. */
  on<K extends keyof Events>(name: K, listener: (value: Events[K]) => void): () => void {
    const set = this.#listeners[name] ?? new Set();
    this.#listeners[name] = set;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<K extends keyof Events>(name: K, value: Events[K]): void {
    for (const listener of [...(this.#listeners[name] ?? [])]) {
      try {
        listener(value);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  clear(): void {
    for (const set of Object.values(this.#listeners) as Array<Set<unknown> | undefined>) set?.clear();
  }
}

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
