import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBundles } from './bundle.ts';

/** `npm run build [-- --outdir DIR]`: bundles every Lambda function and prints each bundle's size. */
const { values } = parseArgs({ options: { outdir: { type: 'string', default: 'dist' } } });
const started = performance.now();
const reports = await buildBundles(values.outdir);
for (const { file, bytes, lazyBytes } of reports) {
  const chunks = lazyBytes > 0 ? ` (+ ${(lazyBytes / 1024).toFixed(1)} KiB loaded on first use)` : '';
  console.log(
    `${relative(process.cwd(), file).padEnd(36)} ${(bytes / 1024).toFixed(1).padStart(8)} KiB${chunks}`,
  );
}
console.log(`${reports.length} bundles in ${Math.round(performance.now() - started)} ms`);
