/**
 * The "textbook" API Gateway + Lambda + DynamoDB chat handlers that roomcast's DESIGN.md sets itself against,
 * written for comparison only: identity from the query string, one GSI query without pagination or TTL filter,
 * one PostToConnection at a time, and any post error deletes the connection. Do not deploy this.
 */
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import type { WebSocketEvent } from '../../src/invocation.ts';
import type { TableDefinition } from '../../src/store/tables.ts';

/** The textbook's one table: connections keyed by id, with a GSI on the room they joined. */
export const textbookConnectionsTable = {
  envVar: 'TEXTBOOK_CONNECTIONS_TABLE',
  defaultName: 'textbook_connections',
  hashKey: 'connection_id',
  ttlAttribute: 'ttl',
  indexes: { byRoom: { name: 'room_id-index', hashKey: 'room_id', projectedAttributes: ['ttl', 'user_id'] } },
} as const satisfies TableDefinition;

export interface TextbookOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** The room GSI (`room_id-index`). */
  roomIndex: string;
}

type Handler = (event: WebSocketEvent) => Promise<APIGatewayProxyResultV2>;

const DAY_SECONDS = 24 * 3600;

export function textbookHandlers({ doc, tableName, roomIndex }: TextbookOptions): Record<string, Handler> {
  const clients = new Map<string, ApiGatewayManagementApiClient>();
  const managementClient = (event: WebSocketEvent) => {
    const endpoint = `http://${event.requestContext.domainName}/${event.requestContext.stage}`;
    const client = clients.get(endpoint) ?? new ApiGatewayManagementApiClient({ endpoint });
    clients.set(endpoint, client);
    return client;
  };
  const remove = (connectionId: string) =>
    doc.send(new DeleteCommand({ TableName: tableName, Key: { connection_id: connectionId } }));

  return {
    $connect: async (event) => {
      const query = event.queryStringParameters ?? {};
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            connection_id: event.requestContext.connectionId,
            room_id: query.room_id,
            user_id: query.user_id,
            ttl: Math.floor(Date.now() / 1000) + DAY_SECONDS,
          },
        }),
      );
      return { statusCode: 200 };
    },

    $disconnect: async (event) => {
      await remove(event.requestContext.connectionId);
      return { statusCode: 200 };
    },

    sendMessage: async (event) => {
      try {
        const body = JSON.parse(event.body ?? '{}') as {
          room_id?: string;
          user_id?: string;
          message?: string;
        };
        const { Items = [] } = await doc.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: roomIndex,
            KeyConditionExpression: 'room_id = :room',
            ExpressionAttributeValues: { ':room': body.room_id },
          }),
        );
        const data = JSON.stringify({
          action: 'message',
          room_id: body.room_id,
          user_id: body.user_id,
          message: body.message,
          timestamp: new Date().toISOString(),
        });
        const client = managementClient(event);
        for (const item of Items) {
          const connectionId = item.connection_id as string;
          try {
            await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
          } catch {
            await remove(connectionId);
          }
        }
        return { statusCode: 200 };
      } catch (error) {
        return { statusCode: 500, body: `failed: ${String(error)}` };
      }
    },
  };
}
