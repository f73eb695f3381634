import { randomUUID } from 'node:crypto';
import { InvokeCommand, LambdaClient, type LambdaClientConfig } from '@aws-sdk/client-lambda';
import type {
  AdminRequest,
  AdminResult,
  PublishRequest,
  PublishResult,
  RevokeRequest,
  RevokeResult,
  StatsResult,
} from './contract.js';

/**
 * The operators' API for Node code (a backend that posts system messages, a job that revokes users): each call
 * invokes the deployment's admin function synchronously with the caller's IAM credentials, which need
 * `lambda:InvokeFunction` on it and nothing else (Terraform's `operator_policy_arn`). The `roomcast` CLI is built
 * on it.
 *
 *     const admin = createAdminClient({ functionName: 'roomcast-prod-admin' });
 *     await admin.publish({ room_id: 'lobby', message: 'Maintenance at 22:00 UTC' });
 *     await admin.revoke({ user_id: 'mallory' });
 *     const { connections, biggest_rooms } = await admin.stats();
 */

export interface AdminClientOptions {
  /** The admin function's name or ARN (Terraform output `admin_function_name`). */
  functionName: string;
  region?: string;
  /** Another Lambda endpoint: the local stack's (`npm start`). Default: AWS's, or AWS_ENDPOINT_URL_LAMBDA. */
  endpoint?: string;
  /** Default: the SDK's provider chain (environment, profile, SSO, the role of the code running it). */
  credentials?: LambdaClientConfig['credentials'];
}

/** A request the admin function refused (`BAD_REQUEST`), or one it failed on (`FUNCTION_ERROR`, in its log). */
export class AdminError extends Error {
  override name = 'AdminError';
  constructor(
    readonly code: 'BAD_REQUEST' | 'FUNCTION_ERROR',
    message: string,
  ) {
    super(message);
  }
}

export interface AdminClient {
  /**
   * Stores a message from the system and delivers it, to a room or to one user's inbox. Without a
   * `client_msg_id` one is made up, so that the SDK's retries of the call store it once.
   */
  publish(request: Omit<PublishRequest, 'op'>): Promise<PublishResult>;
  /**
   * Refuses a user's tokens issued before a time (default now), or one token (`token_id`, with its owner's
   * `user_id` to close its connections); closes their connections.
   */
  revoke(request: Omit<RevokeRequest, 'op'>): Promise<RevokeResult>;
  /** Live connections, rooms with any, and the biggest rooms, counted now. */
  stats(): Promise<StatsResult>;
  destroy(): void;
}

export function createAdminClient(options: AdminClientOptions): AdminClient {
  const lambda = new LambdaClient({
    ...(options.region && { region: options.region }),
    ...(options.endpoint && { endpoint: options.endpoint }),
    ...(options.credentials && { credentials: options.credentials }),
  });
  const decoder = new TextDecoder();

  async function call(request: AdminRequest): Promise<Exclude<AdminResult, { ok: false }>> {
    const output = await lambda.send(
      new InvokeCommand({ FunctionName: options.functionName, Payload: JSON.stringify(request) }),
    );
    const text = decoder.decode(output.Payload ?? new Uint8Array());
    if (output.FunctionError) {
      const error = parseJson(text) as { errorType?: string; errorMessage?: string } | undefined;
      throw new AdminError(
        'FUNCTION_ERROR',
        `the admin function failed (${error?.errorType ?? output.FunctionError}: ${error?.errorMessage ?? text}); its log has the details (request id ${output.$metadata.requestId ?? 'unknown'})`,
      );
    }
    const result = parseJson(text) as AdminResult | undefined;
    if (!result || typeof result !== 'object' || typeof result.ok !== 'boolean') {
      throw new AdminError(
        'FUNCTION_ERROR',
        `the admin function answered something else: ${text.slice(0, 200)}`,
      );
    }
    if (!result.ok) throw new AdminError(result.error.code, result.error.message);
    return result;
  }

  return {
    // `op` last: a request built from other data (`{ ...body }`) cannot turn a publish into a revoke.
    publish: async (request) =>
      (await call({
        ...request,
        op: 'publish',
        client_msg_id: request.client_msg_id ?? randomUUID(),
      })) as PublishResult,
    revoke: async (request) => (await call({ ...request, op: 'revoke' })) as RevokeResult,
    stats: async () => (await call({ op: 'stats' })) as StatsResult,
    destroy: () => lambda.destroy(),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
