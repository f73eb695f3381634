import { parseArgs } from 'node:util';
import type { FanOutWorkload } from './driver/fan-out.ts';
import { SERIES } from './series.ts';

type Mode = 'quick' | 'default' | 'full' | 'modelled';

export interface BenchOptions extends FanOutWorkload {
  mode: Mode;
  /** Series names (bench/series.ts). */
  servers: string[];
  ns: number[];
  churnCycles: number;
  churnConcurrency: number;
  coldStart: boolean;
  coldStartRuns: number;
  /** N of the profiled roomcast fan-out; 0 = no profile. */
  profileN: number;
  /** Added to every PostToConnection of roomcast and textbook (an AWS-like round trip); 0 = none. */
  postLatencyMs: number;
  /** Added to every Lambda Invoke of roomcast (the fan-out tier's hand-off, an AWS-like round trip); 0 = none. */
  invokeLatencyMs: number;
  /** Fan-out worker invocations the local stack runs at once (its `asyncInvocation.maxConcurrency`). */
  workerConcurrency: number;
  /** Posts per round of the PostToConnection micro-benchmark; 0 = skip it. */
  microPosts: number;
  /** Exit non-zero when a delivery was lost (or a run failed). */
  strict: boolean;
  outDir: string;
}

const USAGE = `npm run bench -- [--quick | --full | --modelled] [options]
  --quick               N = 100, 500; fewer messages; finishes in under 2 minutes
  --full                adds N = 5,000
  --modelled            the modelled case instead: AWS-like latency, roomcast-direct and roomcast-workers at
                        N = 1,000 and 10,000, one message at a time, and the model for N = 100,000; writes
                        modelled.{json,md}; about 5 minutes
  --servers a,b         of roomcast, roomcast-nopresence, ws, socketio, textbook (default: these),
                        roomcast-http (posts over loopback HTTP with the Lambda's management client),
                        roomcast-direct (fan-out tier off), roomcast-workers (every room through workers)
  --n 100,1000          room sizes (overrides the mode's)
  --messages M          messages one at a time (and --burst M all at once; 0: none)
  --churn K             connect + disconnect cycles per server
  --connect-warmup K    clients that connect and leave before each timed connect (default 500; 0: cold server)
  --profile-n N         N of the profiled roomcast fan-out (0: none)
  --no-cold-start       skip the bundle cold-start measurement
  --post-latency-ms MS  delay every PostToConnection (roomcast, textbook) as an AWS round trip would
                        (default 0; --modelled: 15)
  --invoke-latency-ms MS  delay every Lambda Invoke (the fan-out hand-off) likewise (default 0; --modelled: 20)
  --worker-concurrency K  fan-out workers the local stack runs at once (default 32)
  --no-micro            skip the PostToConnection client micro-benchmark
  --strict              exit 1 when any delivery was lost or a run failed
  --out DIR             results directory (default bench/results)`;

const MODES: Record<
  Mode,
  Pick<BenchOptions, 'ns' | 'sequential' | 'burst' | 'churnCycles' | 'coldStartRuns' | 'profileN'>
> = {
  quick: {
    ns: [100, 500],
    sequential: 20,
    burst: 20,
    churnCycles: 150,
    coldStartRuns: 3,
    profileN: 0,
  },
  default: {
    ns: [100, 1000],
    sequential: 50,
    burst: 50,
    churnCycles: 400,
    coldStartRuns: 5,
    profileN: 1000,
  },
  full: {
    ns: [100, 1000, 5000],
    sequential: 50,
    burst: 50,
    churnCycles: 1000,
    coldStartRuns: 7,
    profileN: 1000,
  },
  // One message at a time only: the modelled case asks how long one message takes, not how many fit.
  modelled: {
    ns: [1000, 10_000],
    sequential: 10,
    burst: 0,
    churnCycles: 0,
    coldStartRuns: 0,
    profileN: 0,
  },
};

/** The modelled case: what it runs unless told otherwise. */
const MODELLED = {
  servers: ['roomcast-direct', 'roomcast-workers'],
  postLatencyMs: 15,
  invokeLatencyMs: 20,
};
const DEFAULT_WORKER_CONCURRENCY = 32;

export function parseOptions(argv: string[], defaultOutDir: string): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      full: { type: 'boolean' },
      servers: { type: 'string' },
      n: { type: 'string' },
      messages: { type: 'string' },
      burst: { type: 'string' },
      churn: { type: 'string' },
      'profile-n': { type: 'string' },
      'no-cold-start': { type: 'boolean' },
      'no-micro': { type: 'boolean' },
      'post-latency-ms': { type: 'string' },
      'invoke-latency-ms': { type: 'string' },
      'worker-concurrency': { type: 'string' },
      modelled: { type: 'boolean' },
      'connect-warmup': { type: 'string' },
      strict: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if ([values.quick, values.full, values.modelled].filter(Boolean).length > 1) {
    throw new Error('--quick, --full and --modelled exclude each other');
  }
  const mode: Mode = values.quick ? 'quick' : values.full ? 'full' : values.modelled ? 'modelled' : 'default';
  const modelled = mode === 'modelled';
  const preset = MODES[mode];
  const servers = values.servers
    ? values.servers.split(',')
    : modelled
      ? MODELLED.servers
      : SERIES.filter((s) => !s.optional).map((s) => s.name);
  for (const server of servers) {
    if (!SERIES.some((s) => s.name === server)) {
      throw new Error(`unknown server ${server}; use ${SERIES.map((s) => s.name).join(', ')}`);
    }
  }
  return {
    mode,
    servers,
    ns: values.n ? values.n.split(',').map((n) => positiveInt('--n', n)) : preset.ns,
    sequential: values.messages ? positiveInt('--messages', values.messages) : preset.sequential,
    burst: values.burst ? nonNegativeInt('--burst', values.burst) : preset.burst,
    warmup: 3,
    connectWarmup:
      values['connect-warmup'] !== undefined
        ? nonNegativeInt('--connect-warmup', values['connect-warmup'])
        : DEFAULT_CONNECT_WARMUP,
    connectConcurrency: 50,
    messageBytes: 100,
    stallMs: 5_000,
    burstTimeoutMs: 300_000,
    drainTimeoutMs: 30_000,
    churnCycles: values.churn ? positiveInt('--churn', values.churn) : preset.churnCycles,
    churnConcurrency: 10,
    coldStart: !values['no-cold-start'] && !modelled,
    coldStartRuns: preset.coldStartRuns,
    profileN: values['profile-n'] !== undefined ? Number(values['profile-n']) : preset.profileN,
    postLatencyMs:
      values['post-latency-ms'] !== undefined
        ? nonNegativeInt('--post-latency-ms', values['post-latency-ms'])
        : modelled
          ? MODELLED.postLatencyMs
          : 0,
    invokeLatencyMs:
      values['invoke-latency-ms'] !== undefined
        ? nonNegativeInt('--invoke-latency-ms', values['invoke-latency-ms'])
        : modelled
          ? MODELLED.invokeLatencyMs
          : 0,
    workerConcurrency: values['worker-concurrency']
      ? positiveInt('--worker-concurrency', values['worker-concurrency'])
      : DEFAULT_WORKER_CONCURRENCY,
    microPosts: values['no-micro'] ? 0 : mode === 'quick' ? 1500 : 3000,
    strict: values.strict ?? false,
    outDir: values.out ?? defaultOutDir,
  };
}

const DEFAULT_CONNECT_WARMUP = 500;

function nonNegativeInt(flag: string, value: string): number {
  return value === '0' ? 0 : positiveInt(flag, value);
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${value}`);
  return n;
}
