import type { AdminResult } from '@roomcast/admin';
import type { Context } from 'aws-lambda';
import { runAdminRequest } from '../admin.ts';
import { invocationLog } from '../invocation.ts';
import { type HandlerDeps, lambdaEntry } from '../route.ts';

/**
 * The operators' function: invoked synchronously (Lambda `Invoke`, RequestResponse) with IAM credentials by the
 * `roomcast` CLI and @roomcast/admin, never by a route. A request that is not valid is answered
 * `{ ok: false, error }`; a failure of the backend throws, so Lambda counts it (the function's Errors alarm) and
 * the caller gets it as a function error.
 */
export function createHandler(deps: HandlerDeps): (event: unknown, context: Context) => Promise<AdminResult> {
  return async (event, context) => {
    const log = invocationLog(deps.logger, { function: 'admin', aws_request_id: context.awsRequestId });
    try {
      const result = await runAdminRequest(deps, event, log);
      if (!result.ok) log.info('admin request refused', { error: result.error.message });
      return result;
    } catch (error) {
      log.error('admin request failed', { error: error as Error });
      throw error;
    } finally {
      deps.metrics.flush(log);
    }
  };
}

export const handler = lambdaEntry(createHandler);
