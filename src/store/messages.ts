import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DirectFrame, MessageFrame } from '../protocol.ts';
import { messagesTable } from './tables.ts';

const PK = messagesTable.hashKey;
const SK = messagesTable.rangeKey;
const TTL = messagesTable.ttlAttribute;

/** A message as stored: its frame (src/protocol) without `action`, tagged with the kind of partition it lives in. */
export type RoomMessage = Omit<MessageFrame, 'action'> & { kind: 'room' };
export type DirectMessage = Omit<DirectFrame, 'action'> & { kind: 'direct' };

export type StoredMessage = RoomMessage | DirectMessage;

export interface SaveResult<M extends StoredMessage> {
  /** The stored message: the new one, or for a retried `client_msg_id` the one the first send stored. */
  message: M;
  /** True for exactly one of any number of (possibly concurrent) sends of the same message: that one delivers. */
  created: boolean;
}

export interface HistoryQuery {
  before?: string;
  after?: string;
  limit: number;
}

export interface HistoryPage {
  messages: StoredMessage[];
  hasMore: boolean;
}

export interface MessageStoreOptions {
  tableName: string;
  retentionSeconds: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

type Item = Record<string, unknown>;

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

  saveRoomMessage(message: RoomMessage): Promise<SaveResult<RoomMessage>> {
    return this.#saveOnce(message, message.user_id, `room:${message.room_id}`, [
      roomPartition(message.room_id),
    ]);
  }

  /** Writes the message into the recipient's and the sender's inbox (one copy when they are the same user). */
  saveDirectMessage(message: DirectMessage): Promise<SaveResult<DirectMessage>> {
    const inboxes = [...new Set([inboxPartition(message.to_user_id), inboxPartition(message.from_user_id)])];
    return this.#saveOnce(message, message.from_user_id, `dm:${message.to_user_id}`, inboxes);
  }

  /**
   * The direct message a first send with this `client_msg_id` stored, if any: a retry of it is acknowledged with
   * that message even when the recipient has left since.
   */
  async storedDirectMessage(
    senderId: string,
    toUserId: string,
    clientMsgId: string,
  ): Promise<DirectMessage | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: {
          [PK]: idempotencyPartition(senderId),
          [SK]: idempotencySortKey(`dm:${toUserId}`, clientMsgId),
        },
        ConsistentRead: true,
      }),
    );
    return Item?.message as DirectMessage | undefined;
  }

  roomHistory(roomId: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.#history(roomPartition(roomId), query);
  }

  directHistory(userId: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.#history(inboxPartition(userId), query);
  }

  /**
   * Stores `message` in each partition exactly once per (sender, scope, client_msg_id). Without transactions
   * (dynalite has none) this takes conditional writes: the idempotency marker decides which message a
   * client_msg_id means, and the conditional put into the first partition decides who delivers it (`created`).
   * The copies into the other partitions (a direct message's second inbox) are written on every attempt, as plain
   * puts of the same item: whatever an earlier attempt got through before it failed, a retry completes it, and
   * writing a copy twice leaves one copy.
   */
  async #saveOnce<M extends StoredMessage>(
    candidate: M,
    senderId: string,
    scope: string,
    partitions: string[],
  ): Promise<SaveResult<M>> {
    const ttl = this.#nowSeconds() + this.#retentionSeconds;
    let message = candidate;
    if (candidate.client_msg_id !== undefined) {
      const marker = {
        [PK]: idempotencyPartition(senderId),
        [SK]: idempotencySortKey(scope, candidate.client_msg_id),
        message: candidate,
        [TTL]: ttl,
      };
      if (!(await this.#putIfAbsent(marker))) {
        const existing = await this.#doc.send(
          new GetCommand({
            TableName: this.#table,
            Key: { [PK]: marker[PK], [SK]: marker[SK] },
            ConsistentRead: true,
          }),
        );
        message = (existing.Item?.message as M | undefined) ?? candidate;
      }
    }
    const [first, ...copies] = partitions;
    const created = await this.#putIfAbsent({
      ...message,
      [PK]: first,
      [SK]: message.message_id,
      [TTL]: ttl,
    });
    for (const partition of copies) {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...message, [PK]: partition, [SK]: message.message_id, [TTL]: ttl },
        }),
      );
    }
    return { message, created };
  }

  async #putIfAbsent(item: Item): Promise<boolean> {
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#sk)',
          ExpressionAttributeNames: { '#sk': SK },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * One page of a partition. `after` reads forward (catch-up, oldest first); otherwise it reads backward from
   * `before` or the newest message (newest first). Expired messages are filtered out: TTL deletion lags.
   */
  async #history(partition: string, { before, after, limit }: HistoryQuery): Promise<HistoryPage> {
    // Nothing lies strictly between them; and DynamoDB refuses a BETWEEN whose lower bound is above the upper one.
    if (before !== undefined && after !== undefined && after >= before)
      return { messages: [], hasMore: false };
    const forward = after !== undefined;
    const names: Record<string, string> = { '#pk': PK, '#ttl': TTL };
    const values: Item = { ':pk': partition, ':now': this.#nowSeconds() };
    let keyCondition = '#pk = :pk';
    if (before !== undefined && after !== undefined) {
      // BETWEEN is inclusive: the two cursors themselves are dropped below.
      keyCondition += ' AND #sk BETWEEN :after AND :before';
      Object.assign(values, { ':after': after, ':before': before });
    } else if (before !== undefined) {
      keyCondition += ' AND #sk < :before';
      values[':before'] = before;
    } else if (after !== undefined) {
      keyCondition += ' AND #sk > :after';
      values[':after'] = after;
    }
    if (keyCondition.includes('#sk')) names['#sk'] = SK;

    const found: StoredMessage[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: keyCondition,
          FilterExpression: '#ttl > :now',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: forward,
          ExclusiveStartKey: startKey,
          Limit: limit + 1 - found.length,
        }),
      );
      for (const item of page.Items ?? []) {
        if (item[SK] === before || item[SK] === after) continue;
        found.push(toMessage(item));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey && found.length <= limit);
    return { messages: found.slice(0, limit), hasMore: found.length > limit };
  }

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000);
  }
}

/** The sort key is the message_id itself; the partition is a real field (room_id) only for room messages. */
function toMessage(item: Item): StoredMessage {
  const { [TTL]: _ttl, ...message } = item;
  if (message.kind === 'direct') delete message[PK];
  return message as unknown as StoredMessage;
}

/**
 * Partitions of the messages table. Room ids cannot contain `#` (ROOM_ID_PATTERN, @roomcast/client/protocol), so the prefixed
 * partitions below can never collide with a room, and everything after a prefix is one whole user id.
 *
 * - `<room_id>`          the room's messages, sorted by message_id (a ULID, so by time);
 * - `inbox#<user_id>`    every direct message to or from that user: each direct message is written to both the
 *                        sender's and the recipient's inbox, so either can page or catch up with one Query;
 * - `idem#<user_id>`     idempotency markers, sort key `[scope, client_msg_id]` as JSON, holding the message
 *                        a first send created so a retry returns it instead of creating another.
 */
function roomPartition(roomId: string): string {
  return roomId;
}

function inboxPartition(userId: string): string {
  return `inbox#${userId}`;
}

function idempotencyPartition(userId: string): string {
  return `idem#${userId}`;
}

function idempotencySortKey(scope: string, clientMsgId: string): string {
  return JSON.stringify([scope, clientMsgId]);
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
