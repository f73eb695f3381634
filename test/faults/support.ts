import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalStack } from '../../src/local/stack.ts';
import { LOCAL_CREDENTIALS } from '../../src/local/stack.ts';
import type { ConnectionRecord } from '../../src/store/connections.ts';
import type { MessageStore, StoredMessage } from '../../src/store/messages.ts';
import { createDocumentClient } from '../../src/store/tables.ts';

/** Where a stack keeps its registry: a LocalStack, or the same facts about a stack in another process. */
export type StoreLocation = Pick<LocalStack, 'dynamodbEndpoint'> & {
  config: { region: string; tables: { connections: string } };
};

/** Every record of the connections table: the registry as DynamoDB holds it, expired or not. */
export async function scanRegistry(stack: StoreLocation): Promise<ConnectionRecord[]> {
  const doc = createDocumentClient({
    endpoint: stack.dynamodbEndpoint,
    region: stack.config.region,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const records: ConnectionRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new ScanCommand({
          TableName: stack.config.tables.connections,
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      records.push(...((page.Items ?? []) as ConnectionRecord[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return records;
  } finally {
    doc.destroy();
  }
}

/** A room's whole history, in seq order, read page by page through the store as getHistory does. */
export async function wholeHistory(
  store: Pick<MessageStore, 'roomHistory'>,
  roomId: string,
): Promise<StoredMessage[]> {
  const messages: StoredMessage[] = [];
  let afterSeq = 0;
  for (;;) {
    const page = await store.roomHistory(roomId, { limit: 100, afterSeq });
    messages.push(...page.messages);
    if (!page.hasMore) return messages;
    afterSeq = page.throughSeq ?? afterSeq;
  }
}
