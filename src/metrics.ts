import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Config } from './config.ts';
import type { Log } from './invocation.ts';

/** Every metric roomcast publishes (CloudWatch Embedded Metric Format); alarms and dashboards name these. */
export const METRIC = {
  connectionsOpened: 'ConnectionsOpened',
  connectionsRefused: 'ConnectionsRefused',
  connectionsClosed: 'ConnectionsClosed',
  messagesReceived: 'MessagesReceived',
  framesRejected: 'FramesRejected',
  /** Frames over a connection's limits (answered RATE_LIMITED or dropped). */
  framesRateLimited: 'FramesRateLimited',
  /** Connections closed after sustained abuse of their limits. */
  connectionsClosedForAbuse: 'ConnectionsClosedForAbuse',
  /** Replies (answers, error frames) dropped because the caller's buffer stayed full: it is not reading. */
  repliesDropped: 'RepliesDropped',
  deliveriesSucceeded: 'DeliveriesSucceeded',
  staleConnectionsPruned: 'StaleConnectionsPruned',
  deliveriesFailed: 'DeliveriesFailed',
  deliveriesTimedOut: 'DeliveriesTimedOut',
  fanOutDuration: 'FanOutDuration',
  /** Worker invocations a sender handed a big room's delivery to (src/fan-out.ts). */
  fanOutShards: 'FanOutShards',
  /** Shards the sender could not hand to a worker and delivered itself. */
  fanOutDispatchFailures: 'FanOutDispatchFailures',
  /** From the message's storing to a worker's start: the time in Lambda's asynchronous queue, and the hop. */
  fanOutQueueDelay: 'FanOutQueueDelay',
  /** One worker's posting of its shard (FanOutDuration is the whole room's, from its sender). */
  fanOutShardDuration: 'FanOutShardDuration',
  /** Shards a worker handed on again for the posts that failed (throttled or 5xx after retries). */
  fanOutShardRetries: 'FanOutShardRetries',
  /** Messages the backend published (`roomcast publish`, src/admin.ts). */
  messagesPublished: 'MessagesPublished',
  /** Revocations recorded (`roomcast revoke`): a user's tokens, one token, or both at once. */
  tokensRevoked: 'TokensRevoked',
  /** Live connections a revocation closed. */
  connectionsRevoked: 'ConnectionsRevoked',
  /** Connections closed at their first frame after their token's `exp` (TOKEN_EXPIRED). */
  connectionsClosedTokenExpired: 'ConnectionsClosedTokenExpired',
  /** The gauge, every minute (src/admin.ts, `stats`): live connections, rooms with any, and the biggest room's. */
  activeConnections: 'ActiveConnections',
  activeRooms: 'ActiveRooms',
  largestRoomConnections: 'LargestRoomConnections',
  /** The live connections of each of the biggest rooms, with dimension `room_id`. */
  roomConnections: 'RoomConnections',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

export interface ChatMetrics {
  count(name: MetricName, value?: number): void;
  milliseconds(name: MetricName, value: number): void;
  /** A gauge reading (a count at one moment); with `roomId`, under the dimension `room_id`, published at once. */
  gauge(name: MetricName, value: number, roomId?: string): void;
  /** Publishes what the invocation recorded. Never throws: metrics must not break a handler. */
  flush(log: Log): void;
}

export function createMetrics(config: Config): ChatMetrics {
  if (!config.metrics.enabled) return { count() {}, milliseconds() {}, gauge() {}, flush() {} };
  const metrics = new Metrics({ namespace: config.metrics.namespace, serviceName: config.serviceName });
  const guarded =
    (add: (name: MetricName, value: number) => void) =>
    (name: MetricName, value = 1) => {
      try {
        add(name, value);
      } catch {
        // A bad value is a bug to fix, never a reason to fail a chat message; flush() reports nothing for it.
      }
    };
  return {
    count: guarded((name, value) => metrics.addMetric(name, MetricUnit.Count, value)),
    milliseconds: guarded((name, value) => metrics.addMetric(name, MetricUnit.Milliseconds, value)),
    gauge(name, value, roomId) {
      try {
        if (roomId === undefined) metrics.addMetric(name, MetricUnit.Count, value);
        else {
          // Its own EMF line: the room's dimension must not reach the invocation's other metrics.
          const single = metrics.singleMetric();
          single.addDimension('room_id', roomId);
          single.addMetric(name, MetricUnit.Count, value);
        }
      } catch {
        // As for count: a metric never fails the invocation.
      }
    },
    flush(log) {
      try {
        if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      } catch (error) {
        log.warn('metrics not published', { error: error as Error });
      }
    },
  };
}
