import type { BundlePart } from '../bundle-contents.ts';
import type { ColdStartRow } from '../cold-start.ts';
import type { CostRow } from '../cost.ts';
import type { ChurnResult } from '../driver/churn.ts';
import type { FanOutResult } from '../driver/fan-out.ts';
import type { PostPathRow } from '../micro/post-to-connection.ts';
import type { BenchOptions } from '../options.ts';
import type { ProfileSummary } from '../profile.ts';

/** One server as benchmarked: a server kind plus its settings (roomcast with and without presence). */
export interface Series {
  name: string;
  kind: 'roomcast' | 'ws' | 'socketio' | 'textbook';
  env?: Record<string, string>;
  label: string;
  /** Run only when named in --servers. */
  optional?: boolean;
}

export interface FanOutEntry {
  series: string;
  result?: FanOutResult;
  /** The end of what the server wrote to stderr (it logs errors only). */
  stderrTail?: string;
  error?: string;
}

export interface ChurnEntry {
  series: string;
  result?: ChurnResult;
  error?: string;
}

export interface ProfileEntry {
  series: string;
  n: number;
  file: string;
  deliveries: number;
  /** Server CPU per delivery in the profiled phase, µs (process.cpuUsage, all threads). */
  cpuUsPerDelivery: number;
  connect?: ProfileSummary;
  /** Server CPU per `$connect` in the connect phase, µs. */
  cpuUsPerConnect?: number;
  sequential?: ProfileSummary;
  burst?: ProfileSummary;
  error?: string;
}

export interface TargetCheck {
  target: string;
  n?: number;
  value: string;
  met: boolean | undefined;
}

export interface BenchResults {
  date: string;
  durationS: number;
  machine: {
    cpu: string;
    cores: number;
    node: string;
    platform: string;
    loadAvgStart: number[];
    loadAvgEnd: number[];
  };
  options: BenchOptions;
  series: Series[];
  fanOut: Record<number, FanOutEntry[]>;
  churn: ChurnEntry[];
  coldStart?: ColdStartRow[];
  coldStartError?: string;
  /** send-message's bundle by npm package (from its source map). */
  bundleContents?: BundlePart[];
  cost: CostRow[];
  profile?: ProfileEntry;
  /** The micro-benchmark of PostToConnection clients (bench/micro/post-to-connection.ts). */
  postPaths?: PostPathRow[];
  postPathsError?: string;
  targets: TargetCheck[];
}
