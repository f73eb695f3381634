import { mkdir, rm } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { FUNCTION_NAMES } from '../src/handlers/routes.ts';

/**
 * One minified ESM bundle per Lambda function, `dist/<function>/index.mjs`, with the AWS SDK inside so the deployed
 * SDK is the tested one. Code loaded on first use (`await import()`: the Lambda client of the fan-out tier) goes
 * into a chunk beside it, `chunk-<hash>.mjs`, which a cold start does not read. Terraform zips each folder,
 * leaving out the source maps, which are for reading a stack offline.
 */
export interface BundleReport {
  functionName: string;
  /** The entry point, `index.mjs`. */
  file: string;
  /** What a cold start reads: the entry point and the chunks it imports statically. */
  bytes: number;
  /** The chunks only `await import()` reaches, read on first use. */
  lazyBytes: number;
}

/** The esbuild options of one function's bundle into `outdir` (bench/micro/source-maps.ts varies them). */
export function bundleOptions(functionName: string, outdir: string): BuildOptions {
  return {
    entryPoints: [join(import.meta.dirname, '..', 'src', 'handlers', `${functionName}.ts`)],
    outdir,
    entryNames: 'index',
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    splitting: true,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    // Function and class names survive minification, so a stack in CloudWatch names roomcast's functions without
    // --enable-source-maps, which costs about 10 ms per cold start (bench/micro/source-maps.ts).
    keepNames: true,
    sourcemap: true,
    sourcesContent: false,
    legalComments: 'none',
    // The SDK ships CommonJS (`main`) and ES modules (`module`); only ES modules can be tree-shaken, which takes
    // a bundle from about 630 KB to about 400 KB.
    mainFields: ['module', 'main'],
    alias: { '@aws-sdk/credential-provider-node': join(import.meta.dirname, 'lambda-credentials.ts') },
    logLevel: 'warning',
    // Some SDK dependencies are CommonJS and call require() for Node built-ins; give the ESM bundle one.
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  };
}

/** Bytes of the entry's static import closure, and of all code outputs. */
function coldStartShare(outputs: Metafile['outputs'], entry: string): { loaded: number; total: number } {
  const key = entry.split(sep).join('/');
  if (!outputs[key]) throw new Error(`esbuild wrote no ${key}`);
  const seen = new Set<string>();
  for (const pending = [key]; pending.length > 0; ) {
    const path = pending.pop() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    for (const imported of outputs[path]?.imports ?? []) {
      if (imported.kind === 'import-statement' && outputs[imported.path]) pending.push(imported.path);
    }
  }
  const code = Object.entries(outputs).filter(([path]) => path.endsWith('.mjs'));
  const sum = (entries: [string, { bytes: number }][]) => entries.reduce((n, [, o]) => n + o.bytes, 0);
  return { loaded: sum(code.filter(([path]) => seen.has(path))), total: sum(code) };
}

export async function buildBundles(outdir: string): Promise<BundleReport[]> {
  await rm(outdir, { recursive: true, force: true });
  const reports: BundleReport[] = [];
  for (const functionName of FUNCTION_NAMES) {
    const dir = join(outdir, functionName);
    await mkdir(dir, { recursive: true });
    const { metafile } = await build({ ...bundleOptions(functionName, dir), metafile: true });
    const file = join(dir, 'index.mjs');
    const { loaded, total } = coldStartShare(metafile.outputs, relative(process.cwd(), file));
    reports.push({ functionName, file, bytes: loaded, lazyBytes: total - loaded });
  }
  return reports;
}
