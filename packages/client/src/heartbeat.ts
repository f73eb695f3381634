/** Calls `beat` every `everyMs` while started; 0 turns it off. */
export class Heartbeat {
  readonly #everyMs: number;
  readonly #beat: () => void;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(everyMs: number, beat: () => void) {
    this.#everyMs = everyMs;
    this.#beat = beat;
  }

  start(): void {
    this.stop();
    if (this.#everyMs > 0) this.#timer = setInterval(this.#beat, this.#everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
