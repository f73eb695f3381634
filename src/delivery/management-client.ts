import http from 'node:http';
import https from 'node:https';
import {
  ApiGatewayManagementApiClient,
  type ApiGatewayManagementApiClientConfig,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { PostRetryStrategy } from './post-retry-strategy.ts';

export interface ManagementClientOptions {
  /**
   * Attempts per PostToConnection, first try included. The SDK's standard retry backs off on throttling
   * (429 `LimitExceededException`) and 5xx; a post that timed out is not retried (see PostRetryStrategy). Default 3.
   */
  maxAttempts?: number;
  region?: string;
  credentials?: ApiGatewayManagementApiClientConfig['credentials'];
  /**
   * Sockets per host. Default: no limit, so a post that hangs (a client that stopped reading) never makes posts to
   * other connections queue behind it; the fan-out concurrency bounds the posts in flight anyway.
   */
  maxSockets?: number;
  /**
   * How long one PostToConnection attempt may take before it fails with a `TimeoutError`, which is not retried:
   * the message may have been delivered. Default 10 s. A post normally takes milliseconds and API Gateway answers
   * overload with 429 (retried), so only a network fault takes this long; and a post that never answers must not
   * hold its invocation until the Lambda timeout. 2 s proved too short for an overloaded local emulator: a burst of
   * 50 messages to 1,000 clients over HTTP timed out and lost 3,576 deliveries (bench/README.md).
   */
  requestTimeoutMs?: number;
  /**
   * Another transport instead of Node's HTTP handler (then `maxSockets` and `requestTimeoutMs` do not apply): the
   * local stack passes the gateway's in-process handler.
   */
  transport?: ApiGatewayManagementApiClientConfig['requestHandler'];
  /**
   * Send requests without SigV4 signatures. Only for a local gateway, which cannot verify them: on AWS the
   * @connections API refuses unsigned requests.
   */
  unsigned?: boolean;
}

/** Leaves a request as it is; SDK's `signer` option takes any object with this method. */
const noSignature = { sign: async <T>(request: T): Promise<T> => request };

export const DEFAULT_POST_TIMEOUT_MS = 10_000;

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
  const maxSockets = options.maxSockets ?? Number.POSITIVE_INFINITY;
  return new ApiGatewayManagementApiClient({
    endpoint,
    retryStrategy: new PostRetryStrategy(options.maxAttempts ?? 3),
    // The middleware stack is resolved once instead of on every PostToConnection: about a quarter less CPU per
    // post in bench/micro/post-to-connection.ts.
    cacheMiddleware: true,
    ...(options.region && { region: options.region }),
    ...(options.credentials && { credentials: options.credentials }),
    ...(options.unsigned && { signer: noSignature }),
    requestHandler: options.transport ?? {
      httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets }),
      requestTimeout: options.requestTimeoutMs ?? DEFAULT_POST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  });
}
