import { RoomcastError } from './errors.js';
import { randomId } from './ids.js';
import { PendingTable } from './pending.js';
import type { DirectFrame, ErrorFrame, MessageFrame, SendDirectFrame, SendMessageFrame } from './protocol.js';

/**
 * Sends waiting for the server to store them, by `client_msg_id`. A send made while no connection is open waits
 * here, and one in flight when a connection drops stays here: both go out again on the next connection with the
 * same `client_msg_id`, which the server stores and delivers once (a retry is answered with the first message).
 */
export class Outbox {
  readonly #pending: PendingTable<MessageFrame | DirectFrame>;
  readonly #timeoutMs: number;

  constructor(transmit: (frame: object) => void, timeoutMs: number) {
    this.#pending = new PendingTable(transmit);
    this.#timeoutMs = timeoutMs;
  }

  sendMessage(message: string, clientMsgId = randomId()): Promise<MessageFrame> {
    const frame: SendMessageFrame = { action: 'sendMessage', message, client_msg_id: clientMsgId };
    return this.#add(clientMsgId, frame) as Promise<MessageFrame>;
  }

  sendDirect(toUserId: string, message: string, clientMsgId = randomId()): Promise<DirectFrame> {
    const frame: SendDirectFrame = {
      action: 'sendDirect',
      to_user_id: toUserId,
      message,
      client_msg_id: clientMsgId,
    };
    return this.#add(clientMsgId, frame) as Promise<DirectFrame>;
  }

  /** A stored message seen live or in history: completes the send it answers when it is one of ours. */
  acknowledge(frame: MessageFrame | DirectFrame, me: string | undefined): void {
    const sender = frame.action === 'message' ? frame.user_id : frame.from_user_id;
    // client_msg_id is unique per sender only: another user may well have used the same one.
    if (frame.client_msg_id !== undefined && sender === me) this.#pending.resolve(frame.client_msg_id, frame);
  }

  /** An error frame; false when it is not about one of these sends. */
  fail(frame: ErrorFrame): boolean {
    return (
      frame.client_msg_id !== undefined &&
      this.#pending.reject(frame.client_msg_id, RoomcastError.fromFrame(frame))
    );
  }

  resend(): void {
    this.#pending.resend();
  }

  rejectAll(error: Error): void {
    this.#pending.rejectAll(error);
  }

  #add(clientMsgId: string, frame: SendMessageFrame | SendDirectFrame): Promise<MessageFrame | DirectFrame> {
    if (this.#pending.has(clientMsgId)) {
      return Promise.reject(
        new RoomcastError('BAD_REQUEST', `a send with client_msg_id ${clientMsgId} is pending`),
      );
    }
    return this.#pending.add(clientMsgId, frame, { timeoutMs: this.#timeoutMs, keep: true });
  }
}
