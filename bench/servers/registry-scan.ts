import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';

/** Counts the items of a table (a consistent Scan, every page): the connection registry left behind. */
export function registryCounter(endpoint: string, region: string, tableName: string) {
  const client = new DynamoDBClient({ endpoint, region });
  return {
    async count(): Promise<number> {
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
    },
    close: () => client.destroy(),
  };
}
