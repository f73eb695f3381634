import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { AwsCredentialIdentity } from '@smithy/types';

/**
 * Counts the items of tables (consistent Scans, every page): the connection registry (records, subscriptions)
 * left behind. `credentials`: those the store's own clients use (default: the environment's).
 */
export function registryCounter(
  endpoint: string,
  region: string,
  tableNames: readonly string[],
  credentials?: AwsCredentialIdentity,
) {
  const client = new DynamoDBClient({ endpoint, region, ...(credentials && { credentials }) });
  return {
    async count(): Promise<number> {
      let total = 0;
      for (const tableName of tableNames) total += await countItems(client, tableName);
      return total;
    },
    close: () => client.destroy(),
  };
}

async function countItems(client: DynamoDBClient, tableName: string): Promise<number> {
  let total = 0;
  let startKey: ScanCommand['input']['ExclusiveStartKey'];
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        Select: 'COUNT',
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    total += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return total;
}
