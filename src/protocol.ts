import {
  type ClientAction,
  type ClientFrame,
  type ErrorCode,
  type ErrorFrame,
  MAX_CORRELATION_ID_CHARS,
  MAX_HISTORY_LIMIT,
  type PongFrame,
  ROOM_ID_PATTERN,
} from '@roomcast/client/protocol';
import * as z from './zod.ts';

/**
 * The wire protocol as the server sees it: the frame types, ids, limits and codes of `@roomcast/client/protocol`
 * (their one definition, dependency-free, which the SDK shares), the zod schemas that validate what clients send
 * (held to those types below), and the builders of the frames every route answers with.
 */
export * from '@roomcast/client/protocol';

const clientMsgId = z.string().check(z.minLength(1), z.maxLength(MAX_CORRELATION_ID_CHARS));
/** A client-chosen id the server echoes on the reply (and on an error), to match replies to requests. */
const ref = z.string().check(z.minLength(1), z.maxLength(MAX_CORRELATION_ID_CHARS));
const messageText = z.string().check(z.minLength(1));
const seq = z.int().check(z.minimum(0), z.maximum(Number.MAX_SAFE_INTEGER));

const roomId = z.string().check(z.regex(ROOM_ID_PATTERN));
const historyLimit = z.int().check(z.minimum(1), z.maximum(MAX_HISTORY_LIMIT));

const subscribeFrame = z.object({
  action: z.literal('subscribe'),
  room_id: roomId,
  after_seq: z.optional(seq),
  limit: z.optional(historyLimit),
  ref: z.optional(ref),
});

const unsubscribeFrame = z.object({
  action: z.literal('unsubscribe'),
  room_id: roomId,
  ref: z.optional(ref),
});

const sendMessageFrame = z.object({
  action: z.literal('sendMessage'),
  message: messageText,
  room_id: z.optional(roomId),
  client_msg_id: z.optional(clientMsgId),
});

const sendDirectFrame = z.object({
  action: z.literal('sendDirect'),
  to_user_id: z.string().check(z.minLength(1), z.maxLength(128)),
  message: messageText,
  client_msg_id: z.optional(clientMsgId),
});

const getHistoryFrame = z.object({
  action: z.literal('getHistory'),
  /** Catch-up: the messages after this seq, oldest first. */
  after_seq: z.optional(seq),
  /** Paging back: the newest messages before this seq. */
  before_seq: z.optional(seq),
  limit: z.optional(historyLimit),
  /** Read the caller's direct messages instead of a room. */
  direct: z.optional(z.boolean()),
  room_id: z.optional(roomId),
  ref: z.optional(ref),
});

const listMembersFrame = z.object({
  action: z.literal('listMembers'),
  room_id: z.optional(roomId),
  ref: z.optional(ref),
});

const pingFrame = z.object({ action: z.literal('ping'), ref: z.optional(ref) });

const clientFrame = z.discriminatedUnion('action', [
  subscribeFrame,
  unsubscribeFrame,
  sendMessageFrame,
  sendDirectFrame,
  getHistoryFrame,
  listMembersFrame,
  pingFrame,
]);

/** The schemas accept exactly the frames `@roomcast/client/protocol` declares: a type error here otherwise. */
// biome-ignore lint/correctness/noUnusedVariables: a compile-time check; its type annotation is the whole point.
const schemasMatchTheWireTypes: Same<z.infer<typeof clientFrame>, ClientFrame> = true;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

export const CLIENT_ACTIONS = clientFrame.def.options.map(
  (option) => option.shape.action.def.values[0],
) as ClientAction[];

export interface FrameLimits {
  /** Longest `message` accepted, in characters (code points). */
  readonly maxMessageChars: number;
}

/** What an answer to a frame echoes back so the client can tell which request it answers. */
export interface Correlation {
  client_msg_id?: string;
  ref?: string;
}

export type ParseResult<T> =
  | { ok: true; frame: T }
  | { ok: false; code: ErrorCode; message: string; correlation: Correlation };

/** Parses one client text frame. Never throws: every failure becomes a stable error code and a safe message. */
export function parseClientFrame(body: string | undefined, limits: FrameLimits): ParseResult<ClientFrame> {
  let json: unknown;
  try {
    json = JSON.parse(body ?? '');
  } catch {
    return { ok: false, code: 'BAD_REQUEST', message: 'frame is not valid JSON', correlation: {} };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, code: 'BAD_REQUEST', message: 'frame must be a JSON object', correlation: {} };
  }
  const correlation = correlationOf(json as Record<string, unknown>);
  const action = (json as { action?: unknown }).action;
  if (typeof action !== 'string') {
    return { ok: false, code: 'BAD_REQUEST', message: 'frame needs a string "action"', correlation };
  }
  if (!(CLIENT_ACTIONS as string[]).includes(action)) {
    return {
      ok: false,
      code: 'UNKNOWN_ACTION',
      message: `unknown action "${truncate(action, 40)}"`,
      correlation,
    };
  }
  if (action === 'getHistory' && ('after' in json || 'before' in json)) {
    const message = 'history cursors are seqs: after_seq and before_seq (after and before are no more)';
    return { ok: false, code: 'BAD_REQUEST', message, correlation };
  }
  const parsed = clientFrame.safeParse(json);
  if (!parsed.success) {
    return { ok: false, code: 'BAD_REQUEST', message: describeIssues(parsed.error), correlation };
  }
  const frame = parsed.data;
  if (frame.action === 'getHistory' && frame.after_seq !== undefined && frame.before_seq !== undefined) {
    const message = 'after_seq reads forward and before_seq backward: send one of them';
    return { ok: false, code: 'BAD_REQUEST', message, correlation };
  }
  if (frame.action === 'getHistory' && frame.direct && frame.room_id !== undefined) {
    const message = 'direct reads the inbox, room_id a room: send one of them';
    return { ok: false, code: 'BAD_REQUEST', message, correlation };
  }
  if ('message' in frame && overMessageLimit(frame.message, limits.maxMessageChars)) {
    return {
      ok: false,
      code: 'TOO_LARGE',
      message: `message is longer than ${limits.maxMessageChars} characters`,
      correlation,
    };
  }
  return { ok: true, frame };
}

/** Whether a message's text is over the limit (MAX_MESSAGE_CHARS), counted as the limit counts: in code points. */
export function overMessageLimit(text: string, maxChars: number): boolean {
  return [...text].length > maxChars;
}

/** The correlation fields of a frame, kept only when they are valid: they are echoed back verbatim. */
export function correlationOf(frame: { client_msg_id?: unknown; ref?: unknown }): Correlation {
  const valid = (value: unknown): value is string => clientMsgId.safeParse(value).success;
  return {
    ...(valid(frame.client_msg_id) && { client_msg_id: frame.client_msg_id }),
    ...(valid(frame.ref) && { ref: frame.ref }),
  };
}

function describeIssues(error: z.core.$ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const path = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') return `unknown field(s): ${issue.keys.join(', ')}`;
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function errorFrame(code: ErrorCode, message: string, requestId?: string): ErrorFrame {
  return { action: 'error', code, message, ...(requestId && { request_id: requestId }) };
}

/** What a pong reports: the newest seqs of the rooms held and of the inbox, and those of the connect URL's room. */
export interface PongSeqs {
  latest?: { rooms: Record<string, number>; direct: number };
  /** The connect URL's room: its newest seq now and when the connection joined (absent without such a room). */
  connectRoom?: { latest: number; joined?: number };
  joinedDirect?: number;
}

export function pongFrame(now: Date, seqs: PongSeqs = {}, ref?: string): PongFrame {
  const { latest, connectRoom, joinedDirect } = seqs;
  return {
    action: 'pong',
    timestamp: now.toISOString(),
    ...(latest && { latest_seqs: latest.rooms, latest_direct_seq: latest.direct }),
    ...(connectRoom && { latest_seq: connectRoom.latest }),
    ...(connectRoom?.joined !== undefined && { joined_seq: connectRoom.joined }),
    ...(joinedDirect !== undefined && { joined_direct_seq: joinedDirect }),
    ...(ref !== undefined && { ref }),
  };
}

/**
 * API Gateway's limit for one message to a client (a PostToConnection payload): 128 KB. Not to be confused with
 * its 32 KB frame limit, which bounds what a client sends (see MAX_MESSAGE_CHARS in config.ts).
 */
export const MAX_MESSAGE_BYTES = 128 * 1024;

/**
 * Drops items from the end of `frame[listKey]` until the frame fits in one WebSocket message (or in `maxBytes`,
 * when it goes inside another frame), and says whether any were dropped. Long pages of history or members can
 * otherwise exceed what API Gateway accepts.
 * `whenTrimmed` makes the frame a trimmed list is sent in (a `truncated` flag, a cursor from the last item kept);
 * what it adds counts against the limit too, so the frame sent is the one measured.
 *
 * Each item is serialized once: re-serializing the whole frame after every drop would cost O(n²) for a page of
 * long messages (a cheap getHistory must not buy a client much CPU).
 */
export function fitToMessage<F extends object, K extends keyof F>(
  frame: F,
  listKey: K,
  whenTrimmed: (trimmed: F) => F = (trimmed) => trimmed,
  maxBytes = MAX_MESSAGE_BYTES,
): { frame: F; trimmed: boolean } {
  const list = [...(frame[listKey] as unknown[])];
  const fitted = { ...frame, [listKey]: list };
  let size = byteLength(fitted);
  if (size <= maxBytes) return { frame: fitted, trimmed: false };
  while (list.length > 0 && size > maxBytes) {
    // The item's own JSON, and the comma before it unless it was the only one.
    size -= byteLength(list.pop()) + (list.length > 0 ? 1 : 0);
  }
  // What `whenTrimmed` adds is a few dozen bytes, so this loop drops an item or two at most; with exact
  // arithmetic above it also guards that.
  for (;;) {
    const final = whenTrimmed(fitted);
    if (list.length === 0 || byteLength(final) <= maxBytes) return { frame: final, trimmed: true };
    list.pop();
  }
}

const encoder = new TextEncoder();

export function byteLength(value: unknown): number {
  return encoder.encode(JSON.stringify(value)).length;
}
