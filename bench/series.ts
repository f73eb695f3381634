import type { Series } from './report/types.ts';

/** Every server the bench can run, in report order; the bare `ws` server is the baseline of the ratios. */
export const SERIES: readonly Series[] = [
  {
    name: 'roomcast',
    kind: 'roomcast',
    label: 'roomcast (local stack as shipped: presence on, fan-out workers above 1,000 connections)',
  },
  {
    name: 'roomcast-nopresence',
    kind: 'roomcast',
    env: { PRESENCE_ENABLED: 'false' },
    label: 'roomcast, PRESENCE_ENABLED=false',
  },
  {
    name: 'roomcast-http',
    kind: 'roomcast',
    env: { PRESENCE_ENABLED: 'false', BENCH_MANAGEMENT_TRANSPORT: 'http' },
    label: "roomcast, presence off, posts over HTTP with the Lambda's client",
    optional: true,
  },
  {
    name: 'roomcast-direct',
    kind: 'roomcast',
    env: { FANOUT_WORKER_FUNCTION: '' },
    label: 'roomcast, fan-out tier off: the send-message invocation posts to every room itself',
    optional: true,
  },
  {
    name: 'roomcast-workers',
    kind: 'roomcast',
    env: { FANOUT_THRESHOLD: '1' },
    label: 'roomcast, every room of more than one connection through fan-out workers',
    optional: true,
  },
  { name: 'ws', kind: 'ws', label: 'bare ws broadcast' },
  { name: 'socketio', kind: 'socketio', label: 'Socket.IO 4 rooms' },
  { name: 'textbook', kind: 'textbook', label: 'textbook handlers (same gateway + dynalite)' },
];

export const BASELINE = 'ws';

export function seriesNamed(name: string): Series {
  const series = SERIES.find((s) => s.name === name);
  if (!series) throw new Error(`unknown series ${name}`);
  return series;
}
