import type { FanOutResult } from '../driver/fan-out.ts';
import { BASELINE } from '../series.ts';
import type { BenchResults, TargetCheck } from './types.ts';

const TARGET_NS = [500, 1000];
const BUNDLE_LIMIT_BYTES = 400 * 1024;
const COLD_START_LIMIT_MS = 150;

/** The issue's targets, checked on whatever this run measured (a target with no data is reported as such). */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const get = (series: string, n: number): FanOutResult | undefined =>
    results.fanOut[n]?.find((e) => e.series === series)?.result;
  const roomcasts = results.series.filter((s) => s.kind === 'roomcast').map((s) => s.name);

  for (const n of TARGET_NS.filter((n) => results.fanOut[n])) {
    for (const name of roomcasts) {
      const r = get(name, n)?.sequential;
      const ws = get(BASELINE, n)?.sequential;
      const textbook = get('textbook', n)?.sequential;
      const io = get('socketio', n);
      const connect = get(name, n);
      if (!r || !connect) {
        checks.push({
          target: `${name}: measured`,
          n,
          value: 'no result (the run failed)',
          met: undefined,
        });
        continue;
      }
      checks.push(
        ratio(
          `${name}: deliveries/s ≥ 50 % of bare ws (one at a time)`,
          n,
          r.deliveriesPerSec,
          ws?.deliveriesPerSec,
          (x) => x >= 0.5,
        ),
      );
      checks.push(
        ratio(
          `${name}: deliveries/s ≥ 15× textbook (one at a time)`,
          n,
          r.deliveriesPerSec,
          textbook?.deliveriesPerSec,
          (x) => x >= 15,
        ),
      );
      checks.push(
        ratio(
          `${name}: p99 send→last delivery ≤ Socket.IO's`,
          n,
          r.p99Ms,
          io?.sequential?.p99Ms,
          (x) => x <= 1,
        ),
      );
      checks.push(
        ratio(
          `${name}: connect all N ≤ 2× Socket.IO's time`,
          n,
          connect.connectMs,
          io?.connectMs,
          (x) => x <= 2,
        ),
      );
    }
  }

  const lossy: string[] = [];
  let measured = 0;
  for (const [n, entries] of Object.entries(results.fanOut)) {
    for (const entry of entries) {
      const r = entry.result;
      if (!r) {
        if (entry.error) lossy.push(`${entry.series} N=${n}: ${entry.error}`);
        continue;
      }
      measured++;
      const lost = (r.sequential?.lost ?? 0) + (r.burst?.lost ?? 0);
      if (lost > 0 || r.error || r.sequential?.timedOut || r.burst?.timedOut) {
        lossy.push(`${entry.series} N=${n}: ${lost} lost${r.error ? `, ${r.error}` : ''}`);
      }
    }
  }
  checks.push({
    target: 'zero lost deliveries everywhere (one at a time and burst)',
    value: lossy.length ? lossy.join('; ') : `0 lost in ${measured} runs`,
    met: measured > 0 ? lossy.length === 0 : undefined,
  });

  if (results.coldStart) {
    const biggest = Math.max(...results.coldStart.map((r) => r.bytes));
    const slowest = Math.max(...results.coldStart.map((r) => r.importPlusFirstMs));
    checks.push({
      target: 'each Lambda bundle < 400 KB minified',
      value: `largest ${Math.round(biggest / 1024)} KB`,
      met: biggest < BUNDLE_LIMIT_BYTES,
    });
    checks.push({
      target: 'import + first event < 150 ms (median, this machine)',
      value: `slowest ${slowest} ms`,
      met: slowest < COLD_START_LIMIT_MS && results.coldStart.every((r) => r.failures === 0),
    });
  }
  return checks;
}

function ratio(
  target: string,
  n: number,
  value: number,
  reference: number | undefined,
  ok: (ratio: number) => boolean,
): TargetCheck {
  if (reference === undefined || !(reference > 0))
    return { target, n, value: 'no reference measured', met: undefined };
  const x = value / reference;
  return { target, n, value: `${x.toFixed(2)}× (${fmt(value)} vs ${fmt(reference)})`, met: ok(x) };
}

function fmt(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : String(Math.round(value * 100) / 100);
}
