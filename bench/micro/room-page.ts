/**
 * What reading one page of a room costs the sender's CPU: a Query response of `items` subscriptions, projected to
 * their `connection_id` as the room query asks (src/store/connections.ts), parsed and unmarshalled by the SDK's
 * document client as send-message does. DynamoDB is not involved: the response is canned, so only the Lambda's own
 * work is measured (bench/model.ts adds DynamoDB's time as an assumption). A 1 MB page holds about 10,000 items of
 * ~100 bytes. `npx tsx bench/micro/room-page.ts [items] [--json]`
 */
import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { HttpResponse } from '@smithy/core/transport';
import { median, round } from '../driver/stats.ts';

export interface RoomPageResult {
  items: number;
  responseBytes: number;
  /** CPU per page at one full core, ms (median of the runs). */
  cpuMsPerPage: number;
  /** The same per item, µs. */
  cpuUsPerItem: number;
  runs: number;
}

const RUNS = 30;
const WARM_UP = 10;

export async function measureRoomPage(items = 10_000): Promise<RoomPageResult> {
  // API Gateway's connection ids are 16 characters.
  const body = Buffer.from(
    JSON.stringify({
      Count: items,
      ScannedCount: items,
      Items: Array.from({ length: items }, (_, i) => ({
        connection_id: { S: `Kx${i.toString(36).padStart(13, '0')}=` },
      })),
      LastEvaluatedKey: { room_id: { S: 'room' }, connection_id: { S: 'Kx0000000000000=' } },
    }),
  );
  const client = new DynamoDBClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: {
      handle: async () => ({
        response: new HttpResponse({
          statusCode: 200,
          headers: { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(body.length) },
          body: Readable.from([body]),
        }),
      }),
    } as never,
  });
  const doc = DynamoDBDocumentClient.from(client);
  const query = async () => {
    const page = await doc.send(
      new QueryCommand({
        TableName: 'chat_subscriptions',
        KeyConditionExpression: '#key = :key',
        FilterExpression: '#ttl > :now',
        ProjectionExpression: '#a0',
        ExpressionAttributeNames: { '#key': 'room_id', '#ttl': 'ttl', '#a0': 'connection_id' },
        ExpressionAttributeValues: { ':key': 'room', ':now': 0 },
        ConsistentRead: true,
      }),
    );
    if (page.Items?.length !== items) throw new Error(`got ${page.Items?.length} items, not ${items}`);
  };
  for (let i = 0; i < WARM_UP; i++) await query();
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cpu = process.cpuUsage();
    await query();
    const used = process.cpuUsage(cpu);
    samples.push((used.user + used.system) / 1000);
  }
  client.destroy();
  const ms = median(samples);
  return {
    items,
    responseBytes: body.length,
    cpuMsPerPage: round(ms, 2),
    cpuUsPerItem: round((ms * 1000) / items, 3),
    runs: RUNS,
  };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const items = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 10_000);
  const result = await measureRoomPage(items);
  if (process.argv.includes('--json')) console.log(`ROOMPAGE ${JSON.stringify(result)}`);
  else {
    console.log(
      `${result.items.toLocaleString('en-US')} items (${Math.round(result.responseBytes / 1024)} KB of response): ` +
        `${result.cpuMsPerPage} ms CPU per page, ${result.cpuUsPerItem} µs per item (median of ${result.runs})`,
    );
  }
}
