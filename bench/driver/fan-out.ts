import type { AsyncInvocationCounters, SdkCounters, ServerStats } from '../servers/ipc.ts';
import type { BenchClient, ClientFactory } from './clients.ts';
import type { ServerProcess } from './server-process.ts';
import { mapLimit, percentile, round } from './stats.ts';
import { DeliveryTracker } from './tracker.ts';

/** What every fan-out run does; BenchOptions carries it for all of them. */
export interface FanOutWorkload {
  /** Messages sent one at a time (each waits until all N got the previous one). */
  sequential: number;
  /** Messages sent all at once. */
  burst: number;
  /** Unreported messages first, one at a time (JIT, keep-alive sockets); more for small N. */
  warmup: number;
  /**
   * Clients that connect and disconnect, in another room, before the timed connect: its number is then the
   * server's steady state, not its JIT warming up (every server gets the same). 0 = none.
   */
  connectWarmup: number;
  connectConcurrency: number;
  messageBytes: number;
  /** A wait for deliveries gives up after this long without any delivery (lost deliveries are then counted). */
  stallMs: number;
  /** The longest a burst may take in all. */
  burstTimeoutMs: number;
  /** How long to wait for the server's registry to empty after every client closed. */
  drainTimeoutMs: number;
}

export interface FanOutSettings extends FanOutWorkload {
  n: number;
}

export interface PhaseResult {
  sent: number;
  expected: number;
  delivered: number;
  /** Deliveries that never came (expected − delivered). */
  lost: number;
  clientsWithLoss: number;
  maxLostPerClient: number;
  duplicates: number;
  durationMs: number;
  deliveriesPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  serverCpuS: number;
  driverCpuS: number;
  /** Some deliveries never came: the wait gave up (see `stallMs`). */
  timedOut: boolean;
  sdk?: SdkCounters;
  /** roomcast: the fan-out workers' invocations during the phase (those still running at its end included). */
  workers?: AsyncInvocationCounters;
  /** The phase on the child's hrtime clock, µs (to cut it out of a CPU profile). */
  window: [number, number];
}

export interface FanOutResult {
  n: number;
  connected: number;
  connectFailures: number;
  connectErrors: string[];
  connectMs: number;
  connectServerCpuS: number;
  /** The connect phase on the child's hrtime clock, µs. */
  connectWindow: [number, number];
  connectSdk?: SdkCounters;
  sequential?: PhaseResult;
  burst?: PhaseResult;
  closeMs: number;
  /** Registry items (or sockets) the server still had after every client closed; -1 if it did not answer. */
  registryAfter: number;
  drainMs: number;
  otherFrames: Record<string, number>;
  /** A warm-up message did not reach every client (the run goes on; its losses show in the phases). */
  warmUpIncomplete?: string;
  error?: string;
}

/** N clients in one room; one of them sends, first one message at a time, then a burst. */
export async function runFanOut(
  server: ServerProcess,
  factory: ClientFactory,
  settings: FanOutSettings,
  room: string,
): Promise<FanOutResult> {
  const users = Array.from({ length: settings.n }, (_, i) => `user${i}`);
  const warmUsers = Array.from({ length: settings.connectWarmup }, (_, i) => `warm${i}`);
  await factory.prepare([...users, ...warmUsers]);
  await warmUpConnects(server, factory, warmUsers, `${room}-warm-up`, settings);
  const otherFrames: Record<string, number> = {};
  // At least ~2,000 warm-up deliveries, so small rooms are measured on a warm server too (JIT, sockets).
  const warmup = Math.max(settings.warmup, Math.ceil(2000 / settings.n));
  const total = warmup + settings.sequential + settings.burst;
  const slots: number[] = [];
  let tracker: DeliveryTracker | undefined;

  const before = await server.stats();
  const started = performance.now();
  const outcomes = await mapLimit(users, settings.connectConcurrency, (user, i) =>
    factory.connect(user, room, {
      message: (text) => tracker?.deliver(slots[i] as number, text),
      other: (kind) => {
        otherFrames[kind] = (otherFrames[kind] ?? 0) + 1;
      },
    }),
  );
  const connectMs = performance.now() - started;
  const connectedStats = await server.stats();
  const clients: BenchClient[] = [];
  const connectErrors = new Set<string>();
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') {
      slots[i] = clients.length;
      clients.push(outcome.value);
    } else connectErrors.add(String((outcome.reason as Error)?.message ?? outcome.reason));
  });

  const result: FanOutResult = {
    n: settings.n,
    connected: clients.length,
    connectFailures: settings.n - clients.length,
    connectErrors: [...connectErrors].slice(0, 5),
    connectMs: round(connectMs),
    connectServerCpuS: cpuSeconds(before, connectedStats),
    connectWindow: [before.hrtimeUs, connectedStats.hrtimeUs],
    ...(connectedStats.sdk && before.sdk && { connectSdk: sdkDelta(before.sdk, connectedStats.sdk) }),
    closeMs: 0,
    registryAfter: -1,
    drainMs: 0,
    otherFrames,
  };

  try {
    const sender = clients[0];
    if (!sender) throw new Error(`no client connected: ${result.connectErrors.join('; ')}`);
    tracker = new DeliveryTracker(clients.length, total, 'x'.repeat(Math.max(0, settings.messageBytes - 8)));
    const live = tracker;
    for (let i = 0; i < warmup; i++) {
      live.markSent(i);
      sender.send(live.text(i));
      if (!(await live.waitFor(i, settings.stallMs)) && !result.warmUpIncomplete) {
        // Reported, not fatal: the measured phases then count the missing deliveries per client.
        result.warmUpIncomplete = `warm-up message ${i} reached ${live.counts[i]} of ${clients.length} clients`;
      }
    }
    const seqFrom = warmup;
    const burstFrom = seqFrom + settings.sequential;
    if (settings.sequential > 0) {
      result.sequential = await phase(server, live, seqFrom, burstFrom, 'sequential', async () => {
        // An incomplete message is a loss to report, not a reason to stop; three in a row mean the server is stuck.
        let incompleteInARow = 0;
        for (let i = seqFrom; i < burstFrom; i++) {
          live.markSent(i);
          sender.send(live.text(i));
          incompleteInARow = (await live.waitFor(i, settings.stallMs)) ? 0 : incompleteInARow + 1;
          if (incompleteInARow === 3) return { sent: i + 1 - seqFrom, timedOut: true };
        }
        return { sent: burstFrom - seqFrom, timedOut: false };
      });
    }
    if (settings.burst > 0) {
      result.burst = await phase(server, live, burstFrom, total, 'burst', async () => {
        for (let i = burstFrom; i < total; i++) {
          live.markSent(i);
          sender.send(live.text(i));
        }
        const complete = await live.waitForAll(burstFrom, total, settings.stallMs, settings.burstTimeoutMs);
        return { sent: total - burstFrom, timedOut: !complete };
      });
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    const closing = performance.now();
    await mapLimit(clients, settings.connectConcurrency, (client) => client.close());
    result.closeMs = round(performance.now() - closing);
    const drained = await waitForEmptyRegistry(server, settings.drainTimeoutMs);
    result.registryAfter = drained.registry;
    result.drainMs = round(drained.ms);
  }
  return result;
}

async function warmUpConnects(
  server: ServerProcess,
  factory: ClientFactory,
  users: readonly string[],
  room: string,
  settings: FanOutSettings,
): Promise<void> {
  const ignore = { message() {}, other() {} };
  const outcomes = await mapLimit(users, settings.connectConcurrency, (user) =>
    factory.connect(user, room, ignore),
  );
  const clients = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  await mapLimit(clients, settings.connectConcurrency, (client) => client.close());
  await waitForEmptyRegistry(server, settings.drainTimeoutMs);
}

async function phase(
  server: ServerProcess,
  tracker: DeliveryTracker,
  from: number,
  to: number,
  kind: 'sequential' | 'burst',
  drive: () => Promise<{ sent: number; timedOut: boolean }>,
): Promise<PhaseResult> {
  const before = await server.stats();
  const driverBefore = process.cpuUsage();
  const duplicatesBefore = tracker.duplicates;
  const started = performance.now();
  const { sent, timedOut } = await drive();
  let ended = performance.now();
  if (kind === 'burst')
    ended = timedOut ? tracker.lastDeliveryAt : Math.max(...tracker.completedAt.slice(from, to));
  const driverCpu = process.cpuUsage(driverBefore);
  const after = await server.stats();
  const end = from + sent;
  const lostPerClient = tracker.lostPerClient(from, end);
  const delivered = tracker.delivered(from, end);
  const latencies = tracker.latencies(from, end);
  const durationMs = Math.max(ended - started, 0.001);
  return {
    sent,
    expected: sent * tracker.clients,
    delivered,
    lost: lostPerClient.reduce((a, b) => a + b, 0),
    clientsWithLoss: lostPerClient.filter((lost) => lost > 0).length,
    maxLostPerClient: Math.max(0, ...lostPerClient),
    duplicates: tracker.duplicates - duplicatesBefore,
    durationMs: round(durationMs),
    deliveriesPerSec: Math.round((delivered / durationMs) * 1000),
    p50Ms: round(percentile(latencies, 50), 2),
    p95Ms: round(percentile(latencies, 95), 2),
    p99Ms: round(percentile(latencies, 99), 2),
    maxMs: round(percentile(latencies, 100), 2),
    serverCpuS: cpuSeconds(before, after),
    driverCpuS: round((driverCpu.user + driverCpu.system) / 1e6, 3),
    timedOut,
    ...(before.sdk && after.sdk && { sdk: sdkDelta(before.sdk, after.sdk) }),
    ...(before.lambda && after.lambda && { workers: counterDelta(before.lambda, after.lambda) }),
    window: [before.hrtimeUs, after.hrtimeUs],
  };
}

export async function waitForEmptyRegistry(
  server: ServerProcess,
  timeoutMs: number,
): Promise<{ registry: number; ms: number }> {
  const started = performance.now();
  for (;;) {
    const { registry } = await server.stats();
    const ms = performance.now() - started;
    if (registry === 0 || ms > timeoutMs) return { registry, ms };
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function cpuSeconds(before: ServerStats, after: ServerStats): number {
  const us = after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs;
  return round(us / 1e6, 3);
}

function sdkDelta(before: SdkCounters, after: SdkCounters): SdkCounters {
  const diff = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(b)
        .map(([key, value]) => [key, value - (a[key] ?? 0)] as const)
        .filter(([, value]) => value !== 0),
    );
  return {
    operations: diff(before.operations, after.operations),
    rru: after.rru - before.rru,
    wru: after.wru - before.wru,
    conditionalFailures: after.conditionalFailures - before.conditionalFailures,
    posts: after.posts - before.posts,
    postRetries: after.postRetries - before.postRetries,
    postUnits: after.postUnits - before.postUnits,
    postBytes: after.postBytes - before.postBytes,
    postErrors: diff(before.postErrors, after.postErrors),
    invokes: after.invokes - before.invokes,
  };
}

function counterDelta(
  before: AsyncInvocationCounters,
  after: AsyncInvocationCounters,
): AsyncInvocationCounters {
  return {
    accepted: after.accepted - before.accepted,
    refused: after.refused - before.refused,
    attempts: after.attempts - before.attempts,
    succeeded: after.succeeded - before.succeeded,
    retries: after.retries - before.retries,
    givenUp: after.givenUp - before.givenUp,
  };
}
