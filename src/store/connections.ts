import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { connectionsTable } from './tables.ts';

export interface ConnectionRecord {
  connection_id: string;
  room_id: string;
  user_id: string;
  /** Epoch seconds. */
  ttl: number;
  /** ISO 8601. */
  created_at: string;
  /**
   * The newest seq of the room and of the user's inbox when the connection was registered: where a client that
   * starts fresh starts, so that every message delivered to this connection comes after it. Absent on records
   * written by versions before seqs.
   */
  joined_seq?: number;
  joined_direct_seq?: number;
}

/** One connection of a room, and whose it is. */
export interface RoomMember {
  user_id: string;
  connection_id: string;
}

export interface ConnectionStoreOptions {
  tableName: string;
  ttlSeconds: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** `Limit` of each index query page; DynamoDB's 1 MB page bound applies either way. */
  queryPageSize?: number;
}

const CONNECTION_ID = connectionsTable.hashKey;
const TTL = connectionsTable.ttlAttribute;
/** ISO 8601 in UTC, fixed width, so string order is time order. */
const CREATED_AT = 'created_at' satisfies keyof ConnectionRecord;
const byRoom = connectionsTable.indexes.byRoom;
const byUser = connectionsTable.indexes.byUser;

// Compile-time guard: the record's attribute names are the ones the table definition declares.
const definedAttributes = [CONNECTION_ID, TTL, byRoom.hashKey, byUser.hashKey] as const;
definedAttributes satisfies readonly (keyof ConnectionRecord)[];

type Item = Record<string, unknown>;

export class ConnectionStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #ttlSeconds: number;
  readonly #now: () => number;
  readonly #pageSize: number | undefined;

  constructor(doc: DynamoDBDocumentClient, options: ConnectionStoreOptions) {
    this.#doc = doc;
    this.#tableName = options.tableName;
    this.#ttlSeconds = options.ttlSeconds;
    this.#now = options.now ?? Date.now;
    this.#pageSize = options.queryPageSize;
  }

  async put(input: {
    connectionId: string;
    roomId: string;
    userId: string;
    joined?: { room: number; direct: number };
  }): Promise<ConnectionRecord> {
    // dynalite stores empty GSI keys; real DynamoDB rejects them, so catch it here for both.
    requireId('connectionId', input.connectionId);
    requireId('roomId', input.roomId);
    requireId('userId', input.userId);
    const nowMs = this.#now();
    const record: ConnectionRecord = {
      connection_id: input.connectionId,
      room_id: input.roomId,
      user_id: input.userId,
      ttl: Math.floor(nowMs / 1000) + this.#ttlSeconds,
      created_at: new Date(nowMs).toISOString(),
      ...(input.joined && { joined_seq: input.joined.room, joined_direct_seq: input.joined.direct }),
    };
    await this.#doc.send(new PutCommand({ TableName: this.#tableName, Item: record }));
    return record;
  }

  async remove(connectionId: string): Promise<ConnectionRecord | undefined> {
    const result = await this.#doc.send(
      new DeleteCommand({
        TableName: this.#tableName,
        Key: { [CONNECTION_ID]: connectionId },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return result.Attributes as ConnectionRecord | undefined;
  }

  /**
   * Removes the record of a connection that answered 410 Gone, unless it was created in the last `graceSeconds`:
   * while its `$connect` is still running a connection answers 410 too, and must not lose the record it just
   * wrote. Returns whether a record was removed.
   */
  async removeGone(connectionId: string, graceSeconds: number): Promise<boolean> {
    const cutoff = new Date(this.#now() - graceSeconds * 1000).toISOString();
    try {
      await this.#doc.send(
        new DeleteCommand({
          TableName: this.#tableName,
          Key: { [CONNECTION_ID]: connectionId },
          ConditionExpression: '#created_at < :cutoff',
          ExpressionAttributeNames: { '#created_at': CREATED_AT },
          ExpressionAttributeValues: { ':cutoff': cutoff },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const result = await this.#doc.send(
      // Strongly consistent: the record is usually read right after its own `$connect` wrote it.
      new GetCommand({
        TableName: this.#tableName,
        Key: { [CONNECTION_ID]: connectionId },
        ConsistentRead: true,
      }),
    );
    const record = result.Item as ConnectionRecord | undefined;
    return record && record.ttl > this.#nowSeconds() ? record : undefined;
  }

  /** Pages of live connection ids in a room; never loads the whole room at once. */
  async *roomConnectionIds(roomId: string): AsyncGenerator<string[]> {
    for await (const items of this.#queryLive(byRoom.name, byRoom.hashKey, roomId, [CONNECTION_ID])) {
      yield items.map((item) => item[CONNECTION_ID] as string);
    }
  }

  /**
   * The live connections of a room with their users, or undefined when it has more than `max`: reads at most
   * about `max + 1` index entries, so asking whether a room is small stays cheap however large it is.
   */
  async roomMembersUpTo(roomId: string, max: number): Promise<RoomMember[] | undefined> {
    const members: RoomMember[] = [];
    const attributes = [CONNECTION_ID, byUser.hashKey];
    for await (const items of this.#queryLive(byRoom.name, byRoom.hashKey, roomId, attributes, max + 1)) {
      for (const item of items) {
        members.push({
          user_id: item[byUser.hashKey] as string,
          connection_id: item[CONNECTION_ID] as string,
        });
      }
      if (members.length > max) return undefined;
    }
    return members;
  }

  async roomMembers(roomId: string): Promise<RoomMember[]> {
    const members: RoomMember[] = [];
    for await (const items of this.#queryLive(byRoom.name, byRoom.hashKey, roomId, [
      CONNECTION_ID,
      byUser.hashKey,
    ])) {
      for (const item of items) {
        members.push({
          user_id: item[byUser.hashKey] as string,
          connection_id: item[CONNECTION_ID] as string,
        });
      }
    }
    return members;
  }

  async userConnectionIds(userId: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const items of this.#queryLive(byUser.name, byUser.hashKey, userId, [CONNECTION_ID])) {
      for (const item of items) ids.push(item[CONNECTION_ID] as string);
    }
    return ids;
  }

  /**
   * Every page of an index query, following LastEvaluatedKey. Expired records are filtered out because TTL
   * deletion lags; since Limit and the 1 MB bound apply before the filter, a page can come back empty.
   */
  async *#queryLive(
    indexName: string,
    keyName: string,
    keyValue: string,
    attributes: string[],
    pageSize = this.#pageSize,
  ) {
    const names: Record<string, string> = { '#key': keyName, '#ttl': TTL };
    attributes.forEach((attribute, i) => {
      names[`#a${i}`] = attribute;
    });
    let startKey: Item | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: indexName,
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

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000);
  }
}

function requireId(name: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`ConnectionStore.put: ${name} must be a non-empty string`);
  }
}
