import { RoomcastError } from './errors.js';
import { type PendingOptions, PendingTable } from './pending.js';
import type {
  ErrorFrame,
  GetHistoryFrame,
  HistoryFrame,
  ListMembersFrame,
  MembersFrame,
  PingFrame,
  PongFrame,
} from './protocol.js';

/** The requests answered by a frame that echoes their `ref`, and the action of that answer. */
interface Replies {
  getHistory: HistoryFrame;
  listMembers: MembersFrame;
  ping: PongFrame;
}
type Request = GetHistoryFrame | ListMembersFrame | PingFrame;
type Reply = Replies[keyof Replies];
type Unreferenced<F> = F extends unknown ? Omit<F, 'ref'> : never;

/**
 * Reads (`getHistory`, `listMembers`, `ping`), matched to their replies by `ref`: API Gateway runs requests
 * concurrently, so replies arrive in any order.
 */
export class Requests {
  readonly #pending: PendingTable<Reply>;
  #next = 0;

  constructor(transmit: (frame: object) => void) {
    this.#pending = new PendingTable(transmit);
  }

  request<F extends Unreferenced<Request>>(frame: F, options: PendingOptions): Promise<Replies[F['action']]> {
    this.#next += 1;
    const ref = `r${this.#next}`;
    return this.#pending.add(ref, { ...frame, ref }, options) as Promise<Replies[F['action']]>;
  }

  /** A reply frame; false when it answers none of ours (say, a `members` list nobody here asked for). */
  settle(frame: Reply): boolean {
    return frame.ref !== undefined && this.#pending.resolve(frame.ref, frame);
  }

  /** An error frame; false when it is not about one of these requests. */
  fail(frame: ErrorFrame): boolean {
    return frame.ref !== undefined && this.#pending.reject(frame.ref, RoomcastError.fromFrame(frame));
  }

  resend(): void {
    this.#pending.resend();
  }

  connectionLost(): void {
    this.#pending.connectionLost();
  }

  rejectAll(error: Error): void {
    this.#pending.rejectAll(error);
  }
}
