import { PRICES } from '../cost.ts';
import type { PhaseResult } from '../driver/fan-out.ts';
import { BASELINE } from '../series.ts';
import type { BenchResults, ProfileEntry } from './types.ts';

const num = (v: number | undefined, digits = 0) =>
  v === undefined || !Number.isFinite(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits });
const times = (v: number | undefined, ref: number | undefined) =>
  v === undefined || ref === undefined || !(ref > 0) ? '' : ` (${(v / ref).toFixed(2)}×)`;
const table = (head: string[], rows: string[][]) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
const mark = (met: boolean | undefined) => (met === undefined ? '–' : met ? 'yes' : '**no**');

export function resultsMarkdown(r: BenchResults): string {
  const o = r.options;
  return [
    `# roomcast benchmark — ${r.date.slice(0, 10)} (${o.mode})`,
    '',
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, ${r.machine.platform}; load average ` +
      `${r.machine.loadAvgStart.join(' / ')} at start, ${r.machine.loadAvgEnd.join(' / ')} at end. Run took ${num(r.durationS)} s.`,
    '',
    `Workload: N clients in one room, ${o.sequential} messages one at a time (each waits until all N have it) then ` +
      `${o.burst} sent at once, ${o.messageBytes}-byte texts, after warm-up messages (at least ${o.warmup} and ~2,000 deliveries); clients connect ` +
      `${o.connectConcurrency} at a time, ` +
      (o.connectWarmup > 0
        ? `after ${o.connectWarmup} others connected and left (connect times are a warm server's)`
        : 'on a cold server (no connect warm-up)') +
      `. Every server runs in its own process on loopback; the load driver is the parent ` +
      'process. Ratios are to the bare `ws` server at the same N.' +
      (o.postLatencyMs > 0
        ? ` **Every PostToConnection (roomcast, textbook) waits ${o.postLatencyMs} ms first, like a round trip to AWS.**`
        : ''),
    '',
    ...fanOutSections(r),
    '![deliveries/s and p99 against N](latest.svg)',
    '',
    '## Connect churn',
    '',
    `${o.churnCycles} clients each connect and disconnect at once, ${o.churnConcurrency} at a time; the rate counts until ` +
      "the server's registry is empty again (roomcast: every `$disconnect` has run).",
    '',
    table(
      ['server', 'cycles/s', 'failed', 'registry after', 'server CPU per cycle'],
      r.churn.map((c) => [
        c.series,
        c.result ? num(c.result.cyclesPerSec, 1) : `failed: ${c.error}`,
        num(c.result?.failures),
        c.result ? String(c.result.registryAfter) : '–',
        c.result ? `${num((c.result.serverCpuS * 1000) / c.result.cycles, 2)} ms` : '–',
      ]),
    ),
    '',
    '## Targets',
    '',
    table(
      ['target', 'N', 'measured', 'met'],
      r.targets.map((t) => [t.target, t.n ? num(t.n) : '', t.value, mark(t.met)]),
    ),
    '',
    ...coldStartSection(r),
    ...costSection(r),
    ...profileSection(r.profile),
    ...postPathSection(r),
  ].join('\n');
}

function fanOutSections(r: BenchResults): string[] {
  const out: string[] = [];
  for (const [n, entries] of Object.entries(r.fanOut)) {
    const ws = entries.find((e) => e.series === BASELINE)?.result;
    out.push(`## Fan-out, N = ${num(Number(n))}`, '');
    const rows = entries.map((e) => {
      const f = e.result;
      if (!f) return [e.series, `failed: ${e.error}`, '', '', '', '', '', '', ''];
      const s = f.sequential;
      const b = f.burst;
      const notes = [
        f.connectFailures ? `${f.connectFailures} connects failed (${f.connectErrors.join('; ')})` : '',
        f.error ?? '',
        f.warmUpIncomplete ?? '',
        f.registryAfter !== 0 ? `registry ${f.registryAfter} after ${num(f.drainMs / 1000, 1)} s` : '',
        s?.timedOut || b?.timedOut ? 'incomplete: a wait for deliveries gave up' : '',
        ...Object.entries(f.otherFrames)
          .filter(([kind]) => kind !== 'presence')
          .map(([kind, count]) => `${num(count)} "${kind}" frames`),
      ].filter(Boolean);
      return [
        e.series,
        `${num(f.connectMs / 1000, 2)} s${times(f.connectMs, ws?.connectMs)}`,
        s ? `${num(s.deliveriesPerSec)}${times(s.deliveriesPerSec, ws?.sequential?.deliveriesPerSec)}` : '–',
        s ? `${num(s.p50Ms, 1)} / ${num(s.p95Ms, 1)} / ${num(s.p99Ms, 1)}` : '–',
        b ? `${num(b.deliveriesPerSec)}${times(b.deliveriesPerSec, ws?.burst?.deliveriesPerSec)}` : '–',
        b ? `${num(b.p50Ms, 0)} / ${num(b.p99Ms, 0)}` : '–',
        cpu(s, f.connectServerCpuS, b),
        `${lost(s)} / ${lost(b)}`,
        notes.join('; '),
      ];
    });
    out.push(
      table(
        [
          'server',
          'connect all N',
          'deliveries/s (1 at a time)',
          'p50 / p95 / p99 ms',
          'deliveries/s (burst)',
          'burst p50 / p99 ms',
          'server CPU s: connect / 1-at-a-time / burst (µs per delivery)',
          'lost (+duplicates): 1-at-a-time / burst',
          'notes',
        ],
        rows,
      ),
      '',
    );
  }
  return out;
}

function cpu(s: PhaseResult | undefined, connect: number, b: PhaseResult | undefined): string {
  const perDelivery = s && s.delivered > 0 ? ` (${num((s.serverCpuS * 1e6) / s.delivered)} µs)` : '';
  return `${num(connect, 2)} / ${num(s?.serverCpuS, 2)} / ${num(b?.serverCpuS, 2)}${perDelivery}`;
}

function lost(p: PhaseResult | undefined): string {
  if (!p) return '–';
  const duplicates = p.duplicates ? ` (+${p.duplicates} dup)` : '';
  return p.lost === 0 ? `0${duplicates}` : `**${p.lost}** (${p.clientsWithLoss} clients)${duplicates}`;
}

function coldStartSection(r: BenchResults): string[] {
  if (!r.coldStart) return r.coldStartError ? ['## Cold start', '', `failed: ${r.coldStartError}`, ''] : [];
  return [
    '## Cold start (Lambda bundles)',
    '',
    `Each bundle of \`npm run build\` imported in a fresh Node process that then serves one event against a local ` +
      `stack; medians of ${r.options.coldStartRuns} runs. Node's own boot is not included in import + first event.`,
    '',
    table(
      [
        'function',
        'bundle KB',
        'import ms',
        'first event ms',
        'import + first ms',
        'Node boot ms',
        'process ms',
      ],
      r.coldStart.map((c) => [
        c.functionName,
        num(c.bytes / 1024),
        num(c.importMs, 1),
        num(c.firstEventMs, 1),
        num(c.importPlusFirstMs, 1),
        num(c.nodeBootMs, 1),
        `${num(c.processMs)}${c.failures ? ` (${c.failures} failed: ${c.error})` : ''}`,
      ]),
    ),
    '',
    ...(r.bundleContents
      ? [
          'What the send-message bundle is made of (its source map, minified bytes by package; top 15):',
          '',
          table(
            ['package', 'KB'],
            r.bundleContents.map((p) => [p.part, num(p.bytes / 1024)]),
          ),
          '',
        ]
      : []),
  ];
}

function costSection(r: BenchResults): string[] {
  if (r.cost.length === 0) return [];
  return [
    '## Cost per broadcast',
    '',
    'Counted during the one-at-a-time phase: DynamoDB units from `ReturnConsumedCapacity` (dynalite, base table) plus ' +
      "GSI write amplification by DynamoDB's rules; API Gateway messages = the inbound frame + PostToConnection calls " +
      `in 32 KB units. Prices (AWS US East, as in infra/terraform/README.md): $${PRICES.apiGatewayMessagePerMillion}/M messages, ` +
      `$${PRICES.dynamoWruPerMillion}/M WRU, $${PRICES.dynamoRruPerMillion}/M RRU, $${PRICES.lambdaRequestPerMillion}/M ` +
      'Lambda requests; the Lambda duration column is indicative only (256 MB arm64 for as long as the local p50). ' +
      '`model` rows scale the largest measured N linearly.',
    '',
    table(
      [
        'server',
        'N',
        'basis',
        'messages in + out',
        'RRU',
        'WRU',
        'API GW $',
        'DynamoDB $',
        'Lambda req + dur $',
        '$ per 1M broadcasts',
        'per $connect: RRU / WRU / posts (410) / failed cond. writes',
      ],
      r.cost.map((c) => [
        c.server,
        num(c.n),
        c.basis,
        `${c.inboundMessages} + ${num(c.outboundMessages, 1)}`,
        num(c.rru, 2),
        num(c.wru, 2),
        c.apiGatewayUsd.toExponential(2),
        c.dynamoUsd.toExponential(2),
        (c.lambdaRequestUsd + c.lambdaDurationUsd).toExponential(2),
        num(c.totalPerMillionBroadcastsUsd, 2),
        c.connect
          ? `${num(c.connect.rru, 2)} / ${num(c.connect.wru, 2)} / ${num(c.connect.posts, 1)} (${num(c.connect.gonePosts, 1)}) / ${num(c.connect.failedConditionalWrites, 1)}`
          : '–',
      ]),
    ),
    '',
  ];
}

function profileSection(p: ProfileEntry | undefined): string[] {
  if (!p) return [];
  if (p.error || !p.sequential) return ['## Profile', '', `failed: ${p.error ?? 'no data'}`, ''];
  const s = p.sequential;
  const perDelivery = (ms: number) => num((ms * 1000) / Math.max(1, p.deliveries), 1);
  return [
    `## Profile: roomcast server process, N = ${num(p.n)}, one message at a time`,
    '',
    `\`--cpu-prof\` of the ${p.series} child (\`${p.file}\`), cut to the one-at-a-time phase: ${num(s.busyMs)} ms busy ` +
      `on the main thread for ${num(p.deliveries)} deliveries = ${perDelivery(s.busyMs)} µs per delivery ` +
      `(process CPU incl. GC threads: ${num(p.cpuUsPerDelivery)} µs). The server process holds what AWS would spread ` +
      'over API Gateway, Lambda and DynamoDB: the gateway (WebSocket + management API), the handlers and dynalite ' +
      '(dynalite runs in a worker thread: its CPU is in the process CPU, its profile is a file of its own).',
    '',
    table(
      ['self time by category', 'ms', 'share', 'µs per delivery'],
      s.categories
        .slice(0, 16)
        .map((c) => [c.category, num(c.selfMs), `${c.share} %`, perDelivery(c.selfMs)]),
    ),
    '',
    table(
      ['time with this on the stack (synchronous part)', 'ms', 'share'],
      s.markers.map((m) => [m.marker, num(m.totalMs), `${m.share} %`]),
    ),
    '',
    table(
      ['top self-time functions', 'where', 'ms', 'share'],
      s.functions.slice(0, 15).map((f) => [`\`${f.name}\``, `\`${f.where}\``, num(f.selfMs), `${f.share} %`]),
    ),
    '',
    ...(p.connect
      ? [
          `Connect phase of the same run (${num(p.n)} \`$connect\`): ${num(p.cpuUsPerConnect)} µs server ` +
            'CPU per connection.',
          '',
          table(
            ['connect: self time by category', 'ms', 'share'],
            p.connect.categories.slice(0, 10).map((c) => [c.category, num(c.selfMs), `${c.share} %`]),
          ),
          '',
        ]
      : []),
  ];
}

function postPathSection(r: BenchResults): string[] {
  if (!r.postPaths)
    return r.postPathsError ? ['## PostToConnection clients', '', `failed: ${r.postPathsError}`, ''] : [];
  return [
    '## PostToConnection clients (micro-benchmark)',
    '',
    '`bench/micro/post-to-connection.ts`: the same posts (32 in flight) from one process to 100 WebSocket clients of ' +
      'an in-process gateway. CPU per post includes the gateway and the receiving clients, which are the same for ' +
      "every row, so the differences are the client's. Posts/s is noisy on a shared machine; CPU per post is not.",
    '',
    table(
      ['client', 'CPU µs per post', 'relative', 'posts/s'],
      r.postPaths.map((p) => [
        p.variant,
        num(p.cpuUsPerPost, 1),
        `${p.relativeCpu.toFixed(2)}×`,
        num(p.postsPerSec),
      ]),
    ),
    '',
  ];
}
