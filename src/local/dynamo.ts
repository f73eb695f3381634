import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  paginateScan,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  connectionsTable,
  createTableInput,
  keyAttributes,
  subscriptionsTable,
  type TableDefinition,
  tables,
} from '../store/tables.ts';

export interface EmbeddedDynamo {
  endpoint: string;
  close(): Promise<void>;
}

/**
 * dynalite on 127.0.0.1 and a free port, in a worker thread so the store and the handlers use both cores; in
 * memory unless `path` names a LevelDB directory (one process per directory).
 */
export async function startEmbeddedDynamo(options: { path?: string } = {}): Promise<EmbeddedDynamo> {
  const worker = new Worker(new URL('./dynamo-worker.mjs', import.meta.url), {
    workerData: { path: options.path },
  });
  const reply = (key: 'port' | 'closed') =>
    new Promise<number | true>((resolve, reject) => {
      const onMessage = (message: { port?: number; closed?: true; error?: string }) => {
        if (message.error) reject(new Error(`embedded DynamoDB: ${message.error}`));
        else if (message[key] !== undefined) resolve(message[key]);
        else return;
        worker.off('message', onMessage);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  let port: number;
  try {
    port = (await reply('port')) as number;
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      const closed = reply('closed');
      worker.postMessage('close');
      await closed;
      await worker.terminate();
    },
  };
}

/**
 * Creates every table of `tables` under the given names (existing ones are kept, so persistent data directories
 * work), waits until each is ACTIVE and enables TTL where the store supports it (dynalite does not). An existing
 * table with other keys (made by an older roomcast) is refused with what to do, never written into.
 */
export async function ensureTables<T extends Record<string, TableDefinition> = typeof tables>(
  client: DynamoDBClient,
  names: Record<keyof T & string, string>,
  definitions: T = tables as unknown as T,
): Promise<void> {
  for (const [key, def] of Object.entries(definitions)) {
    const tableName = names[key as keyof T & string];
    if (!tableName) throw new Error(`ensureTables: no name for the ${key} table`);
    try {
      await client.send(new CreateTableCommand(createTableInput(def, tableName)));
    } catch (error) {
      if (!isNamed(error, 'ResourceInUseException')) throw error;
      await checkKeys(client, tableName, def);
    }
    await waitUntilActive(client, tableName);
    await enableTtl(client, tableName, def.ttlAttribute);
  }
}

async function checkKeys(client: DynamoDBClient, tableName: string, def: TableDefinition): Promise<void> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const describe = (keys: Array<{ name: string; type?: string; role: string }>) =>
    keys.map((key) => `${key.name} (${key.type}, ${key.role})`).join(', ');
  const types = new Map((Table?.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
  const found = describe(
    (Table?.KeySchema ?? []).map((key) => ({
      name: String(key.AttributeName),
      type: types.get(key.AttributeName),
      role: String(key.KeyType),
    })),
  );
  const typeOf = new Map(keyAttributes(def).map((key) => [key.name, key.type]));
  const expected = describe([
    { name: def.hashKey, type: typeOf.get(def.hashKey), role: 'HASH' },
    ...(def.rangeKey ? [{ name: def.rangeKey, type: typeOf.get(def.rangeKey), role: 'RANGE' }] : []),
  ]);
  if (found !== expected) {
    throw new Error(
      `table ${tableName} has the keys ${found}, but this version of roomcast needs ${expected}: it was made by ` +
        'an older version. Start with a new --data-dir (or delete the table) to begin with an empty history.',
    );
  }
}

async function waitUntilActive(client: DynamoDBClient, tableName: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexes = Table?.GlobalSecondaryIndexes ?? [];
    if (Table?.TableStatus === 'ACTIVE' && indexes.every((index) => index.IndexStatus === 'ACTIVE')) return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} is not ACTIVE after ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function enableTtl(client: DynamoDBClient, tableName: string, attribute: string): Promise<void> {
  try {
    const { TimeToLiveDescription } = await client.send(
      new DescribeTimeToLiveCommand({ TableName: tableName }),
    );
    const status = TimeToLiveDescription?.TimeToLiveStatus;
    // Enabling twice is a ValidationException on DynamoDB (Local), e.g. with a persistent data directory.
    if (status === 'ENABLED' || status === 'ENABLING') return;
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
      }),
    );
  } catch (error) {
    // dynalite has no TTL; reads filter expired records anyway.
    if (!isNamed(error, 'UnknownOperationException')) throw error;
  }
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

/**
 * Deletes every connection record and subscription: at start the store's are a previous process's, whose
 * connections died with it (a `kill -9` runs no `$disconnect`). Left, they would be listed as members and take
 * messages until pruning or TTL found them. Only for a store this process owns; returns how many connection
 * records were removed.
 */
export async function clearConnections(
  client: DynamoDBClient,
  names: { connections: string; subscriptions: string },
): Promise<number> {
  await clearTable(client, names.subscriptions, subscriptionsTable);
  return clearTable(client, names.connections, connectionsTable);
}

async function clearTable(client: DynamoDBClient, tableName: string, def: TableDefinition): Promise<number> {
  const keyNames = [def.hashKey, ...(def.rangeKey ? [def.rangeKey] : [])];
  const names = Object.fromEntries(keyNames.map((name, i) => [`#k${i}`, name]));
  let removed = 0;
  const pages = paginateScan(
    { client },
    {
      TableName: tableName,
      ProjectionExpression: Object.keys(names).join(', '),
      ExpressionAttributeNames: names,
    },
  );
  for await (const page of pages) {
    const keys = (page.Items ?? []).map((item) =>
      Object.fromEntries(keyNames.map((name) => [name, item[name] as NonNullable<(typeof item)[string]>])),
    );
    for (let i = 0; i < keys.length; i += 25) {
      let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
      while (requests.length > 0) {
        const { UnprocessedItems } = await client.send(
          new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }),
        );
        requests = (UnprocessedItems?.[tableName] ?? []) as typeof requests;
      }
    }
    removed += keys.length;
  }
  return removed;
}
