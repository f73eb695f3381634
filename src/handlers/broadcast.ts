import { type DeliverySummary, fanOut } from '../delivery/fan-out.ts';
import type { ServerFrame } from '../protocol.ts';
import type { HandlerDeps } from './deps.ts';
import type { WebSocketEvent } from './events.ts';
import type { Log } from './invocation-log.ts';
import { METRIC } from './metrics.ts';

/**
 * A connection answers 410 Gone while its `$connect` runs (API Gateway opens it only after), which takes at most
 * the 29 s integration timeout. Records younger than this are never pruned; TTL removes them if they are stale.
 */
export const CONNECT_GRACE_SECONDS = 30;

type ConnectionIds = Iterable<string> | AsyncIterable<string[]>;

/**
 * Posts one frame to many connections, pruning the gone ones (unless `pruneGone` is false), and records the
 * delivery metrics.
 */
export async function broadcast(
  deps: HandlerDeps,
  event: WebSocketEvent,
  log: Log,
  ids: ConnectionIds,
  frame: ServerFrame,
  { pruneGone = true }: { pruneGone?: boolean } = {},
): Promise<DeliverySummary & { pruned: number }> {
  let pruned = 0;
  const summary = await fanOut(ids, JSON.stringify(frame), {
    client: deps.managementClient(event),
    concurrency: deps.config.fanOutConcurrency,
    onGone: async (connectionId) => {
      if (pruneGone && (await deps.store.removeGone(connectionId, CONNECT_GRACE_SECONDS))) pruned++;
    },
    logger: log,
  });
  deps.metrics.count(METRIC.deliveriesSucceeded, summary.delivered);
  deps.metrics.count(METRIC.staleConnectionsPruned, pruned);
  deps.metrics.count(METRIC.deliveriesFailed, summary.failed);
  deps.metrics.count(METRIC.deliveriesTimedOut, summary.timedOut);
  deps.metrics.milliseconds(METRIC.fanOutDuration, summary.durationMs);
  return { ...summary, pruned };
}
