import type { ClientFactory } from './clients.ts';
import { cpuSeconds, waitForEmptyRegistry } from './fan-out.ts';
import type { ServerProcess } from './server-process.ts';
import { mapLimit, round } from './stats.ts';

export interface ChurnSettings {
  /** Connect + disconnect cycles. */
  cycles: number;
  concurrency: number;
  drainTimeoutMs: number;
}

export interface ChurnResult {
  cycles: number;
  failures: number;
  errors: string[];
  /** Until the last client saw its close complete. */
  clientMs: number;
  /** Until the server's registry was empty again (roomcast: every `$disconnect` ran). */
  drainedMs: number;
  /** Cycles (one connect + one disconnect each) per second, measured to the drained registry. */
  cyclesPerSec: number;
  registryAfter: number;
  serverCpuS: number;
}

/** Clients connect to one room and leave again at once, `concurrency` at a time. */
export async function runChurn(
  server: ServerProcess,
  factory: ClientFactory,
  settings: ChurnSettings,
  room: string,
): Promise<ChurnResult> {
  const users = Array.from({ length: settings.cycles }, (_, i) => `churn${i}`);
  await factory.prepare(users);
  const ignore = { message() {}, other() {} };
  const before = await server.stats();
  const started = performance.now();
  const outcomes = await mapLimit(users, settings.concurrency, async (user) => {
    const client = await factory.connect(user, room, ignore);
    await client.close();
  });
  const clientMs = performance.now() - started;
  const drained = await waitForEmptyRegistry(server, settings.drainTimeoutMs);
  const drainedMs = clientMs + drained.ms;
  const after = await server.stats();
  const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  const succeeded = settings.cycles - failed.length;
  return {
    cycles: settings.cycles,
    failures: failed.length,
    errors: [...new Set(failed.map((f) => String((f.reason as Error)?.message ?? f.reason)))].slice(0, 5),
    clientMs: round(clientMs),
    drainedMs: round(drainedMs),
    cyclesPerSec: round((succeeded / drainedMs) * 1000),
    registryAfter: drained.registry,
    serverCpuS: cpuSeconds(before, after),
  };
}
