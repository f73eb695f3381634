/**
 * The modelled case (`npm run bench -- --modelled`): roomcast's local stack with AWS-like round trips (every
 * PostToConnection and every Lambda Invoke waits first), the direct path (`roomcast-direct`) against the fan-out
 * tier (`roomcast-workers`) at N = 1,000 and 10,000, one message at a time; then the model of bench/model.ts,
 * checked against those measurements and taken to N = 100,000, and the cost per 1,000 messages it implies.
 * Writes `modelled.json` and `modelled.md` into the results directory.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { type DeliveryCostRow, deliveryCost, PRICES, STORE_UNITS } from './cost.ts';
import type { FanOutResult } from './driver/fan-out.ts';
import { round } from './driver/stats.ts';
import { measureRoomPage, type RoomPageResult } from './micro/room-page.ts';
import {
  AWS_INPUTS,
  inputsMarkdown,
  type ModelInputs,
  type ModelRow,
  modelDelivery,
  rowsMarkdown,
  runModel,
  simulateThrottle,
  workersWithinThrottle,
} from './model.ts';
import type { BenchOptions } from './options.ts';
import type { BenchResults, Series } from './report/types.ts';
import { seriesNamed } from './series.ts';
import { fanOutEntry, runPostPaths } from './suite.ts';

type Log = (line: string) => void;

/** The room sizes the model is taken to, and the cost table's. */
const MODEL_NS = [1000, 10_000, 100_000];
const COST_NS = [100, 1000, 10_000, 100_000];
/** A raised account throttle, for the model (the burst stays: AWS sets it, not the quota request). */
const RAISED_RATE = 50_000;
/** File descriptors a server or the driver needs besides its N sockets (dynalite, IPC, pipes, the warm-up). */
const FD_HEADROOM = 256;
/** dynalite reads a room at about 7 µs an item (README, "Subscriptions": 6.3–7.1 ms per 1,000). */
const DYNALITE_US_PER_ITEM = 7;
/** The micro-benchmark's row that is the code the Lambdas run. */
const DEPLOYED_ROW = 'roomcast (as deployed)';

interface ModelledRun {
  series: string;
  n: number;
  result?: FanOutResult;
  error?: string;
  stderrTail?: string;
}

interface ModelCheck {
  series: string;
  n: number;
  path: 'direct' | 'workers';
  measuredP50Ms: number;
  measuredP99Ms: number;
  modelMs: number;
  bound: string;
  /** Server CPU per delivery the local model used, µs, and the N it was measured at. */
  cpuPerDeliveryUs: number;
  cpuMeasuredAtN: number;
  /** The same model with the CPU per delivery measured at this N (explains, no longer predicts). */
  modelOwnCpuMs: number;
  ownCpuPerDeliveryUs: number;
}

export interface ModelledResults {
  date: string;
  durationS: number;
  machine: BenchResults['machine'];
  options: BenchOptions;
  /** `ulimit -n` of the bench (the server children inherit it). */
  fdLimit: number;
  runs: ModelledRun[];
  cpuPerPostUs: number;
  cpuPerPostSource: string;
  roomPage?: RoomPageResult;
  /** The model's inputs: AWS_INPUTS with this run's measurements (JSON turns Infinity into null). */
  inputs: ModelInputs;
  raisedRate: number;
  model: ModelRow[];
  checks: ModelCheck[];
  cost: DeliveryCostRow[];
}

export async function runModelled(options: BenchOptions, log: Log): Promise<ModelledResults> {
  const started = performance.now();
  const loadAvgStart = loadavg().map((l) => round(l, 2));
  const series = options.servers.map(seriesNamed);
  const notRoomcast = series.filter((s) => s.kind !== 'roomcast').map((s) => s.name);
  if (notRoomcast.length > 0) throw new Error(`--modelled runs roomcast series only, not ${notRoomcast}`);
  const fdLimit = openFileLimit();
  log(
    `modelled: posts +${options.postLatencyMs} ms, invokes +${options.invokeLatencyMs} ms, ` +
      `${options.workerConcurrency} workers at once; ulimit -n ${fdLimit}`,
  );

  const runs: ModelledRun[] = [];
  for (const n of options.ns) {
    for (const s of series) runs.push(await measure(s, n, options, fdLimit, log));
  }

  let cpuPerPostUs = AWS_INPUTS.cpuPerPostUs;
  let cpuPerPostSource = 'bench/README.md (median of four runs of micro/post-to-connection.ts)';
  if (options.microPosts > 0) {
    log(`micro-benchmark: PostToConnection clients, ${options.microPosts} posts a round`);
    try {
      const row = (await runPostPaths(options.microPosts)).find((r) => r.variant.startsWith(DEPLOYED_ROW));
      if (!row) throw new Error(`no "${DEPLOYED_ROW}" row`);
      cpuPerPostUs = row.cpuUsPerPost;
      cpuPerPostSource = 'micro/post-to-connection.ts in this run';
      log(`  ${cpuPerPostUs} µs CPU per post (${row.variant})`);
    } catch (error) {
      log(`  failed (${String(error)}); the model uses ${cpuPerPostUs} µs`);
    }
  }
  let roomPage: RoomPageResult | undefined;
  try {
    roomPage = await measureRoomPage(10_000);
    log(
      `room page: ${roomPage.cpuMsPerPage} ms CPU to parse 10,000 items (${roomPage.cpuUsPerItem} µs each)`,
    );
  } catch (error) {
    log(`room page micro-benchmark failed: ${String(error)}`);
  }

  const inputs: ModelInputs = {
    ...AWS_INPUTS,
    postRttMs: options.postLatencyMs || AWS_INPUTS.postRttMs,
    cpuPerPostUs,
    ...(roomPage && { cpuUsPerItem: roomPage.cpuUsPerItem }),
  };
  return {
    date: new Date().toISOString(),
    durationS: round((performance.now() - started) / 1000),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      loadAvgStart,
      loadAvgEnd: loadavg().map((l) => round(l, 2)),
    },
    options,
    fdLimit,
    runs,
    cpuPerPostUs,
    cpuPerPostSource,
    ...(roomPage && { roomPage }),
    ...modelParts(inputs, runs, options),
  };
}

/** The model, its check against the runs and the cost it implies: everything computed, nothing measured. */
function modelParts(
  inputs: ModelInputs,
  runs: ModelledRun[],
  options: BenchOptions,
): Pick<ModelledResults, 'inputs' | 'raisedRate' | 'model' | 'checks' | 'cost'> {
  const within = workersWithinThrottle(inputs);
  const unpaced = { ...inputs, tierConcurrency: Number.POSITIVE_INFINITY };
  const variants = [
    { path: 'direct' as const, label: 'direct', inputs },
    {
      path: 'workers' as const,
      label: `tier as deployed: ${inputs.tierConcurrency} posts in flight across the workers`,
      inputs,
    },
    { path: 'workers' as const, label: 'tier unpaced, every shard at once', inputs: unpaced },
    {
      path: 'workers' as const,
      label: `tier unpaced, ${within} workers at once`,
      inputs: { ...unpaced, workerConcurrency: within },
    },
  ];
  const cost = COST_NS.flatMap((n) =>
    variants
      // Up to the threshold the tier is the direct path.
      .filter((v) => v.path === 'direct' || n > inputs.threshold)
      .map((v) => {
        const sim = simulateThrottle(n, v.path, v.inputs);
        // A direct fan-out cut off by the sender's timeout never makes the rest of its posts.
        const cutOff = v.path === 'direct' ? sim.lost.median : 0;
        return deliveryCost({
          n,
          path: v.path,
          label: cutOff
            ? `${v.label}: cut off at ${inputs.senderTimeoutMs / 1000} s, ${Math.round((cutOff / n) * 100)} % never posted`
            : v.label,
          posts: n - cutOff,
          senderMs: sim.senderMs,
          workerInvocations: sim.workerInvocations,
          workerMsTotal: sim.workerMsTotal,
        });
      }),
  );
  return {
    inputs,
    raisedRate: RAISED_RATE,
    model: runModel(inputs, MODEL_NS, RAISED_RATE),
    checks: modelChecks(runs, options.servers.map(seriesNamed), options),
    cost,
  };
}

async function measure(
  series: Series,
  n: number,
  options: BenchOptions,
  fdLimit: number,
  log: Log,
): Promise<ModelledRun> {
  // The driver holds N client sockets and the server N more, each in its own process under this limit.
  const needed = Math.max(n, options.connectWarmup) + FD_HEADROOM;
  if (fdLimit < needed) {
    const error = `N = ${n} needs about ${needed} open files per process; ulimit -n is ${fdLimit}`;
    log(`fan-out ${series.name} N=${n}: skipped: ${error}`);
    return { series: series.name, n, error };
  }
  return { n, ...(await fanOutEntry(series, n, options, log)) };
}

function openFileLimit(): number {
  try {
    const value = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value);
  } catch {
    return Number.NaN;
  }
}

function pathOf(series: Series): { path: 'direct' | 'workers'; threshold: number } {
  if (series.env?.FANOUT_WORKER_FUNCTION === '')
    return { path: 'direct', threshold: Number.POSITIVE_INFINITY };
  return { path: 'workers', threshold: Number(series.env?.FANOUT_THRESHOLD ?? AWS_INPUTS.threshold) };
}

/**
 * The model with the local stack's inputs (one process: one core for the sender and every worker, the emulated
 * round trips, dynalite's read time, no throttle), fed with the server CPU per delivery each series used at its
 * smallest N, against what was measured: at the larger N it predicts, at the smallest it only re-adds.
 */
function modelChecks(runs: ModelledRun[], series: Series[], options: BenchOptions): ModelCheck[] {
  const checks: ModelCheck[] = [];
  for (const s of series) {
    const mine = runs.filter((r) => r.series === s.name && r.result?.sequential).sort((a, b) => a.n - b.n);
    const basis = mine[0]?.result?.sequential;
    if (!basis || basis.delivered === 0) continue;
    const cpuPerDeliveryUs = round((basis.serverCpuS * 1e6) / basis.delivered);
    const { path, threshold } = pathOf(s);
    const local: ModelInputs = {
      ...AWS_INPUTS,
      postRttMs: options.postLatencyMs,
      invokeRttMs: options.invokeLatencyMs,
      workerStartMs: 0,
      apiToLambdaMs: 0,
      storeMs: 0,
      queryRttMs: 0,
      dynamoUsPerItem: DYNALITE_US_PER_ITEM,
      cpuUsPerItem: 0,
      cpuPerPostUs: cpuPerDeliveryUs,
      senderMemoryMb: AWS_INPUTS.mbPerVcpu,
      workerMemoryMb: AWS_INPUTS.mbPerVcpu,
      threshold,
      workerConcurrency: options.workerConcurrency,
      throttle: { ratePerSecond: Number.POSITIVE_INFINITY, burst: Number.POSITIVE_INFINITY },
      cpu: 'shared',
    };
    for (const run of mine) {
      const seq = run.result?.sequential;
      if (!seq) continue;
      const predicted = modelDelivery(run.n, path, local);
      const ownCpuPerDeliveryUs = round((seq.serverCpuS * 1e6) / Math.max(1, seq.delivered));
      const explained = modelDelivery(run.n, path, { ...local, cpuPerPostUs: ownCpuPerDeliveryUs });
      checks.push({
        modelOwnCpuMs: round(explained.totalMs),
        ownCpuPerDeliveryUs,
        series: s.name,
        n: run.n,
        path: predicted.path,
        measuredP50Ms: seq.p50Ms,
        measuredP99Ms: seq.p99Ms,
        modelMs: round(predicted.totalMs),
        bound: predicted.bound,
        cpuPerDeliveryUs,
        cpuMeasuredAtN: mine[0]?.n ?? run.n,
      });
    }
  }
  return checks;
}

// -----------------------------------------------------------------------------------------------------------------
// Report
// -----------------------------------------------------------------------------------------------------------------

const num = (v: number | undefined, digits = 0) =>
  v === undefined || !Number.isFinite(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits });
const usd = (v: number) => (v >= 0.1 ? `$${v.toFixed(2)}` : `$${v.toPrecision(2)}`);
const table = (head: string[], rows: string[][]) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

export function modelledMarkdown(r: ModelledResults): string {
  const o = r.options;
  return [
    `# roomcast modelled case — ${r.date.slice(0, 10)}`,
    '',
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, ${r.machine.platform}; load average ` +
      `${r.machine.loadAvgStart.join(' / ')} at start, ${r.machine.loadAvgEnd.join(' / ')} at end; \`ulimit -n\` ` +
      `${num(r.fdLimit)}. Run took ${num(r.durationS)} s.`,
    '',
    `Every PostToConnection waits ${o.postLatencyMs} ms and every Lambda Invoke ${o.invokeLatencyMs} ms before it ` +
      `reaches the local stack; at most ${o.workerConcurrency} fan-out workers run at once. N clients in one room, ` +
      `${o.sequential} messages one at a time (each after all N have the previous one), after warm-up messages; ` +
      `${o.messageBytes}-byte texts, no client_msg_id.`,
    '',
    '## Measured: send → last delivery',
    '',
    table(
      [
        'series',
        'N',
        'connect all N',
        'p50 / p99 ms',
        'lost (+dup)',
        'worker invocations per message',
        'server CPU per delivery',
        'RRU / WRU per message',
        'notes',
      ],
      r.runs.map((run) => {
        const f = run.result;
        const s = f?.sequential;
        if (!f || !s)
          return [run.series, num(run.n), `failed: ${run.error ?? f?.error}`, '', '', '', '', '', ''];
        const notes = [
          f.connectFailures ? `${f.connectFailures} connects failed` : '',
          f.error ?? '',
          f.warmUpIncomplete ?? '',
          s.timedOut ? 'incomplete: a wait gave up' : '',
          s.workers?.retries ? `${s.workers.retries} worker retries` : '',
          s.workers?.refused ? `${s.workers.refused} invocations refused` : '',
        ].filter(Boolean);
        return [
          run.series,
          num(run.n),
          `${num(f.connectMs / 1000, 1)} s`,
          `${num(s.p50Ms)} / ${num(s.p99Ms)}`,
          `${num(s.lost)}${s.duplicates ? ` (+${s.duplicates})` : ''}`,
          s.workers ? num(s.workers.accepted / s.sent, 1) : '–',
          `${num((s.serverCpuS * 1e6) / Math.max(1, s.delivered))} µs`,
          s.sdk ? `${num(s.sdk.rru / s.sent, 1)} / ${num(s.sdk.wru / s.sent, 1)}` : '–',
          notes.join('; '),
        ];
      }),
    ),
    '',
    '## The model against the measurement',
    '',
    "bench/model.ts with the local stack's inputs: the emulated round trips, one core for the sender and every " +
      "worker together, dynalite's read time, no throttle, and the server CPU per delivery each series used at its " +
      'smallest N (a prediction for the larger N), or at the N itself (an explanation).',
    '',
    table(
      [
        'series',
        'N',
        'measured p50 / p99 ms',
        'model ms (bound), CPU per delivery of the smallest N',
        'model ms, CPU per delivery of this N',
      ],
      r.checks.map((c) => [
        c.series,
        num(c.n),
        `${num(c.measuredP50Ms)} / ${num(c.measuredP99Ms)}`,
        `${num(c.modelMs)} (${c.bound}), ${num(c.cpuPerDeliveryUs)} µs`,
        `${num(c.modelOwnCpuMs)}, ${num(c.ownCpuPerDeliveryUs)} µs`,
      ]),
    ),
    '',
    '## The model on AWS',
    '',
    `CPU per post: ${r.cpuPerPostUs} µs (${r.cpuPerPostSource}).` +
      (r.roomPage
        ? ` Room page: ${r.roomPage.cpuMsPerPage} ms of CPU to parse ${num(r.roomPage.items)} items ` +
          `(micro/room-page.ts in this run).`
        : ''),
    '',
    inputsMarkdown(r.inputs),
    '',
    rowsMarkdown(r.model),
    '',
    ...targetsSection(r.model),
    '## Cost per 1,000 messages',
    '',
    `API Gateway $${PRICES.apiGatewayMessagePerMillion}/M messages (the inbound frame and one post per member, ` +
      `each under 32 KB), Lambda $${PRICES.lambdaRequestPerMillion}/M requests and $${PRICES.lambdaGbSecond} per ` +
      `GB-s (arm64; send-message ${PRICES.lambdaMemoryGb * 1024} MB, workers ${PRICES.workerMemoryGb * 1024} MB, ` +
      'durations from the simulation with the default quota), DynamoDB on demand ' +
      `$${PRICES.dynamoRruPerMillion}/M RRU and $${PRICES.dynamoWruPerMillion}/M WRU (${STORE_UNITS.rru} RRU + ` +
      `${STORE_UNITS.wru} WRU to store a message with its client_msg_id, plus the room query).`,
    '',
    costTable(r.cost),
    '',
  ].join('\n');
}

function costTable(rows: readonly DeliveryCostRow[]): string {
  return table(
    [
      'N',
      'path',
      'API Gateway',
      'Lambda: requests, GB-s',
      'DynamoDB: RRU, WRU per message',
      'total',
      'per delivery',
    ],
    rows.map((c) => [
      num(c.n),
      c.n <= AWS_INPUTS.threshold ? 'direct (the tier too: below its threshold)' : c.label,
      usd(c.apiGatewayUsd),
      `${usd(c.lambdaUsd)} (${num(c.lambdaRequests, 1)}, ${num(c.lambdaGbSeconds, 3)})`,
      `${usd(c.dynamoUsd)} (${num(c.rru)}, ${num(c.wru)})`,
      usd(c.totalUsd),
      `$${((c.totalUsd / (c.apiGatewayMessages - 1)) * 1000).toFixed(3)} per M`,
    ]),
  );
}

function targetsSection(rows: readonly ModelRow[]): string[] {
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  const at = (scenario: string, n: number) => rows.find((r) => r.scenario === scenario && r.n === n);
  const seconds = (ms: number | undefined) => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
  return [
    'Targets in the model (simulated worst of 5): N = 10,000 last delivery ≤ 1 s, N = 100,000 ≤ 3 s, nothing lost.',
    '',
    table(
      ['scenario', 'N = 10,000', 'N = 100,000', 'lost', 'targets'],
      scenarios.map((scenario) => {
        const ten = at(scenario, 10_000)?.sim;
        const hundred = at(scenario, 100_000)?.sim;
        const lost = Math.max(ten?.lost.max ?? 0, hundred?.lost.max ?? 0);
        const met =
          ten &&
          hundred &&
          ten.lastDeliveryMs.max <= 1000 &&
          hundred.lastDeliveryMs.max <= 3000 &&
          lost === 0;
        return [
          scenario,
          seconds(ten?.lastDeliveryMs.max),
          seconds(hundred?.lastDeliveryMs.max),
          num(lost),
          met ? 'met' : '**not met**',
        ];
      }),
    ),
    '',
  ];
}

/**
 * `npx tsx bench/modelled.ts [results/modelled.json]`: the model, its check and the cost computed again from a
 * run's measurements with the model as it is now (the runs themselves are kept); rewrites the .json and the .md.
 */
if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const { readFile, writeFile } = await import('node:fs/promises');
  const file = process.argv[2] ?? join(import.meta.dirname, 'results', 'modelled.json');
  const stored = JSON.parse(await readFile(file, 'utf8')) as ModelledResults;
  const inputs: ModelInputs = {
    ...AWS_INPUTS,
    postRttMs: stored.inputs.postRttMs,
    cpuPerPostUs: stored.cpuPerPostUs,
    ...(stored.roomPage && { cpuUsPerItem: stored.roomPage.cpuUsPerItem }),
  };
  const results = { ...stored, ...modelParts(inputs, stored.runs, stored.options) };
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(file.replace(/\.json$/, '.md'), `${modelledMarkdown(results)}\n`);
  console.log(`rewrote ${file} and its .md (format them with biome)`);
}
