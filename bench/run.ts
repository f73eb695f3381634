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
import { modelledMarkdown, runModelled } from './modelled.ts';
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

/** Writes the results, in the project's style, so `npm run check` stays clean after a run. */
async function write(contents: Record<string, string>): Promise<string[]> {
  await mkdir(options.outDir, { recursive: true });
  const files = Object.keys(contents).map((name) => join(options.outDir, name));
  for (const [name, text] of Object.entries(contents))
    await writeFile(join(options.outDir, name), `${text}\n`);
  // biome only formats files under the project.
  const biome = join(import.meta.dirname, '..', 'node_modules', '.bin', 'biome');
  await promisify(execFile)(biome, ['format', '--write', ...files]).catch(() => {
    if (options.outDir.startsWith(join(import.meta.dirname, '..'))) log('biome could not format the results');
  });
  return files;
}

if (options.mode === 'modelled') {
  const modelled = await runModelled(options, log);
  const files = await write({
    'modelled.json': JSON.stringify(modelled, null, 2),
    'modelled.md': modelledMarkdown(modelled),
  });
  log(`done in ${modelled.durationS} s: ${files[1]}`);
  const lost = modelled.runs.filter(
    (r) => !r.result?.sequential || r.result.sequential.lost > 0 || r.result.error,
  );
  for (const run of lost)
    log(`  ${run.series} N=${run.n}: ${run.error ?? run.result?.error ?? 'deliveries lost'}`);
  if (options.strict && lost.length > 0) {
    log('--strict: deliveries were lost or a run failed');
    process.exitCode = 1;
  }
  process.exit();
}

const results = await runSuite(options, log);
await write({
  'latest.json': JSON.stringify(results, null, 2),
  'latest.md': resultsMarkdown(results),
  'latest.svg': chartSvg(results),
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
