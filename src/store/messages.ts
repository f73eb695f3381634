import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DirectFrame, MessageFrame } from '../protocol.ts';
import { batchGetItems, messagesTable } from './tables.ts';

/**
 * Chat history as ordered streams. Every room, and every user's direct-message inbox, is a stream: its messages
 * are numbered 1, 2, 3, … (`seq`) in the order they are stored, and a reader who has seen up to n knows exactly
 * what comes next. docs/server.md ("Streams and seq") explains the design; this file is all of it.
 *
 * Partitions of the messages table (room ids never contain `#`, so the prefixed ones cannot collide with a room):
 *
 * - `<room_id>`, `inbox#<user_id>`  a stream: one item per seq, a message copy or a void (a seq that holds none);
 * - `seq#<stream>`                  the stream's counter, at seq 0: the last seq taken and when (never expires);
 * - `idem#[user, scope, id]`        the idempotency marker of one client_msg_id, at seq 0: the message its first
 *                                   send stored and the seq it holds in each stream.
 */

const STREAM = messagesTable.hashKey;
const SEQ = messagesTable.rangeKey;
const TTL = messagesTable.ttlAttribute;

/** The timing of holes (seqs taken but not written): why each number is what it is, in docs/server.md. */
export const SEQ_TIMING = {
  /** A writer never writes a seq it took longer ago than this (by its own clock): it voids it, takes another. */
  writeDeadlineMs: 10_000,
  /** A missing seq taken less than this before a later one's allocation may still be written: readers wait. */
  holePendingMs: 30_000,
  /** Missing this long, a seq cannot be written any more by anyone: readers skip it without writing a void. */
  holeVoidWindowMs: 15 * 60_000,
  /** Most voids one read writes, and most items it examines: what one getHistory can cost. */
  maxVoidsPerRead: 100,
  maxItemsPerRead: 1_000,
  /** Items per Query page, whatever the page `limit`: voids and expired items are read past in few Queries. */
  queryPageItems: 100,
  /** Attempts to place one copy of a message (each after a void took its seq) before the send fails. */
  maxPlacements: 5,
} as const;

/** A message as stored: its frame (src/protocol) without `action`, tagged with the kind of stream it lives in. */
export type RoomMessage = Omit<MessageFrame, 'action'> & { kind: 'room' };
export type DirectMessage = Omit<DirectFrame, 'action'> & { kind: 'direct' };
export type StoredMessage = RoomMessage | DirectMessage;

/** A message as a handler hands it over: the store gives it its `seq`. */
export type NewMessage<M extends StoredMessage> = Omit<M, 'seq'>;

/** One stream's copy of a saved message. */
export interface Copy<M extends StoredMessage> {
  /** With this stream's `seq`. For a retried `client_msg_id`, the message the first send stored. */
  message: M;
  /** This call wrote the copy (of any number of concurrent sends of one client_msg_id, exactly one does): it delivers it. */
  created: boolean;
}

export interface DirectCopies {
  recipient: Copy<DirectMessage>;
  /** The same copy as `recipient` when users message themselves. */
  sender: Copy<DirectMessage>;
}

export interface HistoryQuery {
  afterSeq?: number;
  beforeSeq?: number;
  limit: number;
  /**
   * A backward read strongly consistent (forward reads always are): a subscribe's first page holds every message
   * stored before it was read.
   */
  consistent?: boolean;
}

export interface HistoryPage {
  messages: StoredMessage[];
  /** Forward pages: every seq up to this one is settled (a message in `messages`, or none for good). */
  throughSeq?: number;
  latestSeq: number;
  /** More can be read now, from `throughSeq` (forward) or `nextBeforeSeq` (backward). */
  hasMore: boolean;
  /** Backward pages with more: the `before_seq` of the next page. */
  nextBeforeSeq?: number;
}

export interface LatestSeqs {
  rooms: Record<string, number>;
  direct: number;
}

export interface MessageStoreOptions {
  tableName: string;
  retentionSeconds: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

type Item = Record<string, unknown>;
interface Claim {
  seq: number;
  /** When it was taken, by the taker's clock. */
  at: number;
}

/** Chat history: messages are stored before they are delivered, so a client that blinked can catch up. */
export class MessageStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionSeconds: number;
  readonly #now: () => number;

  constructor(doc: DynamoDBDocumentClient, options: MessageStoreOptions) {
    this.#doc = doc;
    this.#table = options.tableName;
    this.#retentionSeconds = options.retentionSeconds;
    this.#now = options.now ?? Date.now;
  }

  async saveRoomMessage(message: NewMessage<RoomMessage>): Promise<Copy<RoomMessage>> {
    const [copy] = await this.#save(message, message.user_id, scopeOf(message, `room:${message.room_id}`), [
      roomStream(message.room_id),
    ]);
    return copy as Copy<RoomMessage>;
  }

  /**
   * Writes the message into the recipient's and the sender's inbox (one copy when they are the same user). A
   * system message (`system`) has no sender's inbox: its `from_user_id` is a name, not a user, so the recipient's
   * copy is the only one (and `sender` is that copy).
   */
  async saveDirectMessage(message: NewMessage<DirectMessage>): Promise<DirectCopies> {
    const streams = [
      ...new Set([
        inboxStream(message.to_user_id),
        ...(message.system ? [] : [inboxStream(message.from_user_id)]),
      ]),
    ];
    const [recipient, sender] = await this.#save(
      message,
      message.from_user_id,
      scopeOf(message, `dm:${message.to_user_id}`),
      streams,
    );
    return {
      recipient: recipient as Copy<DirectMessage>,
      sender: (sender ?? recipient) as Copy<DirectMessage>,
    };
  }

  /** Whether a direct message was stored under this `client_msg_id`: its retry is answered even if the recipient left. */
  async hasDirectMessage(senderId: string, toUserId: string, clientMsgId: string): Promise<boolean> {
    return (await this.#get(markerKey(senderId, `dm:${toUserId}`, clientMsgId))) !== undefined;
  }

  roomHistory(roomId: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.#history(roomStream(roomId), query);
  }

  directHistory(userId: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.#history(inboxStream(userId), query);
  }

  /**
   * The newest seq of each room and of a user's inbox (0 before the first message), as a heartbeat reports them:
   * eventually consistent counter reads, in BatchGetItem calls of up to 100 keys.
   */
  async latestSeqs(roomIds: readonly string[], userId: string): Promise<LatestSeqs> {
    const streams = [...new Set(roomIds.map(roomStream)), inboxStream(userId)];
    const counters = await this.#counters(streams);
    // Own properties however the ids read: `rooms[id] = …` with an id such as `__proto__` would set the prototype.
    const rooms = Object.fromEntries(
      roomIds.map((roomId) => [roomId, counters.get(roomStream(roomId)) ?? 0]),
    );
    return { rooms, direct: counters.get(inboxStream(userId)) ?? 0 };
  }

  /**
   * A room's newest seq. `consistent` when the caller needs every seq allocated before the read (a subscribe
   * reads it after its subscription is written: a seq above it is fanned out after the write, so delivered).
   */
  async roomLatestSeq(roomId: string, { consistent = false } = {}): Promise<number> {
    return (await this.#counter(roomStream(roomId), consistent))?.seq ?? 0;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Writing: a seq per stream, then the message at it
  // -------------------------------------------------------------------------------------------------------------

  /**
   * Stores `candidate` once in each stream. Without transactions (dynalite has none) this takes conditional
   * writes: a seq is taken from each stream's counter; with a `client_msg_id`, the idempotency marker, put only
   * if absent, decides which message and which seqs that id means (a send that loses to an earlier one voids the
   * seqs it took); then each copy is put at its seq, only if the seq is still empty. Every step is safe to repeat,
   * so a retry completes whatever an earlier attempt left undone, and writes nothing twice.
   */
  async #save<M extends StoredMessage>(
    candidate: NewMessage<M>,
    senderId: string,
    scope: string,
    streams: string[],
  ): Promise<Copy<M>[]> {
    // Names this call's writes, so that a write whose response was lost is still known as this call's own.
    const attempt = randomUUID();
    const marker =
      candidate.client_msg_id === undefined ? undefined : markerKey(senderId, scope, candidate.client_msg_id);
    // A retry (the usual case of a known client_msg_id) takes no seq: a seq taken and voided would hold every
    // ordered reader of the stream back until they read it as empty.
    const known = marker && (await this.#get(marker));
    if (marker && known) {
      return this.#placeAll(streams, known.message as NewMessage<M>, claimsOf(known), marker, attempt);
    }
    let claims = await this.#allocateAll(streams);
    let message = candidate;
    if (marker) {
      const first = await this.#putIfAbsent({
        ...marker,
        message: candidate,
        seqs: claims.map((claim) => claim.seq),
        at: claims.map((claim) => claim.at),
        attempt,
        [TTL]: this.#expiry(),
      }).catch(async (error: unknown) => {
        await Promise.all(claims.map((claim, i) => this.#voidQuietly(streams[i] as string, claim)));
        throw error;
      });
      // Refused: a concurrent retry's marker, or this call's own whose answer was lost (the SDK sent it again).
      const stored = first ? undefined : await this.#get(marker);
      if (stored && stored.attempt !== attempt) {
        // The concurrent send's message and seqs stand.
        await Promise.all(claims.map((claim, i) => this.#voidQuietly(streams[i] as string, claim)));
        message = stored.message as NewMessage<M>;
        claims = claimsOf(stored);
      } else if (!first && !stored) {
        throw new Error('the idempotency marker expired while it was read');
      }
    }
    return this.#placeAll(streams, message, claims, marker, attempt);
  }

  /** A seq in each stream; if one cannot be taken, the ones taken are voided at once. */
  async #allocateAll(streams: string[]): Promise<Claim[]> {
    const taken = await Promise.allSettled(streams.map((stream) => this.#allocate(stream)));
    const failed = taken.find((claim) => claim.status === 'rejected');
    if (!failed) return taken.map((claim) => (claim as PromiseFulfilledResult<Claim>).value);
    await Promise.all(
      taken.map((claim, i) =>
        claim.status === 'fulfilled' ? this.#voidQuietly(streams[i] as string, claim.value) : undefined,
      ),
    );
    throw failed.reason;
  }

  async #placeAll<M extends StoredMessage>(
    streams: string[],
    message: NewMessage<M>,
    claims: Claim[],
    marker: Item | undefined,
    attempt: string,
  ): Promise<Copy<M>[]> {
    // Settled, not all: a copy that fails must not leave the other one's write running unwatched.
    const copies = await Promise.allSettled(
      streams.map((stream, i) => this.#place(stream, i, message, claims[i] as Claim, marker, attempt)),
    );
    const failed = copies.find((copy) => copy.status === 'rejected');
    if (failed) throw failed.reason;
    return copies.map((copy) => (copy as PromiseFulfilledResult<Copy<M>>).value);
  }

  /** Takes the next seq of a stream. */
  async #allocate(stream: string): Promise<Claim> {
    const at = this.#now();
    const { Attributes } = await this.#doc.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: counterKey(stream),
        UpdateExpression: 'ADD #last :one SET #at = :at',
        ExpressionAttributeNames: { '#last': 'last', '#at': 'at' },
        ExpressionAttributeValues: { ':one': 1, ':at': at },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return { seq: Number(Attributes?.last), at };
  }

  /**
   * Puts one copy at its seq. A seq found holding a void (a reader gave up on it, or this writer was too slow)
   * is given up for a new one, recorded in the marker so that a retry finds it.
   */
  async #place<M extends StoredMessage>(
    stream: string,
    index: number,
    message: NewMessage<M>,
    initial: Claim,
    marker: Item | undefined,
    attempt: string,
  ): Promise<Copy<M>> {
    let claim = initial;
    try {
      for (let placement = 0; placement < SEQ_TIMING.maxPlacements; placement++) {
        if (this.#now() - claim.at <= SEQ_TIMING.writeDeadlineMs) {
          const item = {
            ...message,
            [STREAM]: stream,
            [SEQ]: claim.seq,
            at: claim.at,
            attempt,
            [TTL]: this.#expiry(),
          };
          if (await this.#putIfAbsent(item)) return { message: toMessage(item) as M, created: true };
        } else {
          await this.#putIfAbsent(this.#voidItem(stream, claim));
        }
        const found = await this.#get({ [STREAM]: stream, [SEQ]: claim.seq });
        if (found && found.kind !== 'void' && found.message_id === message.message_id) {
          // Written by this very call when the SDK retried a put whose response was lost: still this call's to
          // deliver. Written by another call (an earlier attempt, a concurrent retry): that one delivers it.
          return { message: toMessage(found) as M, created: found.attempt === attempt };
        }
        claim = await this.#reclaim(stream, index, claim, marker);
      }
    } catch (error) {
      // Readers would wait for this seq until it is old enough to give up on; voiding it now spares them.
      await this.#voidQuietly(stream, claim);
      throw error;
    }
    throw new Error(`no seq of ${stream} could be written in ${SEQ_TIMING.maxPlacements} attempts`);
  }

  /** A new seq in place of `old`, agreed with the marker so concurrent retries end up at one seq. */
  async #reclaim(stream: string, index: number, old: Claim, marker: Item | undefined): Promise<Claim> {
    const fresh = await this.#allocate(stream);
    if (!marker) return fresh;
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: marker,
          UpdateExpression: `SET #seqs[${index}] = :seq, #at[${index}] = :at`,
          ConditionExpression: `#seqs[${index}] = :old`,
          ExpressionAttributeNames: { '#seqs': 'seqs', '#at': 'at' },
          ExpressionAttributeValues: { ':seq': fresh.seq, ':at': fresh.at, ':old': old.seq },
        }),
      );
      return fresh;
    } catch (error) {
      await this.#voidQuietly(stream, fresh);
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const stored = await this.#get(marker);
      const claim = stored && claimsOf(stored)[index];
      if (!claim) throw new Error('the idempotency marker expired while it was read');
      return claim;
    }
  }

  #voidItem(stream: string, claim: Claim): Item {
    return { [STREAM]: stream, [SEQ]: claim.seq, kind: 'void', at: claim.at, [TTL]: this.#expiry() };
  }

  /** Best effort: a void not written now is written by the first reader that waits for this seq long enough. */
  async #voidQuietly(stream: string, claim: Claim): Promise<void> {
    await this.#putIfAbsent(this.#voidItem(stream, claim)).catch(() => false);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Reading
  // -------------------------------------------------------------------------------------------------------------

  #history(
    stream: string,
    { afterSeq, beforeSeq, limit, consistent = false }: HistoryQuery,
  ): Promise<HistoryPage> {
    return afterSeq === undefined
      ? this.#readBackward(stream, beforeSeq, limit, consistent)
      : this.#readForward(stream, afterSeq, limit);
  }

  /**
   * The messages after `after`, oldest first, as far as every seq is settled. A missing seq (taken, not written)
   * is waited for while a writer may still write it; then it is voided, so that no writer can put a message
   * behind readers that went past it. See SEQ_TIMING.
   */
  async #readForward(stream: string, after: number, limit: number): Promise<HistoryPage> {
    const counter = this.#counter(stream, true);
    const budget = { voids: SEQ_TIMING.maxVoidsPerRead, items: SEQ_TIMING.maxItemsPerRead };
    const messages: StoredMessage[] = [];
    let through = after;
    let latest = 0;
    let startKey: Item | undefined;
    let stopped: { hasMore: boolean } | undefined;
    scan: do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: '#stream = :stream AND #seq > :after',
          ExpressionAttributeNames: { '#stream': STREAM, '#seq': SEQ },
          ExpressionAttributeValues: { ':stream': stream, ':after': after },
          ConsistentRead: true,
          Limit: Math.max(limit + 1, SEQ_TIMING.queryPageItems),
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        budget.items -= 1;
        if (budget.items < 0) {
          stopped = { hasMore: true };
          break scan;
        }
        const seq = item[SEQ] as number;
        latest = Math.max(latest, seq);
        if (seq > through + 1) {
          const gap = await this.#settle(stream, through + 1, seq - 1, item.at as number, budget);
          through = gap.through;
          if (gap.stop) {
            stopped = gap.stop;
            break scan;
          }
        }
        if (item.kind !== 'void' && !this.#expired(item)) {
          if (messages.length === limit) {
            stopped = { hasMore: true };
            break scan;
          }
          messages.push(toMessage(item));
        }
        through = seq;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);

    const last = await counter;
    latest = Math.max(latest, last?.seq ?? 0);
    if (!stopped && last && last.seq > through) {
      // The tail: seqs taken whose writes have not landed (yet). The counter's time bounds when they were taken.
      const gap = await this.#settle(stream, through + 1, last.seq, last.at, budget);
      through = gap.through;
      stopped = gap.stop;
    }
    return { messages, throughSeq: through, latestSeq: latest, hasMore: stopped?.hasMore ?? false };
  }

  /**
   * Settles the missing seqs `from`..`to`, all taken before `takenBy` (the time a later seq was taken). Returns
   * how far they are settled, and why it stopped short: a writer may still be at work (`hasMore: false`: ask
   * again later), or a seq filled in meanwhile or the read's budget ran out (`hasMore: true`: ask again now).
   */
  async #settle(
    stream: string,
    from: number,
    to: number,
    takenBy: number,
    budget: { voids: number },
  ): Promise<{ through: number; stop?: { hasMore: boolean } }> {
    const age = this.#now() - takenBy;
    if (age < SEQ_TIMING.holePendingMs) return { through: from - 1, stop: { hasMore: false } };
    // Nobody can write these any more (or they expired and were deleted): nothing to guard against.
    if (age >= SEQ_TIMING.holeVoidWindowMs) return { through: to };
    const count = Math.min(to - from + 1, budget.voids);
    budget.voids -= count;
    const seqs = Array.from({ length: count }, (_, i) => from + i);
    const voided = await Promise.all(
      seqs.map((seq) => this.#putIfAbsent(this.#voidItem(stream, { seq, at: takenBy }))),
    );
    const filled = voided.indexOf(false);
    if (filled >= 0) return { through: from + filled - 1, stop: { hasMore: true } };
    if (from + count - 1 < to) return { through: from + count - 1, stop: { hasMore: true } };
    return { through: to };
  }

  /** The newest messages before `before` (or the newest of all), newest first. */
  async #readBackward(
    stream: string,
    before: number | undefined,
    limit: number,
    consistent: boolean,
  ): Promise<HistoryPage> {
    const counter = this.#counter(stream, consistent);
    const messages: StoredMessage[] = [];
    let latest = 0;
    let items = SEQ_TIMING.maxItemsPerRead;
    /** Where the next page starts: below the last message, or below the last item read when the budget ran out. */
    let next: number | undefined;
    let lowestRead: number | undefined;
    let startKey: Item | undefined;
    scan: do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression:
            before === undefined ? '#stream = :stream' : '#stream = :stream AND #seq < :before',
          ExpressionAttributeNames: { '#stream': STREAM, ...(before !== undefined && { '#seq': SEQ }) },
          ExpressionAttributeValues: {
            ':stream': stream,
            ...(before !== undefined && { ':before': before }),
          },
          ScanIndexForward: false,
          ConsistentRead: consistent,
          Limit: Math.max(limit + 1, SEQ_TIMING.queryPageItems),
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const seq = item[SEQ] as number;
        latest = Math.max(latest, seq);
        items -= 1;
        const empty = item.kind === 'void' || this.#expired(item);
        if (!empty && messages.length === limit) {
          next = messages.at(-1)?.seq;
          break scan;
        }
        if (items < 0) {
          next = lowestRead;
          break scan;
        }
        if (!empty) messages.push(toMessage(item));
        lowestRead = seq;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return {
      messages,
      latestSeq: Math.max(latest, (await counter)?.seq ?? 0),
      hasMore: next !== undefined,
      ...(next !== undefined && { nextBeforeSeq: next }),
    };
  }

  /** The last seq of each stream's counter (eventually consistent); streams without one are left out. */
  async #counters(streams: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const items = await batchGetItems(this.#doc, this.#table, streams.map(counterKey), { what: 'counters' });
    for (const item of items) found.set((item[STREAM] as string).slice('seq#'.length), Number(item.last));
    return found;
  }

  /** A stream's counter: its last seq and when that was taken; undefined before the stream's first message. */
  async #counter(stream: string, consistent: boolean): Promise<Claim | undefined> {
    const item = await this.#get(counterKey(stream), consistent);
    return item ? { seq: Number(item.last), at: Number(item.at) } : undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Items
  // -------------------------------------------------------------------------------------------------------------

  async #putIfAbsent(item: Item): Promise<boolean> {
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#seq)',
          ExpressionAttributeNames: { '#seq': SEQ },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async #get(key: Item, consistent = true): Promise<Item | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: consistent }),
    );
    return Item;
  }

  #expiry(): number {
    return this.#nowSeconds() + this.#retentionSeconds;
  }

  /** TTL deletion lags by up to days: an expired item may still be read, and is skipped. */
  #expired(item: Item): boolean {
    return typeof item[TTL] === 'number' && item[TTL] <= this.#nowSeconds();
  }

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000);
  }
}

function roomStream(roomId: string): string {
  return roomId;
}

function inboxStream(userId: string): string {
  return `inbox#${userId}`;
}

function counterKey(stream: string): Item {
  return { [STREAM]: `seq#${stream}`, [SEQ]: 0 };
}

/** Scope: the room (`room:<id>`) or the recipient (`dm:<user>`); a client_msg_id is unique per sender and scope. */
/**
 * The scope of a message's client_msg_id. A system message's is its own, so a user whose id is the publisher's
 * name (say `system`) cannot make a retry of its client_msg_id answer with a system message, or the other way.
 */
function scopeOf(message: { system?: true }, scope: string): string {
  return message.system ? `system:${scope}` : scope;
}

function markerKey(userId: string, scope: string, clientMsgId: string): Item {
  return { [STREAM]: `idem#${JSON.stringify([userId, scope, clientMsgId])}`, [SEQ]: 0 };
}

function claimsOf(marker: Item): Claim[] {
  const seqs = marker.seqs as number[];
  const at = marker.at as number[];
  return seqs.map((seq, i) => ({ seq: Number(seq), at: Number(at[i]) }));
}

/** An item as the message it holds: without the table's own attributes. */
function toMessage(item: Item): StoredMessage {
  const { [STREAM]: _stream, [TTL]: _ttl, at: _at, attempt: _attempt, ...message } = item;
  return message as unknown as StoredMessage;
}

/** Stored messages as the frames clients receive. */
export function messageFrame({ kind: _kind, ...message }: RoomMessage): MessageFrame {
  return { action: 'message', ...message };
}

export function directFrame({ kind: _kind, ...message }: DirectMessage): DirectFrame {
  return { action: 'direct', ...message };
}

export function storedFrame(message: StoredMessage): MessageFrame | DirectFrame {
  return message.kind === 'room' ? messageFrame(message) : directFrame(message);
}
