/**
 * `npm run bench [-- --quick | --full] [--strict]`: roomcast's local stack against a bare ws server, Socket.IO and
 * the textbook handlers, plus Lambda cold starts, cost per broadcast and a CPU profile. Writes
 * bench/results/latest.{json,md,svg}. See bench/README.md.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { killAllServers } from './driver/server-process.ts';
import { parseOptions } from './options.ts';
import { resultsMarkdown } from './report/markdown.ts';
import { chartSvg } from './report/svg.ts';
import { runSuite } from './suite.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// No server child may outlive the bench, whatever ends it.
process.on('exit', killAllServers);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAllServers();
    process.exit(130);
  });
}

let options: ReturnType<typeof parseOptions>;
try {
  options = parseOptions(process.argv.slice(2), join(import.meta.dirname, 'results'));
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)} (see --help)`);
  process.exit(2);
}
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
log(`bench ${options.mode}: servers ${options.servers.join(', ')}; N = ${options.ns.join(', ')}`);

const results = await runSuite(options, log);
await mkdir(options.outDir, { recursive: true });
const files = ['latest.json', 'latest.md', 'latest.svg'].map((name) => join(options.outDir, name));
await writeFile(files[0] as string, `${JSON.stringify(results, null, 2)}\n`);
await writeFile(files[1] as string, `${resultsMarkdown(results)}\n`);
await writeFile(files[2] as string, `${chartSvg(results)}\n`);
// In the project's style, so `npm run check` stays clean after a run (biome only formats files under the project).
const biome = join(import.meta.dirname, '..', 'node_modules', '.bin', 'biome');
await promisify(execFile)(biome, ['format', '--write', ...files]).catch(() => {
  if (options.outDir.startsWith(join(import.meta.dirname, '..'))) log('biome could not format the results');
});
log(`done in ${results.durationS} s: ${join(options.outDir, 'latest.md')}`);
for (const t of results.targets) {
  log(
    `  target ${t.met === undefined ? '–' : t.met ? 'met' : 'MISSED'}: ${t.target}${t.n ? ` (N=${t.n})` : ''}: ${t.value}`,
  );
}

const lossCheck = results.targets.find((t) => t.target.startsWith('zero lost'));
if (options.strict && lossCheck?.met !== true) {
  log('--strict: deliveries were lost or a run failed');
  process.exitCode = 1;
}
