import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';

/**
 * API Gateway WebSocket proxy event. `@types/aws-lambda` omits fields API Gateway really sends on `$connect`
 * (query string, headers), so they are added here.
 */
export type WebSocketEvent = APIGatewayProxyWebsocketEventV2 & {
  queryStringParameters?: Record<string, string | undefined>;
  headers?: Record<string, string | undefined>;
};

export type WebSocketHandler = (event: WebSocketEvent, context: Context) => Promise<APIGatewayProxyResultV2>;

export function httpResult(statusCode: number, body?: string): APIGatewayProxyResultV2 {
  return { statusCode, ...(body !== undefined && { body }) };
}
