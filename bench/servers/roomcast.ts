/**
 * roomcast's local stack in a child process: the local API Gateway emulator, embedded dynalite and the real
 * handlers (`startLocalStack`), with logging off and presence as configured (on by default). The fan-out workers
 * run in the emulator's asynchronous invocation, at most `BENCH_WORKER_CONCURRENCY` at once (default 32).
 */
import { LOCAL_CREDENTIALS, startLocalStack } from '../../src/local/stack.ts';
import { tables } from '../../src/store/tables.ts';
import { serveChild } from './child.ts';
import { registryCounter } from './registry-scan.ts';
import { installSdkMeter } from './sdk-meter.ts';

const BENCH_JWT_SECRET = 'roomcast-bench-secret-0123456789abcdef';

await serveChild(async () => {
  const indexKeys: Record<string, string[]> = {};
  const counters = installSdkMeter(indexKeys);
  const stack = await startLocalStack({
    port: 0,
    env: {
      // The sender is a load generator: at N = 100 it sends about 100 messages a second, then 50 at once, past
      // the per-connection limits a chat client never reaches (50 frames a second, 50 at once), which would answer
      // it RATE_LIMITED. The limits are for hostile clients; the bench measures throughput.
      CONNECTION_FRAMES_PER_SECOND: '100000',
      CONNECTION_FRAME_BURST: '100000',
      ...process.env,
      JWT_SECRET: BENCH_JWT_SECRET,
      LOG_LEVEL: 'SILENT',
    },
    // `http`: posts go over loopback through the client the Lambda uses (timeouts, retries) instead of in-process.
    ...(process.env.BENCH_MANAGEMENT_TRANSPORT === 'http' && { managementTransport: 'http' as const }),
    // How many fan-out worker invocations run at once (the emulator's default otherwise: 32).
    ...(process.env.BENCH_WORKER_CONCURRENCY && {
      asyncInvocation: { maxConcurrency: Number(process.env.BENCH_WORKER_CONCURRENCY) },
    }),
  });
  for (const [key, def] of Object.entries(tables)) {
    indexKeys[stack.config.tables[key as keyof typeof tables]] = Object.values(def.indexes).map(
      (i) => i.hashKey,
    );
  }
  // The stack's own DynamoDB clients sign with these unless the environment has credentials.
  const ownCredentials = process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE;
  const registry = registryCounter(
    stack.dynamodbEndpoint,
    stack.config.region,
    [stack.config.tables.connections, stack.config.tables.subscriptions],
    ownCredentials ? undefined : LOCAL_CREDENTIALS,
  );
  return {
    info: { url: stack.wsUrl, jwtSecret: BENCH_JWT_SECRET },
    registry: () => registry.count(),
    sdk: counters,
    lambda: () => {
      const s = stack.functions.stats;
      return {
        accepted: s.accepted,
        refused: s.refusedQueueFull + s.refusedTooLarge,
        attempts: s.attempts,
        succeeded: s.succeeded,
        retries: s.retries,
        givenUp: s.retriesExhausted + s.eventAgeExceeded,
      };
    },
    close: async () => {
      registry.close();
      await stack.close();
    },
  };
});
