import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { ROUTES } from '../src/handlers/routes.ts';

/**
 * One minified ESM bundle per Lambda function, `dist/<function>/index.mjs`, with the AWS SDK inside so the deployed
 * SDK is the tested one. Terraform zips each folder, leaving out the source map, which is for reading a stack
 * offline.
 */
export interface BundleReport {
  functionName: string;
  file: string;
  bytes: number;
}

/** The esbuild options of one function's bundle (bench/micro/source-maps.ts varies them). */
export function bundleOptions(functionName: string, outfile: string): BuildOptions {
  return {
    entryPoints: [join(import.meta.dirname, '..', 'src', 'handlers', `${functionName}.ts`)],
    outfile,
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

export async function buildBundles(outdir: string): Promise<BundleReport[]> {
  await rm(outdir, { recursive: true, force: true });
  const reports: BundleReport[] = [];
  for (const { functionName } of ROUTES) {
    const dir = join(outdir, functionName);
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'index.mjs');
    await build(bundleOptions(functionName, file));
    reports.push({ functionName, file, bytes: (await stat(file)).size });
  }
  return reports;
}
