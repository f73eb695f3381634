/**
 * Who received which message, and when. Message texts are `<index>|<padding>`; each of the `clients` must get
 * each message exactly once.
 */
export class DeliveryTracker {
  readonly sentAt: Float64Array;
  /** When the last of the clients got each message (0 while incomplete). */
  readonly completedAt: Float64Array;
  readonly counts: Int32Array;
  #seen: Uint8Array;
  /** Checks the condition of the pending wait after each completed message. */
  #waiter: (() => void) | undefined;
  duplicates = 0;
  strays = 0;
  lastDeliveryAt = 0;

  constructor(
    readonly clients: number,
    readonly messages: number,
    readonly padding: string,
  ) {
    this.sentAt = new Float64Array(messages);
    this.completedAt = new Float64Array(messages);
    this.counts = new Int32Array(messages);
    this.#seen = new Uint8Array(clients * messages);
  }

  text(index: number): string {
    return `${index}|${this.padding}`;
  }

  markSent(index: number): void {
    this.sentAt[index] = performance.now();
  }

  deliver(client: number, text: string): void {
    const index = Number.parseInt(text, 10);
    if (!(index >= 0 && index < this.messages)) {
      this.strays++;
      return;
    }
    const slot = client * this.messages + index;
    if (this.#seen[slot]) {
      this.duplicates++;
      return;
    }
    this.#seen[slot] = 1;
    const now = performance.now();
    this.lastDeliveryAt = now;
    if (++(this.counts[index] as number) === this.clients) {
      this.completedAt[index] = now;
      this.#waiter?.();
    }
  }

  /** Resolves true once every client got message `index`; false after `stallMs` without any delivery. */
  waitFor(index: number, stallMs: number): Promise<boolean> {
    return this.#wait(() => this.counts[index] === this.clients, stallMs);
  }

  /** Resolves true once messages `from`…`to - 1` all reached every client; false as `waitFor`, or after `capMs`. */
  waitForAll(from: number, to: number, stallMs: number, capMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    return this.#wait(() => this.#complete(from, to), stallMs, capMs);
  }

  #wait(done: () => boolean, stallMs: number, capMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    const started = performance.now();
    return new Promise((resolve) => {
      const finish = (complete: boolean) => {
        clearInterval(timer);
        this.#waiter = undefined;
        resolve(complete);
      };
      const timer = setInterval(() => {
        const now = performance.now();
        if (now - Math.max(started, this.lastDeliveryAt) > stallMs || now - started > capMs) finish(false);
      }, 100);
      this.#waiter = () => {
        if (done()) finish(true);
      };
    });
  }

  #complete(from: number, to: number): boolean {
    for (let i = from; i < to; i++) if (this.counts[i] !== this.clients) return false;
    return true;
  }

  /** Deliveries of messages `from`…`to - 1` that never came, per client. */
  lostPerClient(from: number, to: number): number[] {
    const lost: number[] = [];
    for (let c = 0; c < this.clients; c++) {
      let missing = 0;
      for (let i = from; i < to; i++) if (!this.#seen[c * this.messages + i]) missing++;
      lost.push(missing);
    }
    return lost;
  }

  delivered(from: number, to: number): number {
    let total = 0;
    for (let i = from; i < to; i++) total += this.counts[i] as number;
    return total;
  }

  /** Send → last delivery, ms, of the complete messages among `from`…`to - 1`. */
  latencies(from: number, to: number): number[] {
    const out: number[] = [];
    for (let i = from; i < to; i++) {
      if (this.completedAt[i]) out.push((this.completedAt[i] as number) - (this.sentAt[i] as number));
    }
    return out;
  }
}
