/**
 * Watches the raw bytes a client sends and reports the first data frame whose payload is longer than the limit.
 * API Gateway limits frames to 32 KB (larger messages must be fragmented) and closes with 1009 otherwise
 * (SPEC.md §7.2); `ws` only limits whole messages. Client frames are always masked, but the parser does not rely
 * on it.
 */
export class FrameSizeGuard {
  /** Header bytes of the frame being read, until its length is known. */
  #header: number[] = [];
  /** Payload bytes of the current frame still to skip. */
  #skip = 0;
  #violated = false;

  constructor(readonly maxFrameBytes: number) {}

  /** False once a data frame over the limit was seen (and for every chunk after that). */
  push(chunk: Buffer): boolean {
    let offset = 0;
    while (!this.#violated && offset < chunk.length) {
      if (this.#skip > 0) {
        const skipped = Math.min(this.#skip, chunk.length - offset);
        this.#skip -= skipped;
        offset += skipped;
        continue;
      }
      this.#header.push(chunk[offset] as number);
      offset += 1;
      this.#readHeader();
    }
    return !this.#violated;
  }

  #readHeader(): void {
    const header = this.#header;
    if (header.length < 2) return;
    const first = header[0] as number;
    const second = header[1] as number;
    const length7 = second & 0x7f;
    const lengthBytes = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    const maskBytes = second & 0x80 ? 4 : 0;
    if (header.length < 2 + lengthBytes + maskBytes) return;
    let length = length7;
    if (lengthBytes > 0) {
      length = 0;
      for (let i = 2; i < 2 + lengthBytes; i++) length = length * 256 + (header[i] as number);
    }
    const opcode = first & 0x0f;
    // Continuation (0), text (1) and binary (2) frames carry message data; control frames are limited by ws.
    if (opcode <= 2 && length > this.maxFrameBytes) this.#violated = true;
    this.#header = [];
    this.#skip = length;
  }
}
