import http from 'node:http';
import https from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type CreateTableCommandInput,
  DynamoDBClient,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type BatchGetCommandOutput, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The one definition of roomcast's DynamoDB tables. The local bootstrap creates tables from it, the store reads
 * its names from it, and a test holds infra/terraform to it.
 */
interface IndexDefinition {
  readonly name: string;
  readonly hashKey: string;
  /** Non-key attributes copied into the index; the index keys and the table key are always projected. */
  readonly projectedAttributes: readonly string[];
}

export interface TableDefinition {
  /** Environment variable that names the table in a deployment. */
  readonly envVar: string;
  readonly defaultName: string;
  readonly hashKey: string;
  readonly rangeKey?: string;
  /** Key attributes that are numbers; every other key attribute is a string. */
  readonly numberKeys?: readonly string[];
  readonly ttlAttribute: string;
  readonly indexes: Readonly<Record<string, IndexDefinition>>;
}

export const connectionsTable = {
  envVar: 'DYNAMO_TABLE_NAME_CHAT_CONNECTIONS',
  defaultName: 'chat_connections',
  // One item per open connection: its user, and the set of rooms it holds (`rooms`), which $disconnect and the
  // pruning of gone connections read to remove its subscriptions, and which bounds them (src/store/connections.ts).
  hashKey: 'connection_id',
  ttlAttribute: 'ttl',
  indexes: {
    // Direct messages and the per-user cap read the connection ids of a user (filtering on ttl). `room_id` is
    // projected because versions before subscriptions wrote it; changing a projection rebuilds the index, so it
    // stays (new records do not have it, so it costs nothing).
    byUser: { name: 'user_id-index', hashKey: 'user_id', projectedAttributes: ['ttl', 'room_id'] },
  },
} as const satisfies TableDefinition;

export const subscriptionsTable = {
  envVar: 'DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS',
  defaultName: 'chat_subscriptions',
  // One item per room a connection holds. Keyed by room so that a broadcast is one strongly consistent Query of
  // the base table (no index: a subscription is written once, and is visible to the next fan-out as soon as the
  // write returns); the rooms of one connection are on its connection record, so no index the other way either.
  hashKey: 'room_id',
  rangeKey: 'connection_id',
  ttlAttribute: 'ttl',
  indexes: {},
} as const satisfies TableDefinition;

export const messagesTable = {
  envVar: 'DYNAMO_TABLE_NAME_CHAT_MESSAGES',
  defaultName: 'chat_messages',
  // A stream (a room, or a user's direct-message inbox) and its counter and idempotency markers: see
  // src/store/messages.ts. The range key is the message's place in its stream.
  hashKey: 'stream',
  rangeKey: 'seq',
  numberKeys: ['seq'],
  ttlAttribute: 'ttl',
  indexes: {},
} as const satisfies TableDefinition;

export const revocationsTable = {
  envVar: 'DYNAMO_TABLE_NAME_CHAT_REVOCATIONS',
  defaultName: 'chat_revocations',
  // One item per revoked user (`user#<id>`: tokens issued before a time) or token (`jti#<id>`), which `$connect`
  // reads with the token it verifies (src/revocations.ts). Each expires once no token it refuses can still be
  // valid: TOKEN_MAX_LIFETIME_SECONDS after the revocation.
  hashKey: 'subject',
  ttlAttribute: 'ttl',
  indexes: {},
} as const satisfies TableDefinition;

/** Every table roomcast uses. */
export const tables = {
  connections: connectionsTable,
  subscriptions: subscriptionsTable,
  messages: messagesTable,
  revocations: revocationsTable,
} as const satisfies Record<string, TableDefinition>;

export interface KeyAttribute {
  name: string;
  type: 'S' | 'N';
}

/** Key attributes of a table and its indexes: the only attributes DynamoDB accepts in AttributeDefinitions. */
export function keyAttributes(def: TableDefinition): KeyAttribute[] {
  const names = [def.hashKey, ...(def.rangeKey ? [def.rangeKey] : [])];
  for (const index of Object.values(def.indexes)) names.push(index.hashKey);
  return [...new Set(names)].map((name) => ({ name, type: def.numberKeys?.includes(name) ? 'N' : 'S' }));
}

export function createTableInput(def: TableDefinition, tableName: string): CreateTableCommandInput {
  const indexes = Object.values(def.indexes);
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: keyAttributes(def).map(({ name, type }) => ({
      AttributeName: name,
      AttributeType: type,
    })),
    KeySchema: [
      { AttributeName: def.hashKey, KeyType: 'HASH' },
      ...(def.rangeKey ? [{ AttributeName: def.rangeKey, KeyType: 'RANGE' as const }] : []),
    ],
    ...(indexes.length > 0 && {
      GlobalSecondaryIndexes: indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: [{ AttributeName: index.hashKey, KeyType: 'HASH' }],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projectedAttributes] },
      })),
    }),
  };
}

export interface DocumentClientOptions {
  /** Unset on AWS; a local store (dynalite, DynamoDB Local) otherwise. */
  endpoint?: string;
  region?: string;
  maxAttempts?: number;
  /** Default: the SDK's provider chain. Local stores accept any static pair. */
  credentials?: DynamoDBClientConfig['credentials'];
}

const DYNAMODB_MAX_SOCKETS = 50;

/**
 * One DocumentClient per cold start, over keep-alive sockets. The handler options object makes the SDK build its
 * own NodeHttpHandler, so no undeclared `@smithy/*` import is needed.
 */
export function createDocumentClient(options: DocumentClientOptions = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    ...(options.endpoint && { endpoint: options.endpoint }),
    ...(options.region && { region: options.region }),
    ...(options.maxAttempts && { maxAttempts: options.maxAttempts }),
    ...(options.credentials && { credentials: options.credentials }),
    // No `cacheMiddleware` (the management client has it): DynamoDBDocumentClient.from() refuses a client with it
    // in this SDK version.
    // 50 sockets, the SDK's own default: a burst of calls queues for a warm socket instead of opening hundreds
    // (each a TCP handshake, each an idle socket later that the server may close under a request).
    requestHandler: {
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: DYNAMODB_MAX_SOCKETS }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: DYNAMODB_MAX_SOCKETS }),
    },
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** BatchGetItem's most keys per call, and how many calls one batch of keys may take before the read fails. */
const BATCH_GET_MAX_KEYS = 100;
const BATCH_GET_ATTEMPTS = 6;

/**
 * The items of `keys` in one table, by BatchGetItem in calls of 100 keys; the keys DynamoDB leaves unprocessed
 * (under throttling) are asked again after a short back-off, and a batch still unread after its attempts fails
 * the read with `what` in the message. Missing items are left out.
 */
export async function batchGetItems(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
  { consistent = false, what = 'items' }: { consistent?: boolean; what?: string } = {},
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let start = 0; start < keys.length; start += BATCH_GET_MAX_KEYS) {
    let left: Record<string, unknown>[] | undefined = keys.slice(start, start + BATCH_GET_MAX_KEYS);
    for (let attempt = 0; left && left.length > 0; attempt++) {
      if (attempt >= BATCH_GET_ATTEMPTS) throw new Error(`${what} not read: keys left unprocessed`);
      if (attempt > 0) await delay(Math.min(1000, 25 * 2 ** attempt));
      const result: BatchGetCommandOutput = await doc.send(
        new BatchGetCommand({
          RequestItems: { [tableName]: { Keys: left, ...(consistent && { ConsistentRead: true }) } },
        }),
      );
      items.push(...(result.Responses?.[tableName] ?? []));
      left = result.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return items;
}
