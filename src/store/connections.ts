import { setTimeout as delay } from 'node:timers/promises';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateScan,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { RoomSize } from '@roomcast/admin';
import { connectionsTable, subscriptionsTable } from './tables.ts';

/**
 * Open connections and the rooms they hold. Two tables (docs/server.md, "Connections and subscriptions"):
 *
 * - connections: one record per connection, keyed by its id: its user, the rooms its token allows, and `rooms`,
 *   the set of rooms it holds. The set bounds them (a conditional update), authorizes room frames (the record is
 *   read anyway), and says which subscriptions to delete when the connection goes.
 * - subscriptions: one item per (room, connection), keyed by room: a broadcast is one strongly consistent Query.
 *
 * An item never outlives its record's claim, even when subscribes, unsubscribes and the connection's end race:
 * a subscribe writes the claim, then the item, then reads the record again and deletes its item if the claim is
 * gone; an unsubscribe removes the claim, then the item; `$disconnect` deletes the record, then the items it
 * claimed. An item left standing was put by a subscribe that found the claim after its put, and any removal of
 * the claim after that is followed by a delete of the item (docs/server.md). The other way round a race can leave
 * a claim without its item (an unsubscribe sent with the subscribe, whose delete comes last): the connection
 * then receives nothing of a room it may act on, which harms only itself, and a subscribe again repairs it. Both carry the connection's TTL, so whatever `$disconnect`
 * misses (it is best effort on AWS) expires with the connection.
 */

export interface ConnectionRecord {
  connection_id: string;
  user_id: string;
  /** Epoch seconds. */
  ttl: number;
  /** ISO 8601. */
  created_at: string;
  /** The rooms this connection holds; absent when it holds none (DynamoDB has no empty sets). */
  rooms?: Set<string>;
  /** The token's `rooms` claim (exact ids and `prefix*` patterns); absent when the token had none (any room). */
  allowed_rooms?: string[];
  /** The room named in the connect URL, if any, and its newest seq then. */
  connect_room_id?: string;
  joined_seq?: number;
  /**
   * The newest seq of the user's inbox when the connection was registered: where a client that starts fresh
   * starts, so that every direct message delivered to this connection comes after it.
   */
  joined_direct_seq?: number;
  /** The connect token's `iat` (seconds) and `jti`: which connections a revocation closes. */
  token_issued_at?: number;
  token_id?: string;
  /** The connect token's `exp` (seconds): the connection's first frame after it closes it (TOKEN_EXPIRED). */
  token_expires_at?: number;
  /**
   * Records of versions before subscriptions: the one room they joined. `get` moves it into `rooms`, and makes it
   * the only room the connection may hold (those versions did not keep the token's claim).
   */
  room_id?: string;
}

/** One connection of a room, and whose it is. */
export interface RoomMember {
  user_id: string;
  connection_id: string;
}

export interface ConnectionStoreOptions {
  tableName: string;
  subscriptionsTableName: string;
  ttlSeconds: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** `Limit` of each room or user query page; DynamoDB's 1 MB page bound applies either way. */
  queryPageSize?: number;
}

/**
 * What `subscribe` did: `added` the room, found it `held` already, refused it (`full`), found no record (`gone`),
 * or found that an unsubscribe of the room (or the connection's end) crossed it (`withdrawn`: not held).
 */
export type SubscribeResult = 'added' | 'held' | 'full' | 'gone' | 'withdrawn';

const CONNECTION_ID = connectionsTable.hashKey;
const TTL = connectionsTable.ttlAttribute;
const ROOM_ID = subscriptionsTable.hashKey;
const SUBSCRIPTION_TTL = subscriptionsTable.ttlAttribute;
/** ISO 8601 in UTC, fixed width, so string order is time order. */
const CREATED_AT = 'created_at' satisfies keyof ConnectionRecord;
const ROOMS = 'rooms' satisfies keyof ConnectionRecord;
const USER_ID = connectionsTable.indexes.byUser.hashKey;
const byUser = connectionsTable.indexes.byUser;

// Compile-time guard: the record's attribute names are the ones the table definitions declare.
const definedAttributes = [CONNECTION_ID, TTL, USER_ID] as const;
definedAttributes satisfies readonly (keyof ConnectionRecord)[];
subscriptionsTable.rangeKey satisfies typeof CONNECTION_ID;

/** BatchWriteItem's most requests per call, and the calls one batch may take before it fails. */
const BATCH_WRITE_MAX_ITEMS = 25;
const BATCH_ATTEMPTS = 6;

type Item = Record<string, unknown>;

export class ConnectionStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #subscriptionsTableName: string;
  readonly #ttlSeconds: number;
  readonly #now: () => number;
  readonly #pageSize: number | undefined;

  constructor(doc: DynamoDBDocumentClient, options: ConnectionStoreOptions) {
    this.#doc = doc;
    this.#tableName = options.tableName;
    this.#subscriptionsTableName = options.subscriptionsTableName;
    this.#ttlSeconds = options.ttlSeconds;
    this.#now = options.now ?? Date.now;
    this.#pageSize = options.queryPageSize;
  }

  /** Registers a connection; with `roomId` (the connect URL's room) it holds that room from the start. */
  async put(input: {
    connectionId: string;
    userId: string;
    roomId?: string;
    allowedRooms?: readonly string[];
    joined?: { room?: number; direct: number };
    token?: { issuedAt: number; expiresAt: number; tokenId?: string };
  }): Promise<ConnectionRecord> {
    // dynalite stores empty keys; real DynamoDB rejects them, so catch it here for both.
    requireId('connectionId', input.connectionId);
    requireId('userId', input.userId);
    if (input.roomId !== undefined) requireId('roomId', input.roomId);
    const nowMs = this.#now();
    const record: ConnectionRecord = {
      connection_id: input.connectionId,
      user_id: input.userId,
      ttl: Math.floor(nowMs / 1000) + this.#ttlSeconds,
      created_at: new Date(nowMs).toISOString(),
      ...(input.roomId !== undefined && { rooms: new Set([input.roomId]), connect_room_id: input.roomId }),
      ...(input.allowedRooms && { allowed_rooms: [...input.allowedRooms] }),
      ...(input.joined?.room !== undefined && { joined_seq: input.joined.room }),
      ...(input.joined && { joined_direct_seq: input.joined.direct }),
      ...(input.token && { token_issued_at: input.token.issuedAt, token_expires_at: input.token.expiresAt }),
      ...(input.token?.tokenId !== undefined && { token_id: input.token.tokenId }),
    };
    if (input.roomId === undefined) {
      await this.#doc.send(new PutCommand({ TableName: this.#tableName, Item: record }));
      return record;
    }
    // Record and item in one call, one round trip: the connection does not exist until `$connect` returns, so no
    // subscribe, unsubscribe or `$disconnect` can cross it, and a fan-out that finds the item first and meets a
    // 410 leaves it alone (the grace of `removeGone` holds for an item without its record too). If either write
    // fails, `$connect` fails and the connection never opens: what was written is a gone connection's, pruned
    // like one.
    await this.#batchWrite({
      [this.#tableName]: [{ PutRequest: { Item: record } }],
      [this.#subscriptionsTableName]: [
        { PutRequest: { Item: this.#subscriptionItem(record, input.roomId) } },
      ],
    });
    return record;
  }

  /**
   * Adds `roomId` to the connection's rooms, at most `maxRooms` of them (one conditional update decides, so
   * concurrent subscribes cannot pass the cap; skipped when `record` holds the room already, so a repeated
   * subscribe does not rewrite a record of many rooms), then writes the subscription item, then reads the record
   * again (strongly consistent): if the room is no longer claimed, an unsubscribe or the connection's end crossed
   * this call, and the item just written is deleted. Safe to repeat: a held room's item is written again (a retry
   * after a failed item write completes it). `created`: the item did not exist before (the connection's first
   * subscription to the room, for presence).
   */
  async subscribe(
    record: ConnectionRecord,
    roomId: string,
    maxRooms: number,
  ): Promise<{ result: SubscribeResult; created: boolean }> {
    requireId('roomId', roomId);
    let held = roomsOf(record).has(roomId);
    if (!held) {
      try {
        const { Attributes } = await this.#doc.send(
          new UpdateCommand({
            TableName: this.#tableName,
            Key: { [CONNECTION_ID]: record.connection_id },
            UpdateExpression: 'ADD #rooms :room',
            ConditionExpression:
              'attribute_exists(#id) AND (attribute_not_exists(#rooms) OR contains(#rooms, :roomId) OR size(#rooms) < :max)',
            ExpressionAttributeNames: { '#id': CONNECTION_ID, '#rooms': ROOMS },
            ExpressionAttributeValues: { ':room': new Set([roomId]), ':roomId': roomId, ':max': maxRooms },
            ReturnValues: 'UPDATED_OLD',
          }),
        );
        held = (Attributes?.[ROOMS] as Set<string> | undefined)?.has(roomId) ?? false;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        return { result: (await this.#getRaw(record.connection_id)) ? 'full' : 'gone', created: false };
      }
    }
    const created = await this.#putSubscription(record, roomId);
    const now = await this.#getRaw(record.connection_id);
    if (!now || !roomsOf(now).has(roomId)) {
      await this.#deleteSubscription(roomId, record.connection_id);
      return { result: now ? 'withdrawn' : 'gone', created: false };
    }
    return { result: held ? 'held' : 'added', created };
  }

  /**
   * Removes `roomId` from the connection: the record's claim first, then the item (see the class comment for why
   * in this order). Returns whether an item was there (the connection's subscription ended here, for presence).
   */
  async unsubscribe(connectionId: string, roomId: string): Promise<boolean> {
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { [CONNECTION_ID]: connectionId },
          UpdateExpression: 'DELETE #rooms :room',
          ConditionExpression: 'attribute_exists(#id)',
          ExpressionAttributeNames: { '#id': CONNECTION_ID, '#rooms': ROOMS },
          ExpressionAttributeValues: { ':room': new Set([roomId]) },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    return this.#deleteSubscription(roomId, connectionId);
  }

  /** Removes a connection's record and every subscription it held; returns the record (with its rooms). */
  async remove(connectionId: string): Promise<ConnectionRecord | undefined> {
    const result = await this.#doc.send(
      new DeleteCommand({
        TableName: this.#tableName,
        Key: { [CONNECTION_ID]: connectionId },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const record = result.Attributes as ConnectionRecord | undefined;
    if (record) await this.#deleteSubscriptions(roomsOf(record), connectionId);
    return record;
  }

  /**
   * Removes the record and the subscriptions of a connection that answered 410 Gone, unless it was created in the
   * last `graceSeconds`: while its `$connect` is still running a connection answers 410 too, and must not lose
   * the record it just wrote. `roomId`: the room whose fan-out met the 410; its item is pruned even when the
   * record is already gone (deleted by another prune, or expired). Returns whether anything was removed.
   */
  async removeGone(connectionId: string, graceSeconds: number, roomId?: string): Promise<boolean> {
    const cutoff = new Date(this.#now() - graceSeconds * 1000).toISOString();
    let record: ConnectionRecord | undefined;
    try {
      const result = await this.#doc.send(
        new DeleteCommand({
          TableName: this.#tableName,
          Key: { [CONNECTION_ID]: connectionId },
          ConditionExpression: 'attribute_not_exists(#id) OR #created_at < :cutoff',
          ExpressionAttributeNames: { '#id': CONNECTION_ID, '#created_at': CREATED_AT },
          ExpressionAttributeValues: { ':cutoff': cutoff },
          ReturnValues: 'ALL_OLD',
        }),
      );
      record = result.Attributes as ConnectionRecord | undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
    if (record) {
      await this.#deleteSubscriptions(
        new Set([...roomsOf(record), ...(roomId ? [roomId] : [])]),
        connectionId,
      );
      return true;
    }
    if (roomId === undefined) return false;
    // No record: an item left behind (its record expired, or a prune died between the two deletes).
    return this.#deleteSubscription(roomId, connectionId, cutoff);
  }

  /**
   * The record as it is stored (strongly consistent), without `get`'s move of a previous version's record: for
   * readers that only look (a revocation reads which token opened a connection).
   */
  async peek(connectionId: string): Promise<ConnectionRecord | undefined> {
    const record = await this.#getRaw(connectionId);
    return record && record.ttl > this.#nowSeconds() ? record : undefined;
  }

  /**
   * The live record of a connection. A record written by a version before subscriptions (one `room_id`, no
   * `rooms`) is moved over on this first read: its room becomes a subscription, so connections opened before an
   * upgrade keep their room.
   */
  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const record = await this.#getRaw(connectionId);
    if (!record || record.ttl <= this.#nowSeconds()) return undefined;
    if (record.room_id !== undefined && record.rooms === undefined) return this.#upgrade(record);
    return record;
  }

  /** Pages of live connection ids in a room; never loads the whole room at once. */
  async *roomConnectionIds(roomId: string): AsyncGenerator<string[]> {
    for await (const items of this.#roomQuery(roomId, [CONNECTION_ID])) {
      yield items.map((item) => item[CONNECTION_ID] as string);
    }
  }

  /**
   * The live connections of a room with their users, or undefined when it has more than `max`: reads at most
   * about `max + 1` items, so asking whether a room is small stays cheap however large it is.
   */
  async roomMembersUpTo(roomId: string, max: number): Promise<RoomMember[] | undefined> {
    const members: RoomMember[] = [];
    for await (const items of this.#roomQuery(roomId, [CONNECTION_ID, USER_ID], max + 1)) {
      members.push(...items.map(member));
      if (members.length > max) return undefined;
    }
    return members;
  }

  async roomMembers(roomId: string): Promise<RoomMember[]> {
    const members: RoomMember[] = [];
    for await (const items of this.#roomQuery(roomId, [CONNECTION_ID, USER_ID])) {
      members.push(...items.map(member));
    }
    return members;
  }

  /**
   * Live connections, counted by a Scan of user_id-index with `Select: COUNT`: the index's items (user, connection,
   * ttl) are a fraction of the records' size, and a Scan is billed by the bytes it reads.
   */
  async countLive(): Promise<number> {
    let count = 0;
    const pages = paginateScan(
      { client: this.#doc },
      {
        TableName: this.#tableName,
        IndexName: byUser.name,
        Select: 'COUNT',
        FilterExpression: '#ttl > :now',
        ExpressionAttributeNames: { '#ttl': TTL },
        ExpressionAttributeValues: { ':now': this.#nowSeconds() },
      },
    );
    for await (const page of pages) count += page.Count ?? 0;
    return count;
  }

  /**
   * Live subscriptions by room, from a Scan of the subscriptions table (room ids only): how many rooms have any,
   * and the `top` biggest. At most `maxRooms` distinct rooms are counted one by one (the memory of one call);
   * past them `partial` is set and only the totals are exact.
   */
  async roomSizes(
    top: number,
    maxRooms: number,
  ): Promise<{ rooms: number; subscriptions: number; biggest: RoomSize[]; partial: boolean }> {
    const sizes = new Map<string, number>();
    let subscriptions = 0;
    let untracked = 0;
    const pages = paginateScan(
      { client: this.#doc },
      {
        TableName: this.#subscriptionsTableName,
        ProjectionExpression: '#room',
        FilterExpression: '#ttl > :now',
        ExpressionAttributeNames: { '#room': ROOM_ID, '#ttl': SUBSCRIPTION_TTL },
        ExpressionAttributeValues: { ':now': this.#nowSeconds() },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const roomId = item[ROOM_ID] as string;
        subscriptions++;
        const known = sizes.get(roomId);
        if (known !== undefined) sizes.set(roomId, known + 1);
        else if (sizes.size < maxRooms) sizes.set(roomId, 1);
        else untracked++;
      }
    }
    const biggest = [...sizes]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, top)
      .map(([room_id, connections]) => ({ room_id, connections }));
    return { rooms: sizes.size, subscriptions, biggest, partial: untracked > 0 };
  }

  async userConnectionIds(userId: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const items of this.#queryLive(
      { TableName: this.#tableName, IndexName: byUser.name, ttlName: TTL },
      USER_ID,
      userId,
      [CONNECTION_ID],
    )) {
      for (const item of items) ids.push(item[CONNECTION_ID] as string);
    }
    return ids;
  }

  /** A room's subscriptions, strongly consistent: a subscription written before the query began is in it. */
  #roomQuery(roomId: string, attributes: string[], pageSize = this.#pageSize) {
    return this.#queryLive(
      { TableName: this.#subscriptionsTableName, ConsistentRead: true, ttlName: SUBSCRIPTION_TTL },
      ROOM_ID,
      roomId,
      attributes,
      pageSize,
    );
  }

  /**
   * Every page of a query, following LastEvaluatedKey. Expired items are filtered out because TTL deletion lags;
   * since Limit and the 1 MB bound apply before the filter, a page can come back empty.
   */
  async *#queryLive(
    {
      ttlName,
      ...target
    }: { TableName: string; IndexName?: string; ConsistentRead?: boolean; ttlName: string },
    keyName: string,
    keyValue: string,
    attributes: string[],
    pageSize = this.#pageSize,
  ) {
    const names: Record<string, string> = { '#key': keyName, '#ttl': ttlName };
    attributes.forEach((attribute, i) => {
      names[`#a${i}`] = attribute;
    });
    let startKey: Item | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({
          ...target,
          KeyConditionExpression: '#key = :key',
          FilterExpression: '#ttl > :now',
          ProjectionExpression: attributes.map((_, i) => `#a${i}`).join(', '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':key': keyValue, ':now': this.#nowSeconds() },
          ExclusiveStartKey: startKey,
          Limit: pageSize,
        }),
      );
      startKey = page.LastEvaluatedKey;
      if (page.Items && page.Items.length > 0) yield page.Items;
    } while (startKey);
  }

  async #getRaw(connectionId: string): Promise<ConnectionRecord | undefined> {
    const result = await this.#doc.send(
      // Strongly consistent: the record is usually read right after its own `$connect` wrote it.
      new GetCommand({
        TableName: this.#tableName,
        Key: { [CONNECTION_ID]: connectionId },
        ConsistentRead: true,
      }),
    );
    return result.Item as ConnectionRecord | undefined;
  }

  /** Writes a subscription item (again); returns whether there was none before. */
  async #putSubscription(record: ConnectionRecord, roomId: string): Promise<boolean> {
    const { Attributes } = await this.#doc.send(
      new PutCommand({
        TableName: this.#subscriptionsTableName,
        Item: this.#subscriptionItem(record, roomId),
        ReturnValues: 'ALL_OLD',
      }),
    );
    return Attributes === undefined;
  }

  #subscriptionItem(record: ConnectionRecord, roomId: string): Item {
    return {
      [ROOM_ID]: roomId,
      [CONNECTION_ID]: record.connection_id,
      [USER_ID]: record.user_id,
      [SUBSCRIPTION_TTL]: record.ttl,
      [CREATED_AT]: new Date(this.#now()).toISOString(),
    };
  }

  /** Deletes one subscription item (only one created before `cutoff`, when given); returns whether one was there. */
  async #deleteSubscription(roomId: string, connectionId: string, cutoff?: string): Promise<boolean> {
    try {
      const { Attributes } = await this.#doc.send(
        new DeleteCommand({
          TableName: this.#subscriptionsTableName,
          Key: { [ROOM_ID]: roomId, [CONNECTION_ID]: connectionId },
          ReturnValues: 'ALL_OLD',
          ...(cutoff !== undefined && {
            ConditionExpression: 'attribute_not_exists(#id) OR #created_at < :cutoff',
            ExpressionAttributeNames: { '#id': CONNECTION_ID, '#created_at': CREATED_AT },
            ExpressionAttributeValues: { ':cutoff': cutoff },
          }),
        }),
      );
      return Attributes !== undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Deletes the items of `roomIds` for one connection, 25 per BatchWriteItem call. */
  async #deleteSubscriptions(roomIds: Iterable<string>, connectionId: string): Promise<void> {
    const keys = [...roomIds].map((roomId) => ({ [ROOM_ID]: roomId, [CONNECTION_ID]: connectionId }));
    for (let start = 0; start < keys.length; start += BATCH_WRITE_MAX_ITEMS) {
      await this.#batchWrite({
        [this.#subscriptionsTableName]: keys
          .slice(start, start + BATCH_WRITE_MAX_ITEMS)
          .map((key) => ({ DeleteRequest: { Key: key } })),
      });
    }
  }

  /** One BatchWriteItem of at most 25 requests, its unprocessed requests sent again until none are left. */
  async #batchWrite(requestItems: Record<string, Item[]>): Promise<void> {
    let requests: Record<string, Item[]> | undefined = requestItems;
    for (let attempt = 0; requests && Object.keys(requests).length > 0; attempt++) {
      // Unprocessed requests come back under throttling: retried with a short backoff, then the call fails.
      if (attempt >= BATCH_ATTEMPTS) throw new Error('batch write: requests left unprocessed');
      if (attempt > 0) await delay(Math.min(1000, 25 * 2 ** attempt));
      const result = await this.#doc.send(new BatchWriteCommand({ RequestItems: requests }));
      requests = result.UnprocessedItems as Record<string, Item[]> | undefined;
    }
  }

  /** Moves a record of the previous version's shape over: its room becomes a subscription (see `get`). */
  async #upgrade(record: ConnectionRecord): Promise<ConnectionRecord | undefined> {
    const roomId = record.room_id as string;
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { [CONNECTION_ID]: record.connection_id },
          UpdateExpression:
            'ADD #rooms :room SET #connect_room = :roomId, #allowed = :allowed REMOVE #room_id',
          ConditionExpression: 'attribute_exists(#id)',
          ExpressionAttributeNames: {
            '#id': CONNECTION_ID,
            '#rooms': ROOMS,
            '#connect_room': 'connect_room_id',
            '#allowed': 'allowed_rooms',
            '#room_id': 'room_id',
          },
          ExpressionAttributeValues: { ':room': new Set([roomId]), ':roomId': roomId, ':allowed': [roomId] },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
    await this.#putSubscription(record, roomId);
    const { room_id: _legacy, ...rest } = record;
    // The previous version checked the token's `rooms` at connect and kept nothing of it: the room it let in is
    // the one room known to be allowed.
    return { ...rest, rooms: new Set([roomId]), connect_room_id: roomId, allowed_rooms: [roomId] };
  }

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000);
  }
}

/** The rooms a record holds (a record of the previous version: its one room). */
export function roomsOf(record: ConnectionRecord): Set<string> {
  return record.rooms ?? new Set(record.room_id !== undefined ? [record.room_id] : []);
}

function member(item: Item): RoomMember {
  return { user_id: item[USER_ID] as string, connection_id: item[CONNECTION_ID] as string };
}

function requireId(name: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`ConnectionStore: ${name} must be a non-empty string`);
  }
}
