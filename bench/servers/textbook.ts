/** The textbook handlers (bench/textbook) behind roomcast's own gateway, on the same embedded dynalite tables. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createGateway } from '@roomcast/gateway';
import { ensureTables, startEmbeddedDynamo } from '../../src/local/dynamo.ts';
import { textbookConnectionsTable, textbookHandlers } from '../textbook/handlers.ts';
import { serveChild } from './child.ts';
import { registryCounter } from './registry-scan.ts';
import { installSdkMeter } from './sdk-meter.ts';

await serveChild(async () => {
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  const tableName = textbookConnectionsTable.defaultName;
  const counters = installSdkMeter({
    [tableName]: Object.values(textbookConnectionsTable.indexes).map((index) => index.hashKey),
  });
  const dynamo = await startEmbeddedDynamo();
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint });
  await ensureTables(client, { connections: tableName }, { connections: textbookConnectionsTable });
  const doc = DynamoDBDocumentClient.from(client);
  const gateway = createGateway({
    stage: 'dev',
    routes: textbookHandlers({ doc, tableName, roomIndex: textbookConnectionsTable.indexes.byRoom.name }),
  });
  const { url } = await gateway.listen(0, '127.0.0.1');
  const registry = registryCounter(dynamo.endpoint, process.env.AWS_REGION, [tableName]);
  return {
    info: { url },
    registry: () => registry.count(),
    sdk: counters,
    close: async () => {
      await gateway.close();
      registry.close();
      client.destroy();
      await dynamo.close();
    },
  };
});
