/**
 * roomcast's local stack in a child process: the local API Gateway emulator, embedded dynalite and the real
 * handlers (`startLocalStack`), with logging off and presence as configured (on by default).
 */
import { startLocalStack } from '../../src/local/stack.ts';
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
    env: { ...process.env, JWT_SECRET: BENCH_JWT_SECRET, LOG_LEVEL: 'SILENT' },
    // `http`: posts go over loopback through the client the Lambda uses (timeouts, retries) instead of in-process.
    ...(process.env.BENCH_MANAGEMENT_TRANSPORT === 'http' && { managementTransport: 'http' as const }),
  });
  for (const [key, def] of Object.entries(tables)) {
    indexKeys[stack.config.tables[key as keyof typeof tables]] = Object.values(def.indexes).map(
      (i) => i.hashKey,
    );
  }
  const registry = registryCounter(stack.dynamodbEndpoint, stack.config.region, [
    stack.config.tables.connections,
    stack.config.tables.subscriptions,
  ]);
  return {
    info: { url: stack.wsUrl, jwtSecret: BENCH_JWT_SECRET },
    registry: () => registry.count(),
    sdk: counters,
    close: async () => {
      registry.close();
      await stack.close();
    },
  };
});
