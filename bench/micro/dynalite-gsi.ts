/**
 * Reproduces a dynalite defect the fan-out bench ran into: a GSI entry's key is the index key plus only the first
 * 6 hex digits (24 bits) of an MD5 of the item's table key (`hashPrefix` in dynalite/db/index.js), so two items
 * of one room whose digests share that prefix overwrite each other in `room_id-index`, and a Query of the room
 * silently misses one. Expected misses per room of n: about n²/2²⁵ (n = 1,000: 3 % of rooms; 5,000: over half).
 * `npx tsx bench/micro/dynalite-gsi.ts [items]`
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ensureTables, startEmbeddedDynamo } from '../../src/local/dynamo.ts';
import { mapLimit } from '../driver/stats.ts';
import { textbookConnectionsTable } from '../textbook/handlers.ts';

process.env.AWS_ACCESS_KEY_ID ??= 'local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
process.env.AWS_REGION ??= 'us-east-1';
const items = Number(process.argv[2] ?? 5000);
const table = 'bench_connections';
const store = await startEmbeddedDynamo();
const client = new DynamoDBClient({ endpoint: store.endpoint });
try {
  await ensureTables(client, { connections: table }, { connections: textbookConnectionsTable });
  const doc = DynamoDBDocumentClient.from(client);
  // Fixed ids, so the result is the same every run: Conn00000000808= collides at 5,000.
  const ids = Array.from({ length: items }, (_, i) => `Conn${String(i).padStart(11, '0')}=`);
  await mapLimit(ids, 50, (id, i) =>
    doc.send(
      new PutCommand({
        TableName: table,
        Item: { connection_id: id, room_id: 'r', user_id: `u${i}`, ttl: 2e9 },
      }),
    ),
  );
  const seen = new Set<string>();
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: table,
        IndexName: textbookConnectionsTable.indexes.byRoom.name,
        KeyConditionExpression: 'room_id = :r',
        ExpressionAttributeValues: { ':r': 'r' },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) seen.add(item.connection_id as string);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const missing = ids.filter((id) => !seen.has(id));
  console.log(
    `${items} items written to one room; the room query returned ${seen.size}; missing: ${missing.join(', ') || 'none'}`,
  );
  process.exitCode = missing.length > 0 ? 1 : 0;
} finally {
  client.destroy();
  await store.close();
}
