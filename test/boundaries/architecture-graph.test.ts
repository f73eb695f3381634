import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { it } from 'node:test';
import {
  currentSection,
  DOC,
  drawGraph,
  GRAPH_COMMAND,
  graphSection,
} from '../../scripts/architecture-graph.ts';

it('docs/architecture.md draws the dependency graph the imports make', async () => {
  const committed = currentSection(await readFile(DOC, 'utf8'));
  assert.ok(committed, `docs/architecture.md has lost its generated graph section: run \`${GRAPH_COMMAND}\``);
  const drawn = graphSection(await drawGraph());
  assert.equal(
    committed,
    drawn,
    `docs/architecture.md's dependency graph no longer matches the imports: run \`${GRAPH_COMMAND}\` ` +
      'and commit docs/architecture.md (a new arrow should be one you want: the document says which way ' +
      'they go)',
  );
});
