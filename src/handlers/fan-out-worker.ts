import type { Context } from 'aws-lambda';
import { parseFanOutTask, runFanOutTask, type ShardSummary } from '../fan-out.ts';
import { invocationLog } from '../invocation.ts';
import { type HandlerDeps, lambdaEntry } from '../route.ts';

/**
 * The fan-out worker: invoked asynchronously by send-message (and by itself, for posts that failed) with one
 * shard of a big room (src/fan-out.ts). A malformed event throws, so Lambda sends it to the on-failure
 * destination instead of posting anything.
 */
export function createHandler(
  deps: HandlerDeps,
): (event: unknown, context: Context) => Promise<ShardSummary> {
  return async (event, context) => {
    let log = invocationLog(deps.logger, {
      function: 'fan-out-worker',
      aws_request_id: context.awsRequestId,
    });
    try {
      const task = parseFanOutTask(event);
      log = invocationLog(deps.logger, {
        function: 'fan-out-worker',
        aws_request_id: context.awsRequestId,
        room_id: task.room_id,
        seq: task.seq,
        shard: task.shard,
        attempt: task.attempt,
      });
      const summary = await runFanOutTask(deps, task, log, {
        remainingMs: () => context.getRemainingTimeInMillis(),
      });
      log.info('shard delivered', { ...summary });
      return summary;
    } catch (error) {
      log.error('shard not delivered', { error: error as Error });
      throw error;
    } finally {
      deps.metrics.flush(log);
    }
  };
}

export const handler = lambdaEntry(createHandler);
