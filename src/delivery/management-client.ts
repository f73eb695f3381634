import http from 'node:http';
import https from 'node:https';
import {
  ApiGatewayManagementApiClient,
  type ApiGatewayManagementApiClientConfig,
} from '@aws-sdk/client-apigatewaymanagementapi';

export interface ManagementClientOptions {
  /**
   * Attempts per PostToConnection, first try included. The SDK's standard retry backs off on throttling
   * (429 `LimitExceededException`) and 5xx. Default 3.
   */
  maxAttempts?: number;
  region?: string;
  credentials?: ApiGatewayManagementApiClientConfig['credentials'];
  /** Sockets per host; keep it at or above the fan-out concurrency so posts don't queue in the agent. */
  maxSockets?: number;
}

const clients = new Map<string, ApiGatewayManagementApiClient>();

/**
 * The @connections client for one API endpoint (`https://{domain}/{stage}`), built on first use and kept for the
 * life of the process (a Lambda cold start). Options apply only when the client is first built.
 */
export function managementClientFor(
  endpoint: string,
  options: ManagementClientOptions = {},
): ApiGatewayManagementApiClient {
  let client = clients.get(endpoint);
  if (!client) {
    client = createManagementClient(endpoint, options);
    clients.set(endpoint, client);
  }
  return client;
}

/** An uncached client; tests and tools that need their own options use this. */
export function createManagementClient(
  endpoint: string,
  options: ManagementClientOptions = {},
): ApiGatewayManagementApiClient {
  const maxSockets = options.maxSockets ?? 64;
  return new ApiGatewayManagementApiClient({
    endpoint,
    maxAttempts: options.maxAttempts ?? 3,
    ...(options.region && { region: options.region }),
    ...(options.credentials && { credentials: options.credentials }),
    requestHandler: {
      httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets }),
    },
  });
}
