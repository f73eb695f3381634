import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cruise, format, type ICruiseOptions } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

/**
 * `npm run graph`: redraws the dependency graph in docs/architecture.md from the imports. dependency-cruiser,
 * with the check's own resolution (.dependency-cruiser.cjs: tsconfig paths, .js → .ts), collapses the modules
 * to the packages, the server's folders and the files directly in src/, and renders them as Mermaid.
 * test/boundaries/architecture-graph.test.ts fails when the committed diagram no longer matches.
 */

export const ROOT = resolve(import.meta.dirname, '..');
export const DOC = join(ROOT, 'docs', 'architecture.md');
export const GRAPH_COMMAND = 'npm run graph';

/** What the graph shows: the packages' sources, the server, the demo page (tests and tooling sit on top). */
const SOURCES = ['src', 'packages/client/src', 'packages/gateway/src', 'web'];
/** One node per package, per folder of src/ (or file directly in it), and web/. */
const COLLAPSE = '^(packages/[^/]+|src/[^/]+|web)';

const BEGIN = `<!-- graph:begin (generated from the imports by \`${GRAPH_COMMAND}\`; do not edit) -->`;
const END = '<!-- graph:end -->';

/** The Mermaid flowchart of the collapsed import graph. */
export async function drawGraph(): Promise<string> {
  const options = await extractDepcruiseOptions(join(ROOT, '.dependency-cruiser.cjs'));
  const tsConfigFile = join(ROOT, 'tsconfig.json');
  // dependency-cruiser resolves tsconfig `paths` against the working directory (the tsconfig has no baseUrl).
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    return await render(options, tsConfigFile);
  } finally {
    process.chdir(cwd);
  }
}

async function render(options: ICruiseOptions, tsConfigFile: string): Promise<string> {
  const { output: graph } = await cruise(
    SOURCES,
    {
      ...options,
      validate: false,
      baseDir: ROOT,
      tsConfig: { fileName: tsConfigFile },
      // Our own code only (no npm packages, no built-ins); ambient declarations (src/types) import nothing.
      includeOnly: '^(src|packages|web)/',
      exclude: { path: ['(^|/)dist/', '\\.d\\.ts$'] },
      collapse: COLLAPSE,
    },
    {},
    { tsConfig: extractTSConfig(tsConfigFile) },
  );
  if (typeof graph === 'string') throw new Error('dependency-cruiser returned a report instead of the graph');
  // Arrows in a fixed order, so that reordering the imports of a file does not redraw the diagram.
  for (const module of graph.modules) {
    module.dependencies.sort((a, b) => (a.resolved < b.resolved ? -1 : a.resolved > b.resolved ? 1 : 0));
  }
  const { output } = await format(graph, { outputType: 'mermaid' });
  if (typeof output !== 'string') throw new Error('dependency-cruiser did not render Mermaid');
  return output.trim();
}

/** The generated section of the document: the diagram between its markers. */
export function graphSection(mermaid: string): string {
  return `${BEGIN}\n\n\`\`\`mermaid\n${mermaid}\n\`\`\`\n\n${END}`;
}

/** The section as it stands in `doc`, or undefined if its markers are missing. */
export function currentSection(doc: string): string | undefined {
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END, begin);
  return begin === -1 || end === -1 ? undefined : doc.slice(begin, end + END.length);
}

/** `doc` with its generated section replaced by `section`. */
export function withSection(doc: string, section: string): string {
  const current = currentSection(doc);
  if (current === undefined) throw new Error(`${DOC}: the markers ${BEGIN} … ${END} are missing`);
  return doc.replace(current, () => section);
}

async function main(): Promise<void> {
  const doc = await readFile(DOC, 'utf8');
  const updated = withSection(doc, graphSection(await drawGraph()));
  if (updated === doc) {
    process.stdout.write('docs/architecture.md: the graph is up to date\n');
    return;
  }
  await writeFile(DOC, updated);
  process.stdout.write('docs/architecture.md: graph redrawn from the imports\n');
}

if (process.argv[1] && import.meta.filename === resolve(process.argv[1])) {
  await main();
}
