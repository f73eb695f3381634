/**
 * What a built Lambda bundle is made of: its bytes attributed to npm packages (or `src/<folder>`) through the
 * bundle's own source map, so it describes exactly what `buildBundles` produced, whatever its options.
 * `npx tsx bench/bundle-contents.ts <bundle.mjs>` (the `.map` must sit next to it).
 */
import { readFile } from 'node:fs/promises';

export interface BundlePart {
  part: string;
  bytes: number;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export async function bundleContents(bundleFile: string): Promise<BundlePart[]> {
  const code = await readFile(bundleFile, 'utf8');
  const map = JSON.parse(await readFile(`${bundleFile}.map`, 'utf8')) as {
    sources: string[];
    mappings: string;
  };
  const lines = code.split('\n');
  const parts = new Map<string, number>();
  const add = (part: string, bytes: number) => parts.set(part, (parts.get(part) ?? 0) + bytes);
  let source = 0;
  map.mappings.split(';').forEach((line, lineIndex) => {
    const length = Buffer.byteLength(lines[lineIndex] ?? '');
    let column = 0;
    const segments: Array<[number, number | undefined]> = [];
    for (const segment of line ? line.split(',') : []) {
      const fields = decodeVlq(segment);
      column += fields[0] ?? 0;
      if (fields.length >= 4) source += fields[1] ?? 0;
      segments.push([column, fields.length >= 4 ? source : undefined]);
    }
    if (segments.length === 0) add('(unmapped)', length);
    else add('(unmapped)', segments[0]?.[0] ?? 0);
    segments.forEach(([start, src], i) => {
      const end = segments[i + 1]?.[0] ?? length;
      add(src === undefined ? '(unmapped)' : partOf(map.sources[src] ?? ''), Math.max(0, end - start));
    });
  });
  return [...parts].map(([part, bytes]) => ({ part, bytes })).sort((a, b) => b.bytes - a.bytes);
}

function decodeVlq(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = BASE64.indexOf(char);
    value += (digit & 31) << shift;
    if (digit & 32) shift += 5;
    else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

function partOf(source: string): string {
  const modules = source.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const [scope, name] = source.slice(modules + 'node_modules/'.length).split('/');
    return scope?.startsWith('@') ? `${scope}/${name}` : (scope ?? source);
  }
  const own = /(?:^|\/)(src|scripts)\/([^/]+)/.exec(source);
  return own ? `${own[1]}/${own[2]?.replace(/\.ts$/, '')}` : source;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: tsx bench/bundle-contents.ts <bundle.mjs>');
  const parts = await bundleContents(file);
  console.table(parts.map((p) => ({ ...p, kb: Math.round(p.bytes / 1024) })));
}
