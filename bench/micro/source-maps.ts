/**
 * What `NODE_OPTIONS=--enable-source-maps` costs a Lambda cold start, and what it buys. It measured why
 * infra/terraform no longer sets it and scripts/bundle.ts keeps names instead (bench/README.md, "Source maps"). Every bundle is run by scripts/bundle-invoker.ts in a fresh Node process against a local stack, as
 * bench/cold-start.ts does, with the flag off and on in alternating order (off/on, on/off, …), then:
 *
 * 1. the cold start of each function on its normal path;
 * 2. send-message on error paths, where the logger prints a stack: its connections table missing (the SDK builds
 *    the error inside the bundle) and its DynamoDB endpoint refusing connections (Node builds it in node:net);
 * 3. alternatives on that first error path: enabling maps lazily with `process.setSourceMapsEnabled(true)` after the
 *    bundle is loaded, esbuild `keepNames` (shipped) against minified names, unminified identifiers, and remapping the logged stack on demand with
 *    `node:module`'s SourceMap (what a logger could do only when it prints an error).
 *
 * Medians with p25–p75, and the median of the paired differences (on − off, run by run) with its 95 % confidence
 * interval (sign test). CPU is user + system time of the whole process until the handler returned: steadier than
 * wall time when other processes share the cores. Not a test: nothing here is asserted beyond the invocations'
 * status codes. `npx tsx bench/micro/source-maps.ts [runs]` (runs per variant and function; default 20).
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { bundleOptions } from '../../scripts/bundle.ts';
import { type BundleInvocation, deployedConnection } from '../../scripts/bundle-invoker.ts';
import { connectionsTable } from '../../src/store/tables.ts';
import { type ColdStartFixture, coldStartEvent, fakeId, startColdStartFixture } from '../cold-start.ts';
import { median, percentile } from '../driver/stats.ts';

const SOURCE_MAPS_OFF = { NODE_OPTIONS: '' };
const SOURCE_MAPS_ON = { NODE_OPTIONS: '--enable-source-maps' };
const REPO_ROOT = join(import.meta.dirname, '..', '..');

interface Sample {
  importMs: number;
  firstEventMs: number;
  processMs: number;
  cpuMs: number;
}

/** One way of running a bundle: which module, with which environment on top of the function's. */
interface Variant {
  name: string;
  /** The module the invoker imports: the bundle, or a wrapper of it (`bundle`). */
  file: string;
  bundle?: string;
  env: Record<string, string>;
}

/** A stack as the logger printed it, from the first run of a variant. */
type LoggedStacks = Map<string, string>;

// ---------------------------------------------------------------------------------------------------- statistics

function spread(values: readonly number[]): string {
  return `${fixed(median(values))} (${fixed(percentile(values, 25))}–${fixed(percentile(values, 75))})`;
}

/**
 * Median of `after[i] − before[i]` and a distribution-free 95 % interval for it: the order statistics k and n+1−k of
 * the differences, with k the largest rank where P(Binomial(n, ½) < k) ≤ 2.5 %.
 */
function pairedDifference(before: readonly number[], after: readonly number[]): string {
  const differences = after.map((value, i) => value - (before[i] as number)).sort((a, b) => a - b);
  const n = differences.length;
  let k = 0;
  let below = 0; // P(X ≤ k − 1)
  for (let i = 0; i <= n; i++) {
    const next = below + binomialHalf(n, i);
    if (next > 0.025) break;
    below = next;
    k = i + 1;
  }
  const center = `${signed(median(differences))}`;
  if (k < 1) return `${center} (n too small for an interval)`;
  return `${center} [${signed(differences[k - 1] as number)}, ${signed(differences[n - k] as number)}]`;
}

function binomialHalf(n: number, i: number): number {
  let coefficient = 1;
  for (let j = 1; j <= i; j++) coefficient = (coefficient * (n - j + 1)) / j;
  return coefficient / 2 ** n;
}

const fixed = (value: number) => value.toFixed(1);
const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(1)}`;

function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------- running

/**
 * Runs every variant `runs` times, interleaved: in run r the variants start at index r (mod count), so none always
 * goes first. `eventFor` gets a distinct number per invocation (connection ids are derived from it).
 */
async function interleaved(
  fixture: ColdStartFixture,
  functionName: string,
  variants: readonly Variant[],
  runs: number,
  eventFor: (invocation: number) => Promise<object>,
  expectedStatus: number,
  stacks?: LoggedStacks,
): Promise<Map<string, Sample[]>> {
  const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
  for (let run = 0; run < runs; run++) {
    for (let offset = 0; offset < variants.length; offset++) {
      const index = (run + offset) % variants.length;
      const variant = variants[index] as Variant;
      const invocation = run * variants.length + index;
      const event = await eventFor(invocation);
      const outcome = await fixture.invoker(variant.file, functionName, event, {
        JWT_SECRET: fixture.secret,
        ...variant.env,
      });
      checkStatus(outcome, functionName, variant.name, expectedStatus);
      if (functionName === 'connect')
        await fixture.stack.deps.connections.remove(fakeId('connect', invocation));
      samples.get(variant.name)?.push(outcome);
      if (stacks && !stacks.has(variant.name)) stacks.set(variant.name, loggedStack(outcome));
    }
  }
  return samples;
}

function checkStatus(outcome: BundleInvocation, functionName: string, variant: string, expected: number) {
  const status = (outcome.result as { statusCode?: number } | null)?.statusCode ?? 200;
  if (status !== expected)
    throw new Error(
      `${functionName} (${variant}): status ${status}, expected ${expected}\n${outcome.stderr}`,
    );
}

/** The `error.stack` of the first ERROR line Powertools wrote (to stderr). */
function loggedStack(outcome: BundleInvocation): string {
  for (const line of outcome.stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { level?: string; error?: { stack?: string } };
    if (entry.level === 'ERROR' && entry.error?.stack) return entry.error.stack;
  }
  return '(no ERROR line with a stack)';
}

/** A stack with the temporary build directories and the repository root cut, so the frames fit on a line. */
function shortStack(stack: string): string {
  return stack.replace(/(file:\/\/)?\/[^\s():]*\/index\.mjs/g, 'index.mjs').replaceAll(`${REPO_ROOT}/`, '');
}

/** The frames a reader needs first: roomcast's own, i.e. the last ones before the 10-frame limit. */
function applicationFrames(stack: string): string {
  const frames = shortStack(stack)
    .split('\n')
    .slice(1)
    .map((frame) => frame.trim().replace(/^at /, ''));
  return frames.slice(-2).join(' ← ');
}

// ---------------------------------------------------------------------------------------------------- bundles

/** send-message bundled with scripts/bundle.ts's options and `overrides` on top. */
async function sendMessageBundle(outdir: string, overrides: Record<string, unknown>): Promise<string> {
  await build({ ...bundleOptions('send-message', outdir), ...overrides });
  return join(outdir, 'index.mjs');
}

/** A module that imports `bundle` first and only then enables source maps, as a lazy call in the handler would. */
async function enableMapsAfterLoading(dir: string, bundle: string): Promise<string> {
  const file = join(dir, 'enable-maps-after-load.mjs');
  await writeFile(
    file,
    `import * as bundle from ${JSON.stringify(pathToFileURL(bundle).href)};\n` +
      'process.setSourceMapsEnabled(true);\n' +
      'export const handler = bundle.handler;\n',
  );
  return file;
}

/**
 * A module that imports `bundle` with source maps off and remaps the frames of ERROR lines as they are written:
 * the map is read and decoded (node:module SourceMap) at the first one only. A stand-in for a logger formatter
 * that would do it in `formatError`; the cost is the same work.
 */
async function remapOnErrorLines(dir: string, bundle: string): Promise<string> {
  const file = join(dir, 'remap-on-error-lines.mjs');
  const bundleUrl = JSON.stringify(pathToFileURL(bundle).href);
  await writeFile(
    file,
    `import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import * as bundle from ${bundleUrl};
let map;
const remapFrame = (frame, line, column) => {
  map ??= new SourceMap(JSON.parse(readFileSync(new URL('index.mjs.map', ${bundleUrl}), 'utf8')));
  const entry = map.findEntry(Number(line) - 1, Number(column) - 1);
  if (!entry?.originalSource) return frame;
  return fileURLToPath(new URL(entry.originalSource, ${bundleUrl})) + ':' + (entry.originalLine + 1) + ':' + (entry.originalColumn + 1);
};
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) =>
  write(
    typeof chunk === 'string' && chunk.includes('"level":"ERROR"')
      ? chunk.replace(/file:\\/\\/[^\\s)"]+\\/index\\.mjs:(\\d+):(\\d+)/g, remapFrame)
      : chunk,
    ...rest,
  );
export const handler = bundle.handler;
`,
  );
  return file;
}

/** A local port nothing listens on: bound, then released. */
async function refusingEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

// ---------------------------------------------------------------------------------------------------- main

export async function measureSourceMaps(runs: number): Promise<string> {
  const fixture = await startColdStartFixture();
  const dir = await mkdtemp(join(tmpdir(), 'roomcast-bench-source-maps-'));
  const out: string[] = [];
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  out.push(
    `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${runs} runs per variant, ` +
      `load average at start ${load()}`,
  );
  try {
    // 1. Normal path, every function.
    const rows: string[][] = [];
    const pooled = { off: [] as Sample[], on: [] as Sample[] };
    for (const bundle of fixture.bundles) {
      const variants = [
        { name: 'off', file: bundle.file, env: SOURCE_MAPS_OFF },
        { name: 'on', file: bundle.file, env: SOURCE_MAPS_ON },
      ];
      const samples = await interleaved(
        fixture,
        bundle.functionName,
        variants,
        runs,
        (invocation) => coldStartEvent(fixture.stack, bundle.functionName, fixture.aliceId, invocation),
        200,
      );
      const off = samples.get('off') ?? [];
      const on = samples.get('on') ?? [];
      pooled.off.push(...off);
      pooled.on.push(...on);
      rows.push(abRow(bundle.functionName, off, on));
    }
    rows.push(abRow('**all functions**', pooled.off, pooled.on));
    out.push(
      '',
      '### 1. Cold start, normal path: `--enable-source-maps` off → on',
      '',
      'median (p25–p75) off; median on; Δ = median of paired differences on − off [95 % CI], ms',
      '',
      markdownTable(AB_HEADER, rows),
    );

    // 2. Error paths of send-message.
    const sendMessage = fixture.bundles.find((b) => b.functionName === 'send-message');
    if (!sendMessage) throw new Error('no send-message bundle');
    const aliceFrame = () =>
      Promise.resolve(
        deployedConnection(fixture.aliceId).message(
          'sendMessage',
          '{"action":"sendMessage","message":"source maps"}',
        ),
      );
    const missingTable = { [connectionsTable.envVar]: 'roomcast-missing-table' };
    // One attempt: the SDK's retry back-off would otherwise dwarf what is measured.
    const refused = { DYNAMODB_ENDPOINT: await refusingEndpoint(), AWS_MAX_ATTEMPTS: '1' };
    const errorRows: string[][] = [];
    const errorStacks: LoggedStacks = new Map();
    for (const [label, env] of [
      ['table missing (SDK error)', missingTable],
      ['endpoint refuses (node:net error)', refused],
    ] as const) {
      const stacks: LoggedStacks = new Map();
      const samples = await interleaved(
        fixture,
        'send-message',
        [
          { name: 'off', file: sendMessage.file, env: { ...SOURCE_MAPS_OFF, ...env } },
          { name: 'on', file: sendMessage.file, env: { ...SOURCE_MAPS_ON, ...env } },
        ],
        runs,
        aliceFrame,
        500,
        stacks,
      );
      errorRows.push(abRow(label, samples.get('off') ?? [], samples.get('on') ?? []));
      for (const [name, stack] of stacks) errorStacks.set(`${label}, ${name}`, stack);
    }
    out.push(
      '',
      '### 2. send-message logging an error (`route failed`, status 500): off → on',
      '',
      markdownTable(AB_HEADER, errorRows),
      '',
      'The logged `error.stack` (paths shortened; Node keeps 10 frames):',
      '',
      ...[...errorStacks].flatMap(([label, stack]) => [`${label}:`, '```', shortStack(stack), '```']),
    );

    // 3. Alternatives, on the table-missing error path. The shipped bundle (scripts/bundle.ts's options, keepNames
    // included) is rebuilt next to the variants, so all come from the same sources.
    const shipped = await sendMessageBundle(join(dir, 'shipped'), {});
    const minifiedNames = await sendMessageBundle(join(dir, 'minified-names'), { keepNames: false });
    const readableIdentifiers = await sendMessageBundle(join(dir, 'identifiers'), {
      minify: false,
      minifyWhitespace: true,
      minifySyntax: true,
      minifyIdentifiers: false,
    });
    const variants: Variant[] = [
      { name: 'shipped, maps off', file: shipped, env: { ...SOURCE_MAPS_OFF, ...missingTable } },
      { name: 'shipped, --enable-source-maps', file: shipped, env: { ...SOURCE_MAPS_ON, ...missingTable } },
      {
        name: 'shipped, setSourceMapsEnabled after load',
        file: await enableMapsAfterLoading(dir, shipped),
        bundle: shipped,
        env: { ...SOURCE_MAPS_OFF, ...missingTable },
      },
      {
        name: 'names minified (no keepNames), maps off',
        file: minifiedNames,
        env: { ...SOURCE_MAPS_OFF, ...missingTable },
      },
      {
        name: 'shipped, maps off, ERROR lines remapped on demand',
        file: await remapOnErrorLines(dir, shipped),
        bundle: shipped,
        env: { ...SOURCE_MAPS_OFF, ...missingTable },
      },
      {
        name: 'identifiers not minified, maps off',
        file: readableIdentifiers,
        env: { ...SOURCE_MAPS_OFF, ...missingTable },
      },
    ];
    const stacks: LoggedStacks = new Map();
    const samples = await interleaved(fixture, 'send-message', variants, runs, aliceFrame, 500, stacks);
    const baseline = samples.get(variants[0]?.name ?? '') ?? [];
    const alternativeRows: string[][] = [];
    for (const variant of variants) {
      const list = samples.get(variant.name) ?? [];
      const against = (metric: keyof Sample) =>
        list === baseline
          ? 'baseline'
          : pairedDifference(
              baseline.map((s) => s[metric]),
              list.map((s) => s[metric]),
            );
      alternativeRows.push([
        variant.name,
        `${((await stat(variant.bundle ?? variant.file)).size / 1024).toFixed(0)} KB`,
        spread(list.map((s) => s.importMs)),
        spread(list.map((s) => s.firstEventMs)),
        spread(list.map((s) => s.processMs)),
        spread(list.map((s) => s.cpuMs)),
        against('processMs'),
        against('cpuMs'),
        `\`${applicationFrames(stacks.get(variant.name) ?? '')}\``,
      ]);
    }

    out.push(
      '',
      '### 3. Alternatives, send-message with its table missing (an ERROR with a stack on the first event)',
      '',
      'median (p25–p75), ms; Δ against the first row, median of paired differences [95 % CI]',
      '',
      markdownTable(
        [
          'variant',
          'bundle',
          'import',
          'first event',
          'process',
          'CPU',
          'Δ process',
          'Δ CPU',
          "the stack's last two frames",
        ],
        alternativeRows,
      ),
      '',
      `load average at the end ${load()}`,
    );
    return out.join('\n');
  } finally {
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const AB_HEADER = [
  'case',
  'import off',
  'on',
  'Δ import',
  'first event off',
  'on',
  'Δ first event',
  'process off',
  'on',
  'Δ process',
  'CPU off',
  'on',
  'Δ CPU',
];

function abRow(label: string, off: readonly Sample[], on: readonly Sample[]): string[] {
  return [
    label,
    ...(['importMs', 'firstEventMs', 'processMs', 'cpuMs'] as const).flatMap((metric) => {
      const before = off.map((s) => s[metric]);
      const after = on.map((s) => s[metric]);
      return [spread(before), fixed(median(after)), pairedDifference(before, after)];
    }),
  ];
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  console.log(await measureSourceMaps(Number(process.argv[2] ?? 20)));
}
