/**
 * A tiny .cpuprofile summariser: self time by function and by category (SDK, signing, HTTP, dynalite, ws, …) and
 * time under a few marker functions, optionally only inside a window of the profile's clock (µs, the clock of
 * process.hrtime). CLI: `npx tsx bench/profile.ts <file.cpuprofile> [fromUs toUs]`.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time in the window, ms, and the part that was not idle. */
  totalMs: number;
  busyMs: number;
  categories: Array<{ category: string; selfMs: number; share: number }>;
  functions: Array<{ name: string; where: string; category: string; selfMs: number; share: number }>;
  /** Time with the marker somewhere on the stack (synchronous part only: awaits start new stacks). */
  markers: Array<{ marker: string; totalMs: number; share: number }>;
}

/** First match wins: URL (or function name for natives) → category. */
const CATEGORIES: Array<[RegExp, string]> = [
  [/^\(idle\)/, 'idle'],
  [/^\(garbage collector\)/, 'GC'],
  [/^\(program\)/, 'V8/native (program)'],
  [
    /signature-v4|\/credential-provider|\/middleware-signing|httpAuthSchemes|aws4/,
    'AWS SDK: SigV4 signing & auth',
  ],
  [/node-http-handler/, 'AWS SDK: Node HTTP handler'],
  [/lib-dynamodb|util-dynamodb/, 'AWS SDK: DynamoDB document marshalling'],
  [/\/(@smithy|@aws-sdk|@aws-crypto)\//, 'AWS SDK: middleware, serde, retry, endpoints'],
  [
    /\/(dynalite|level|memory-level|abstract-level|level-transcoder|module-error|lazy|async|big\.js|lock|once|buffer-crc32|functional-red-black-tree|level-supports|maybe-combine-errors|queue-microtask)\//,
    'dynalite (embedded store)',
  ],
  [/\/ws\/lib\//, 'ws (WebSocket frames)'],
  [/\/(socket\.io|engine\.io|socket\.io-parser|socket\.io-adapter)/, 'Socket.IO'],
  [/@aws-lambda-powertools/, 'Powertools logger/metrics'],
  [/\/zod\//, 'zod'],
  [/\/jose\//, 'jose'],
  [/\/ulid\//, 'ulid'],
  [/\/packages\/gateway\/src\//, 'roomcast: gateway emulator'],
  [/\/src\/delivery\//, 'roomcast: delivery (fan-out)'],
  [/\/src\/store\//, 'roomcast: store'],
  [/\/src\//, 'roomcast: handlers & other src'],
  [/\/bench\//, 'bench instrumentation'],
  [/node:_http|node:http|node:internal\/http|node:https|_http_/, 'Node HTTP client/server'],
  [
    /node:net|stream_base_commons|node:internal\/streams|node:stream|node:internal\/stream/,
    'Node net/streams',
  ],
  [/node:internal\/(url|querystring)|node:url|node:querystring/, 'Node URL/querystring'],
  [/node:internal\/(timers|process\/task_queues|async_hooks)|node:timers/, 'Node timers/microtasks'],
  [/node:internal\/crypto|node:crypto/, 'Node crypto'],
  [
    /node:internal\/buffer|node:buffer|node:internal\/util\/types|node:internal\/encoding|node:util/,
    'Node buffer/encoding/util',
  ],
  [/^node:|^internal\//, 'Node internals (other)'],
  [/node_modules\/tsx|node_modules\/esbuild/, 'tsx loader'],
  [/^$/, 'native builtins (JSON, RegExp, …)'],
];

const MARKERS: Array<[string, RegExp]> = [
  [
    'gateway: management API request (server side of every post)',
    /^handleManagementRequest |^postToConnection .*packages\/gateway/,
  ],
  ['SDK: SigV4 signing', /^(sign|signRequest|presign|getSignature|createCanonicalRequest) .*signature-v4/],
  ['SDK: endpoint resolution', /\/submodules\/endpoints\/|endpoint-cache|util-endpoints/],
  ['SDK: retry middleware', /\/submodules\/retry\//],
  [
    'SDK: middleware stack resolve',
    /^(resolve|resolveMiddleware|constructStack|cloneTo|concat) .*(middleware-stack|smithy\/core|smithy-client)/,
  ],
  ['SDK: Node HTTP handler', /^handle .*node-http-handler/],
  ['dynalite: request handling', /\/dynalite\//],
  ['ws: frame send', /^(send|sendFrame|frame) .*\/ws\/lib\/sender/],
  ['ws: frame receive', /\/ws\/lib\/receiver/],
  ['Powertools logger', /@aws-lambda-powertools\/logger/],
  ['JSON.parse / JSON.stringify (as frames)', /^(parse|stringify) $/],
];

export async function summariseProfileFile(file: string, window?: [number, number]): Promise<ProfileSummary> {
  return summariseProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, window);
}

function summariseProfile(profile: CpuProfile, window?: [number, number], top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const label = (node: ProfileNode) =>
    `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url}`;
  const categoryOf = (node: ProfileNode) => {
    const { functionName, url } = node.callFrame;
    const key = url || (functionName.startsWith('(') ? functionName : '');
    return CATEGORIES.find(([pattern]) => pattern.test(key))?.[1] ?? 'other';
  };

  const selfUs = new Map<number, number>();
  const markerUs = new Map<string, number>();
  let time = profile.startTime;
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0;
    const duration = profile.timeDeltas[i + 1] ?? 0;
    if (window && (time < window[0] || time > window[1])) continue;
    const id = profile.samples[i] as number;
    totalUs += duration;
    selfUs.set(id, (selfUs.get(id) ?? 0) + duration);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (!node) break;
      const text = label(node);
      for (const [marker, pattern] of MARKERS) {
        if (!seen.has(marker) && pattern.test(text)) {
          seen.add(marker);
          markerUs.set(marker, (markerUs.get(marker) ?? 0) + duration);
        }
      }
    }
  }

  const categories = new Map<string, number>();
  const functions = new Map<string, { name: string; where: string; category: string; us: number }>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode;
    const category = categoryOf(node);
    categories.set(category, (categories.get(category) ?? 0) + us);
    const where = `${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    const name = node.callFrame.functionName || '(anonymous)';
    const key = `${name} ${where}`;
    const entry = functions.get(key) ?? { name, where, category, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const idleUs = categories.get('idle') ?? 0;
  const busyUs = Math.max(totalUs - idleUs, 1);
  const ms = (us: number) => Math.round(us / 100) / 10;
  const share = (us: number) => Math.round((us / busyUs) * 1000) / 10;
  return {
    totalMs: ms(totalUs),
    busyMs: ms(busyUs),
    categories: [...categories]
      .filter(([category]) => category !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([category, us]) => ({ category, selfMs: ms(us), share: share(us) })),
    functions: [...functions.values()]
      .filter((f) => f.category !== 'idle')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({
        name: f.name,
        where: f.where,
        category: f.category,
        selfMs: ms(f.us),
        share: share(f.us),
      })),
    markers: MARKERS.map(([marker]) => ({
      marker,
      totalMs: ms(markerUs.get(marker) ?? 0),
      share: share(markerUs.get(marker) ?? 0),
    })),
  };
}

/** `file:///…/node_modules/@smithy/core/dist-cjs/index.js` → `@smithy/core/dist-cjs/index.js`. */
function shortUrl(url: string): string {
  if (!url) return '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const src = url.search(/\/(src|bench)\//);
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '');
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const [file, from, to] = process.argv.slice(2);
  if (!file) throw new Error('usage: tsx bench/profile.ts <file.cpuprofile> [fromUs toUs]');
  const summary = await summariseProfileFile(file, from && to ? [Number(from), Number(to)] : undefined);
  console.log(`sampled ${summary.totalMs} ms, busy ${summary.busyMs} ms`);
  console.table(summary.categories);
  console.table(summary.functions);
  console.table(summary.markers);
}
