/**
 * A roomcast server in memory, behind a WebSocket class, for the client's unit tests: rooms with their stored
 * messages, subscriptions per socket, and answers a tick later (as over a network).
 */
import assert from 'node:assert/strict';
import type { ErrorCode, HistoryFrame, MessageFrame, ServerFrame } from '../src/protocol.js';

export type Sent = Record<string, unknown> & { action: string; room_id?: string; ref?: string };

/** An unsigned JWT (the client never verifies one), issued now and valid for `lifetimeSeconds`. */
export function token(sub: string, rooms?: string[], lifetimeSeconds = 3600): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const iat = Math.floor(Date.now() / 1000);
  const claims = { sub, iat, exp: iat + lifetimeSeconds, ...(rooms && { rooms }) };
  return `${part({ alg: 'none' })}.${part(claims)}.sig`;
}

/**
 * The server's side of the protocol, in memory: rooms with their stored messages, subscriptions per socket, and
 * answers a tick later (as over a network). `hold` keeps back the answers to frames it matches until `release`.
 */
export class FakeServer {
  readonly stored = new Map<string, MessageFrame[]>();
  readonly sockets: FakeSocket[] = [];
  /** Every frame a client sent, on any socket. */
  readonly sent: Sent[] = [];
  /** Subscribes refused with this code, by room. */
  readonly refuse = new Map<string, ErrorCode>();
  /** The next subscribes of a room refused with these codes, one each. */
  readonly refuseNext = new Map<string, ErrorCode[]>();
  hold: ((frame: Sent, socket: FakeSocket) => boolean) | undefined;
  /** Frames the server never sees (lost on the way), by socket. */
  lose: ((frame: Sent, socket: FakeSocket) => boolean) | undefined;
  /** Sockets whose token the server holds expired: their next frame is answered TOKEN_EXPIRED, then closed. */
  readonly expired = new Set<FakeSocket>();
  /** How the next handshakes go: `open` (a tick later), `refuse` (closed without opening), `hang` (nothing). */
  handshake: (socket: FakeSocket) => 'open' | 'refuse' | 'hang' = () => 'open';
  readonly #held: Array<() => void> = [];
  readonly WebSocket: new (
    url: string,
  ) => FakeSocket;

  constructor() {
    const server = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url: string) {
        super(server, url);
      }
    };
  }

  get socket(): FakeSocket {
    const socket = this.sockets.at(-1);
    assert.ok(socket, 'a socket was opened');
    return socket;
  }

  /** Stores a message in `room`; `deliver: false` leaves it to history (a fan-out that failed). */
  store(
    room: string,
    text: string,
    { deliver = true, user = 'bob', clientMsgId = undefined as string | undefined } = {},
  ) {
    const messages = this.stored.get(room) ?? [];
    this.stored.set(room, messages);
    const frame: MessageFrame = {
      action: 'message',
      room_id: room,
      user_id: user,
      message: text,
      message_id: `${room}-${messages.length + 1}`,
      seq: messages.length + 1,
      timestamp: '',
      ...(clientMsgId !== undefined && { client_msg_id: clientMsgId }),
    };
    messages.push(frame);
    if (deliver) for (const socket of this.sockets) if (socket.rooms.has(room)) socket.push(frame);
    return frame;
  }

  release(): void {
    this.hold = undefined;
    for (const answer of this.#held.splice(0)) answer();
  }

  handle(socket: FakeSocket, frame: Sent): void {
    if (this.lose?.(frame, socket)) return;
    this.sent.push(frame);
    socket.sent.push(frame);
    if (this.expired.has(socket)) {
      socket.push({
        action: 'error',
        code: 'TOKEN_EXPIRED',
        message: 'the token of this connection has expired',
        ...(frame.ref !== undefined && { ref: frame.ref }),
        ...(frame.client_msg_id !== undefined && { client_msg_id: frame.client_msg_id as string }),
      });
      socket.drop(1000);
      return;
    }
    const reply = this.#reply(socket, frame);
    if (!reply) return;
    const send = () => setTimeout(() => socket.push(reply), 0);
    if (this.hold?.(frame, socket)) this.#held.push(send);
    else send();
  }

  /** The answer to `frame`, if the server answers it alone (a stored message goes to the whole room). */
  #reply(socket: FakeSocket, frame: Sent): ServerFrame | undefined {
    const ref = frame.ref === undefined ? {} : { ref: frame.ref };
    const room = frame.room_id as string;
    const fail = (code: ErrorCode): ServerFrame => ({
      action: 'error',
      code,
      message: code,
      ...ref,
      ...(frame.client_msg_id !== undefined && { client_msg_id: frame.client_msg_id as string }),
      ...(code === 'RATE_LIMITED' && { retry_after_ms: 20 }),
    });
    const latest = this.stored.get(room)?.length ?? 0;
    switch (frame.action) {
      case 'subscribe': {
        const refused = this.refuse.get(room) ?? this.refuseNext.get(room)?.shift();
        if (refused) return fail(refused);
        socket.rooms.add(room);
        const wantsPage = frame.after_seq !== undefined || frame.limit !== undefined;
        return {
          action: 'subscribed',
          room_id: room,
          latest_seq: latest,
          ...(wantsPage && { history: this.page(room, frame) }),
          ...ref,
        };
      }
      case 'unsubscribe':
        socket.rooms.delete(room);
        return { action: 'unsubscribed', room_id: room, ...ref };
      case 'getHistory':
        if (frame.direct) {
          const through = frame.after_seq === undefined ? {} : { through_seq: frame.after_seq as number };
          return {
            action: 'history',
            direct: true,
            messages: [],
            latest_seq: 0,
            has_more: false,
            ...through,
            ...ref,
          };
        }
        if (!socket.rooms.has(room)) return fail('FORBIDDEN');
        return { ...this.page(room, frame), ...ref };
      case 'sendMessage':
        if (!socket.rooms.has(room)) return fail('FORBIDDEN');
        this.store(room, frame.message as string, {
          user: socket.user,
          clientMsgId: frame.client_msg_id as string,
        });
        return undefined;
      case 'listMembers':
        if (!socket.rooms.has(room)) return fail('FORBIDDEN');
        return {
          action: 'members',
          room_id: room,
          users: [{ user_id: socket.user, connections: 1 }],
          latest_seq: latest,
          ...ref,
        };
      case 'sendDirect':
        return {
          action: 'direct',
          from_user_id: socket.user,
          to_user_id: frame.to_user_id as string,
          message: frame.message as string,
          message_id: `direct-${this.sent.length}`,
          seq: 1,
          timestamp: '',
          client_msg_id: frame.client_msg_id as string,
        };
      case 'ping': {
        const seqs = [...socket.rooms].map((id) => [id, this.stored.get(id)?.length ?? 0]);
        return {
          action: 'pong',
          timestamp: '',
          latest_seqs: Object.fromEntries(seqs),
          latest_direct_seq: 0,
          joined_direct_seq: 0,
          ...ref,
        };
      }
    }
    return undefined;
  }

  /** A history page of `room` as the protocol answers `frame`'s cursor and limit. */
  page(room: string, frame: Sent): HistoryFrame {
    const all = this.stored.get(room) ?? [];
    const limit = (frame.limit as number | undefined) ?? 50;
    const latest = all.length;
    if (frame.after_seq !== undefined) {
      const after = frame.after_seq as number;
      const messages = all.filter((m) => m.seq > after).slice(0, limit);
      const through = messages.at(-1)?.seq ?? Math.max(after, latest);
      return {
        action: 'history',
        room_id: room,
        messages,
        through_seq: through,
        latest_seq: latest,
        has_more: through < latest,
      };
    }
    const before = (frame.before_seq as number | undefined) ?? latest + 1;
    const messages = all
      .filter((m) => m.seq < before)
      .reverse()
      .slice(0, limit);
    const last = messages.at(-1)?.seq ?? 1;
    return {
      action: 'history',
      room_id: room,
      messages,
      latest_seq: latest,
      has_more: last > 1,
      ...(last > 1 && { next_before_seq: last }),
    };
  }
}

export class FakeSocket {
  onopen: ((event: object) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onerror: unknown = null;
  readonly rooms = new Set<string>();
  readonly user: string;
  /** Every frame the server got on this socket. */
  readonly sent: Sent[] = [];
  /** The close code, once closed by either side. */
  closedWith: number | undefined;

  constructor(
    readonly server: FakeServer,
    readonly url: string,
  ) {
    server.sockets.push(this);
    const claims = JSON.parse(
      Buffer.from(new URL(url).searchParams.get('token')?.split('.')[1] ?? '', 'base64url').toString(),
    );
    this.user = claims.sub;
    const handshake = server.handshake(this);
    if (handshake === 'open') setTimeout(() => this.onopen?.({}), 0);
    if (handshake === 'refuse') this.drop(1006);
  }

  get open(): boolean {
    return this.closedWith === undefined;
  }

  send(text: string): void {
    if (this.open) this.server.handle(this, JSON.parse(text));
  }

  push(frame: ServerFrame): void {
    if (this.open) this.onmessage?.({ data: JSON.stringify(frame) });
  }

  close(code = 1000): void {
    this.drop(code);
  }

  /** The connection is lost (from the server's side, or the network). */
  drop(code = 1006): void {
    if (!this.open) return;
    this.closedWith = code;
    this.rooms.clear();
    setTimeout(() => this.onclose?.({ code, reason: '' }), 0);
  }
}
