import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runColdStart } from './cold-start.ts';
import { costRows } from './cost.ts';
import { runChurn } from './driver/churn.ts';
import { clientFactory } from './driver/clients.ts';
import { type FanOutResult, runFanOut } from './driver/fan-out.ts';
import { ServerProcess } from './driver/server-process.ts';
import { round } from './driver/stats.ts';
import type { PostPathRow } from './micro/post-to-connection.ts';
import type { BenchOptions } from './options.ts';
import { summariseProfileFile } from './profile.ts';
import { checkTargets } from './report/targets.ts';
import type { BenchResults, ChurnEntry, FanOutEntry, ProfileEntry, Series } from './report/types.ts';
import { seriesNamed } from './series.ts';

type Log = (line: string) => void;

const run = promisify(execFile);

export async function runSuite(options: BenchOptions, log: Log): Promise<BenchResults> {
  const started = performance.now();
  const loadAvgStart = loadavg().map((l) => round(l, 2));
  const series = options.servers.map(seriesNamed);
  const results: BenchResults = {
    date: new Date().toISOString(),
    durationS: 0,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      loadAvgStart,
      loadAvgEnd: [],
    },
    options,
    series,
    fanOut: {},
    churn: [],
    cost: [],
    targets: [],
  };

  if (options.coldStart) {
    log(`cold start: building bundles, ${options.coldStartRuns} runs each`);
    try {
      const coldStart = await runColdStart(options.coldStartRuns);
      results.coldStart = coldStart.rows;
      results.bundleContents = coldStart.contents.slice(0, 15);
      for (const row of results.coldStart) {
        log(
          `  ${row.functionName}: ${kb(row.bytes)} KB, import ${row.importMs} ms + first event ${row.firstEventMs} ms`,
        );
      }
    } catch (error) {
      results.coldStartError = String(error);
      log(`  cold start failed: ${results.coldStartError}`);
    }
  }

  // N outer, servers inner: background load drifts over minutes, so it spreads over every server alike.
  for (const n of options.ns) {
    const entries: FanOutEntry[] = [];
    results.fanOut[n] = entries;
    for (const s of series) entries.push(await fanOutEntry(s, n, options, log));
  }
  if (options.churnCycles > 0) {
    for (const s of series) results.churn.push(await churnEntry(s, options, log));
  }

  if (options.microPosts > 0) {
    log(`micro-benchmark: PostToConnection clients, ${options.microPosts} posts × 3 each`);
    try {
      results.postPaths = await runPostPaths(options.microPosts);
      for (const row of results.postPaths) log(`  ${row.cpuUsPerPost} µs CPU/post: ${row.variant}`);
    } catch (error) {
      results.postPathsError = String(error);
      log(`  failed: ${results.postPathsError}`);
    }
  }

  if (options.profileN > 0 && series.some((s) => s.kind === 'roomcast')) {
    results.profile = await profileEntry(options, log);
  }

  for (const s of series.filter((s) => s.kind === 'roomcast' || s.kind === 'textbook')) {
    const measured = Object.values(results.fanOut)
      .flatMap((entries) => entries.filter((e) => e.series === s.name).map((e) => e.result))
      .filter((r): r is FanOutResult => r !== undefined);
    results.cost.push(...costRows(s.name, measured, [100, 1000]));
  }
  results.targets = checkTargets(results);
  results.machine.loadAvgEnd = loadavg().map((l) => round(l, 2));
  results.durationS = round((performance.now() - started) / 1000);
  return results;
}

function serverEnv(
  series: Series,
  options: Pick<BenchOptions, 'postLatencyMs' | 'invokeLatencyMs' | 'workerConcurrency'>,
): Record<string, string> {
  return {
    ...series.env,
    ...(options.postLatencyMs > 0 && { BENCH_POST_LATENCY_MS: String(options.postLatencyMs) }),
    ...(options.invokeLatencyMs > 0 && { BENCH_INVOKE_LATENCY_MS: String(options.invokeLatencyMs) }),
    BENCH_WORKER_CONCURRENCY: String(options.workerConcurrency),
  };
}

/** One fan-out run of `series` at N = `n` in a server child of its own, logged; a failure is an entry too. */
export async function fanOutEntry(
  series: Series,
  n: number,
  options: BenchOptions,
  log: Log,
): Promise<FanOutEntry> {
  let server: ServerProcess | undefined;
  try {
    server = await ServerProcess.start(series.kind, { env: serverEnv(series, options) });
    const result = await runFanOut(
      server,
      clientFactory(series.kind, server.info),
      { ...options, n },
      `room-${n}`,
    );
    log(`fan-out ${series.name} N=${n}: ${describeFanOut(result)}`);
    const problems = server.stderr
      .split('\n')
      .filter((line) => /^\[gateway\]|^PostToConnection|Error/.test(line));
    for (const line of problems.slice(0, 3)) log(`  server stderr: ${line.slice(0, 240)}`);
    if (problems.length > 3) log(`  server stderr: … ${problems.length - 3} more (last 4 KB kept)`);
    return { series: series.name, result, ...(server.stderr && { stderrTail: server.stderr.slice(-2000) }) };
  } catch (error) {
    log(`fan-out ${series.name} N=${n}: failed: ${String(error)}`);
    return { series: series.name, error: String(error) };
  } finally {
    await server?.kill();
  }
}

async function churnEntry(series: Series, options: BenchOptions, log: Log): Promise<ChurnEntry> {
  let server: ServerProcess | undefined;
  try {
    server = await ServerProcess.start(series.kind, { env: serverEnv(series, options) });
    const result = await runChurn(
      server,
      clientFactory(series.kind, server.info),
      {
        cycles: options.churnCycles,
        concurrency: options.churnConcurrency,
        drainTimeoutMs: options.drainTimeoutMs,
      },
      'churn',
    );
    log(
      `churn ${series.name}: ${result.cyclesPerSec} connect+disconnect/s, ${result.failures} failed, registry after: ${result.registryAfter}`,
    );
    return { series: series.name, result };
  } catch (error) {
    log(`churn ${series.name}: failed: ${String(error)}`);
    return { series: series.name, error: String(error) };
  } finally {
    await server?.stop();
  }
}

/**
 * roomcast as shipped (presence on) under `--cpu-prof` for one fan-out; the connect, one-at-a-time and burst phases
 * are cut out of the profile by their hrtime windows.
 */
async function profileEntry(options: BenchOptions, log: Log): Promise<ProfileEntry> {
  const n = options.profileN;
  const dir = join(options.outDir, 'profiles');
  log(`profile: roomcast N=${n} under --cpu-prof`);
  const entry: ProfileEntry = {
    series: 'roomcast',
    n,
    file: '',
    deliveries: 0,
    cpuUsPerDelivery: 0,
  };
  let server: ServerProcess | undefined;
  try {
    await rm(dir, { recursive: true, force: true });
    server = await ServerProcess.start('roomcast', { cpuProfileDir: dir });
    const pid = server.pid;
    const result = await runFanOut(
      server,
      clientFactory('roomcast', server.info),
      { ...options, n },
      'profiled',
    );
    await server.stop();
    // The main thread's profile; tsx's module-loader thread writes one too (`.<pid>.1.`).
    const file = (await readdir(dir))
      .filter((f) => f.includes(`.${pid}.0.`) && f.endsWith('.cpuprofile'))
      .at(-1);
    if (!file) throw new Error(`no main-thread profile for pid ${pid} in ${dir}`);
    entry.file = join('profiles', file);
    if (result.error) throw new Error(`fan-out: ${result.error}`);
    if (result.connectFailures)
      log(`  ${result.connectFailures} connects failed: ${result.connectErrors.join('; ')}`);
    const seq = result.sequential;
    if (seq) {
      entry.deliveries = seq.delivered;
      entry.cpuUsPerDelivery = Math.round((seq.serverCpuS * 1e6) / Math.max(1, seq.delivered));
      entry.sequential = await summariseProfileFile(join(dir, file), seq.window);
    }
    if (result.burst) entry.burst = await summariseProfileFile(join(dir, file), result.burst.window);
    entry.connect = await summariseProfileFile(join(dir, file), result.connectWindow);
    entry.cpuUsPerConnect = Math.round((result.connectServerCpuS * 1e6) / Math.max(1, result.connected));
    log(`  ${entry.cpuUsPerDelivery} µs server CPU per delivery; profile ${entry.file}`);
  } catch (error) {
    entry.error = String(error);
    log(`  profile failed: ${entry.error}`);
  } finally {
    await server?.kill();
  }
  return entry;
}

/** In a child process of its own, so the bench's own state does not weigh on its CPU numbers. */
export async function runPostPaths(posts: number): Promise<PostPathRow[]> {
  const file = join(import.meta.dirname, 'micro', 'post-to-connection.ts');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', file, String(posts), '--json'], {
    timeout: 300_000,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const line = stdout.split('\n').find((l) => l.startsWith('POSTPATHS '));
  if (!line) throw new Error(`no result: ${stdout.slice(0, 300)}`);
  return JSON.parse(line.slice('POSTPATHS '.length)) as PostPathRow[];
}

function describeFanOut(r: FanOutResult): string {
  const phase = (name: string, p: FanOutResult['sequential']) =>
    p
      ? `${name} ${p.deliveriesPerSec.toLocaleString('en-US')}/s p50 ${p.p50Ms} p99 ${p.p99Ms} ms lost ${p.lost}` +
        `${p.duplicates ? ` dup ${p.duplicates}` : ''}${p.timedOut ? ' INCOMPLETE' : ''}` +
        (p.workers?.accepted
          ? ` (${p.workers.accepted} worker invocations, ${p.workers.retries} retried)`
          : '')
      : `${name} -`;
  const failures = r.connectFailures ? ` (${r.connectFailures} failed: ${r.connectErrors.join('; ')})` : '';
  return [
    `connect ${round(r.connectMs / 1000, 2)} s${failures}`,
    phase('seq', r.sequential),
    phase('burst', r.burst),
    `registry after ${r.registryAfter}`,
    ...Object.entries(r.otherFrames)
      .filter(([kind]) => kind !== 'presence')
      .map(([kind, count]) => `${count} "${kind}" frames`),
    ...(r.warmUpIncomplete ? [r.warmUpIncomplete] : []),
    ...(r.error ? [`ERROR ${r.error}`] : []),
  ].join(', ');
}

function kb(bytes: number): number {
  return Math.round(bytes / 1024);
}
