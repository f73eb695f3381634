import http from 'node:http';
import https from 'node:https';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DocumentClientOptions {
  /** Unset on AWS; a local store (dynalite, DynamoDB Local) otherwise. */
  endpoint?: string;
  region?: string;
  maxAttempts?: number;
  /** Default: the SDK's provider chain. Local stores accept any static pair. */
  credentials?: DynamoDBClientConfig['credentials'];
}

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
    // in this SDK (aws/aws-sdk-js-v3#7801 is open to lift that).
    requestHandler: {
      httpAgent: new http.Agent({ keepAlive: true }),
      httpsAgent: new https.Agent({ keepAlive: true }),
    },
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
