import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHECK_COMMAND, CHECKED, CONFIG, depcruise, lines, type Report, ROOT } from './depcruise.ts';

/**
 * The boundaries of .dependency-cruiser.cjs, proved on a miniature repository written to a temp directory (the
 * same layout, package.json files, tsconfig `paths`, workspace links and npm packages): one file per forbidden
 * import, next to files doing everything that is allowed. Then the repository itself.
 */

const code = (...sourceLines: string[]) => `${sourceLines.join('\n')}\n`;

const npmPackage = (name: string) => ({
  [`node_modules/${name}/package.json`]: { name, version: '1.0.0', main: 'index.js' },
  [`node_modules/${name}/index.js`]: code('export default {};'),
});

const FIXTURE: Record<string, string | object> = {
  'package.json': {
    name: 'fixture',
    private: true,
    type: 'module',
    workspaces: ['packages/client', 'packages/gateway', 'packages/admin'],
    dependencies: {
      '@roomcast/admin': '0.1.0',
      '@roomcast/client': '0.1.0',
      '@roomcast/gateway': '0.1.0',
      ws: '1.0.0',
      zod: '1.0.0',
    },
    devDependencies: { 'fast-check': '1.0.0' },
  },
  'tsconfig.json': {
    compilerOptions: {
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      allowImportingTsExtensions: true,
      paths: {
        '@roomcast/client': ['./packages/client/src/index.ts'],
        '@roomcast/client/protocol': ['./packages/client/src/protocol.ts'],
        '@roomcast/gateway': ['./packages/gateway/src/index.ts'],
        '@roomcast/admin': ['./packages/admin/src/index.ts'],
      },
    },
  },
  ...npmPackage('zod'),
  ...npmPackage('ws'),
  ...npmPackage('fast-check'),

  // @roomcast/client: its own files, through `.js` specifiers that stand for `.ts` files.
  'packages/client/package.json': {
    name: '@roomcast/client',
    version: '0.1.0',
    type: 'module',
    exports: { '.': './src/index.ts', './protocol': './src/protocol.ts' },
    devDependencies: { 'fast-check': '1.0.0' },
  },
  'packages/client/src/index.ts': code(
    "export { connect } from './client.js';",
    "export type { Frame } from './protocol.js';",
  ),
  'packages/client/src/client.ts': code(
    "import { FRAME } from './protocol.js';",
    'export const connect = () => FRAME;',
  ),
  'packages/client/src/protocol.ts': code("export const FRAME = 'frame';", 'export type Frame = string;'),
  'packages/client/test/client.test.ts': code("import { connect } from '../src/client.js';", 'connect();'),
  'packages/client/dist/index.js': code('export const connect = () => 1;'),
  // ✗ zod, node:fs, the server's types
  'packages/client/src/schema.ts': code("import { z } from 'zod';", 'export const frame = z;'),
  'packages/client/src/storage.ts': code(
    "import { readFileSync } from 'node:fs';",
    'export const read = readFileSync;',
  ),
  'packages/client/src/server-types.ts': code(
    "import type { Schema } from '../../../src/protocol.ts';",
    'export type S = Schema;',
  ),

  // @roomcast/gateway: Node built-ins and its declared dependencies; its command imports a build not made yet.
  'packages/gateway/package.json': {
    name: '@roomcast/gateway',
    version: '0.1.0',
    type: 'module',
    exports: { '.': './src/index.ts' },
    dependencies: { ws: '1.0.0' },
    devDependencies: { 'fast-check': '1.0.0' },
  },
  'packages/gateway/src/index.ts': code(
    "import { createServer } from 'node:http';",
    "import ws from 'ws';",
    "export { handshake } from './handshake.js';",
    'export const start = () => [createServer, ws];',
  ),
  'packages/gateway/src/handshake.ts': code('export const handshake = 101;'),
  'packages/gateway/test/gateway.test.ts': code("import { start } from '../src/index.js';", 'start();'),
  'packages/gateway/bin/gateway.js': code(
    "const { main } = await import('../dist/cli.js');",
    'await main();',
  ),
  // ✗ chat code, the client, a package only the root declares, its own devDependency
  'packages/gateway/src/chat.ts': code(
    "import { schema } from '../../../src/protocol.ts';",
    'export const chat = schema;',
  ),
  'packages/gateway/src/sdk.ts': code(
    "import { connect } from '@roomcast/client';",
    'export const sdk = connect;',
  ),
  'packages/gateway/src/validate.ts': code("import { z } from 'zod';", 'export const validate = z;'),
  'packages/gateway/src/fuzz.ts': code("import fc from 'fast-check';", 'export const fuzz = fc;'),
  // ✗ its tests: the server, the other package
  'packages/gateway/test/server.test.ts': code(
    "import { schema } from '../../../src/protocol.ts';",
    'schema;',
  ),
  'packages/gateway/test/client.test.ts': code("import { connect } from '@roomcast/client';", 'connect();'),

  // @roomcast/admin: Node built-ins and its declared dependency (ws standing in for the Lambda client).
  'packages/admin/package.json': {
    name: '@roomcast/admin',
    version: '0.1.0',
    type: 'module',
    exports: { '.': './src/index.ts' },
    dependencies: { ws: '1.0.0' },
  },
  'packages/admin/src/index.ts': code(
    "import { randomUUID } from 'node:crypto';",
    "import ws from 'ws';",
    "export type { Request } from './contract.js';",
    'export const call = () => [randomUUID, ws];',
  ),
  'packages/admin/src/contract.ts': code('export type Request = { op: string };'),
  // ✗ the server's schemas, zod (only the root declares it), the gateway
  'packages/admin/src/validate.ts': code(
    "import { schema } from '../../../src/protocol.ts';",
    "import { z } from 'zod';",
    "import { start } from '@roomcast/gateway';",
    'export const validate = [schema, z, start];',
  ),

  // The server: zod, the packages by name, a devDependency's types; src/local uses a dev tool.
  'src/protocol.ts': code(
    "import { z } from 'zod';",
    "import { FRAME } from '@roomcast/client/protocol';",
    'export const schema = z;',
    'export type Schema = typeof FRAME;',
  ),
  'src/handlers/send.ts': code(
    "import type fc from 'fast-check';",
    "import { schema } from '../protocol.ts';",
    'export const send = schema;',
    'export type Arbitrary = typeof fc;',
  ),
  'src/local/main.ts': code(
    "import fc from 'fast-check';",
    "import { handshake } from '@roomcast/gateway';",
    "import { send } from '../handlers/send.ts';",
    'export const main = [fc, handshake, send];',
  ),
  'src/admin.ts': code("import type { Request } from '@roomcast/admin';", 'export type Operation = Request;'),
  // ✗ a cycle, a devDependency, local tooling, a test helper, an import that does not resolve
  'src/store/a.ts': code("import { b } from './b.ts';", 'export const a = () => b;'),
  'src/store/b.ts': code("import { a } from './a.ts';", 'export const b = () => a;'),
  'src/handlers/fuzz.ts': code("import fc from 'fast-check';", 'export const fuzz = fc;'),
  'src/handlers/dev.ts': code("import { main } from '../local/main.ts';", 'export const dev = main;'),
  'src/config.ts': code("import { helper } from '../test/support.ts';", 'export const config = helper;'),
  'src/handlers/typo.ts': code("import { nothing } from './nothing.ts';", 'export const typo = nothing;'),

  // Root tooling: the packages by name, devDependencies, its own files.
  'test/support.ts': code('export const helper = 1;'),
  'test/unit/client.test.ts': code(
    "import fc from 'fast-check';",
    "import { connect } from '@roomcast/client';",
    "import { helper } from '../support.ts';",
    'connect(fc, helper);',
  ),
  'web/app.ts': code("import { connect } from '@roomcast/client';", 'connect();'),
  // ✗ into a package: a deep relative path, an entry by its path, a deep name, a build (made or not)
  'test/unit/deep.test.ts': code(
    "import { connect } from '../../packages/client/src/client.ts';",
    'connect();',
  ),
  'scripts/entry-by-path.ts': code(
    "import { connect } from '../packages/client/src/index.ts';",
    'connect();',
  ),
  'bench/deep-name.ts': code("import { connect } from '@roomcast/client/src/client.js';", 'connect();'),
  'test/build/dist.test.ts': code(
    "import { connect } from '../../packages/client/dist/index.js';",
    'connect();',
  ),
  'bench/unbuilt.ts': code("import { main } from '../packages/gateway/dist/cli.js';", 'main();'),

  // The tolerated cycle, options → series → report/types → options; and ✗ options → options-chart → chart →
  // options, another one through it.
  'bench/options.ts': code(
    "import type { C } from './options-chart.ts';",
    "import { SERIES } from './series.ts';",
    'export const options = SERIES;',
    'export type O = C;',
  ),
  'bench/series.ts': code(
    "import type { Row } from './report/types.ts';",
    'export const SERIES: Row[] = [];',
  ),
  'bench/report/types.ts': code(
    "import type { options } from '../options.ts';",
    'export type Row = typeof options;',
  ),
  'bench/options-chart.ts': code("import type { chart } from './chart.ts';", 'export type C = typeof chart;'),
  'bench/chart.ts': code("import { options } from './options.ts';", 'export const chart = options;'),
};

/** What the check reports on the fixture, as it prints it (`rule: from → to`). Each cycle is reported once. */
const CAUGHT: Record<string, string[]> = {
  '1. the gateway importing chat code, the client, a package it does not declare': [
    'node-package-stays-in-package: packages/gateway/src/chat.ts → src/protocol.ts',
    'node-package-stays-in-package: packages/gateway/src/sdk.ts → packages/client/src/index.ts',
    'node-package-only-declared-deps: packages/gateway/src/validate.ts → node_modules/zod/index.js',
  ],
  '1. the admin client importing server code, another package, a package it does not declare': [
    'node-package-stays-in-package: packages/admin/src/validate.ts → src/protocol.ts',
    'node-package-only-declared-deps: packages/admin/src/validate.ts → node_modules/zod/index.js',
    'node-package-stays-in-package: packages/admin/src/validate.ts → packages/gateway/src/index.ts',
  ],
  '2. the client importing zod, node:fs, server code': [
    'client-no-npm-packages: packages/client/src/schema.ts → node_modules/zod/index.js',
    'client-no-node-builtins: packages/client/src/storage.ts → fs',
    'client-stays-in-package: packages/client/src/server-types.ts → src/protocol.ts',
  ],
  '3. root code reaching into a package by path, by a deep name, into its build': [
    'root-only-package-entries: test/unit/deep.test.ts → packages/client/src/client.ts',
    'root-package-by-name: scripts/entry-by-path.ts → packages/client/src/index.ts',
    'root-only-package-entries: bench/deep-name.ts → @roomcast/client/src/client.js',
    'not-to-unresolvable: bench/deep-name.ts → @roomcast/client/src/client.js',
    'root-only-package-entries: test/build/dist.test.ts → packages/client/dist/index.js',
    'root-only-package-entries: bench/unbuilt.ts → ../packages/gateway/dist/cli.js',
  ],
  '3. a package importing root code or the other package': [
    'packages-not-to-root: packages/gateway/test/server.test.ts → src/protocol.ts',
    'packages-independent: packages/gateway/test/client.test.ts → packages/client/src/index.ts',
  ],
  'the server importing tests, or Lambda code importing src/local': [
    'server-not-to-tooling: src/config.ts → test/support.ts',
    'lambda-not-to-local: src/handlers/dev.ts → src/local/main.ts',
  ],
  '4. a cycle, also one through the files of the tolerated bench cycle': [
    'no-circular: src/store/a.ts → src/store/b.ts',
    'no-circular: bench/chart.ts → bench/options.ts',
  ],
  '4. devDependencies in what ships: the server (values), the packages (types too)': [
    'no-dev-deps-in-server: src/handlers/fuzz.ts → node_modules/fast-check/index.js',
    'no-dev-deps-in-packages: packages/gateway/src/fuzz.ts → node_modules/fast-check/index.js',
  ],
  'an import that does not resolve': ['not-to-unresolvable: src/handlers/typo.ts → ./nothing.ts'],
};

describe('the boundary rules, on a miniature repository', () => {
  let dir = '';
  let report: Report;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roomcast-boundaries-'));
    for (const [path, content] of Object.entries(FIXTURE)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), typeof content === 'string' ? content : JSON.stringify(content));
    }
    // npm's workspace links: node_modules/@roomcast/* → packages/*
    await mkdir(join(dir, 'node_modules', '@roomcast'));
    await symlink('../../packages/client', join(dir, 'node_modules', '@roomcast', 'client'), 'dir');
    await symlink('../../packages/gateway', join(dir, 'node_modules', '@roomcast', 'gateway'), 'dir');
    await symlink('../../packages/admin', join(dir, 'node_modules', '@roomcast', 'admin'), 'dir');
    report = await depcruise(dir, CHECKED);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves .js specifiers to .ts files in the packages, and the tsconfig paths at the root', () => {
    const edges = report.modules.flatMap(({ source, dependencies }) =>
      dependencies.map(({ resolved }) => `${source} → ${resolved}`),
    );
    for (const edge of [
      'packages/client/src/index.ts → packages/client/src/client.ts',
      'src/protocol.ts → packages/client/src/protocol.ts',
      'src/local/main.ts → packages/gateway/src/index.ts',
      'src/admin.ts → packages/admin/src/index.ts',
      'web/app.ts → packages/client/src/index.ts',
    ]) {
      assert.ok(edges.includes(edge), `missing ${edge}`);
    }
  });

  for (const [what, expected] of Object.entries(CAUGHT)) {
    it(`catches ${what}`, () => {
      const reported = lines(report.violations);
      for (const line of expected) assert.ok(reported.includes(line), `not caught: ${line}`);
    });
  }

  it('reports nothing else: every allowed import passes', () => {
    assert.deepEqual(lines(report.violations), Object.values(CAUGHT).flat().sort());
  });
});

describe('the repository', () => {
  let report: Report;

  before(async () => {
    report = await depcruise(ROOT, CHECKED);
  });

  it('keeps every boundary', () => {
    assert.deepEqual(lines(report.violations), [], 'run `npm run check` for the details');
  });

  it('is checked whole, through the tsconfig paths, quickly', () => {
    assert.ok(report.cruised > 150, `only ${report.cruised} modules cruised`);
    const aliased = report.modules.flatMap(({ dependencies }) =>
      dependencies.filter(({ dependencyTypes }) => dependencyTypes.includes('aliased-tsconfig-paths')),
    );
    assert.ok(aliased.some(({ resolved }) => resolved === 'packages/client/src/protocol.ts'));
    assert.ok(aliased.some(({ resolved }) => resolved === 'packages/gateway/src/index.ts'));
    assert.ok(report.milliseconds < 15_000, `the check took ${Math.round(report.milliseconds)} ms`);
  });

  it('runs the same check as npm run check', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.ok(scripts.check?.includes(CHECK_COMMAND), `npm run check should run: ${CHECK_COMMAND}`);
  });

  it("still needs no-circular's exception for the bench cycle", async () => {
    // The same configuration without the exception: once bench/ is untangled, the exception must go.
    const dir = await mkdtemp(join(tmpdir(), 'roomcast-boundaries-'));
    try {
      const config = join(dir, 'strict.cjs');
      await writeFile(
        config,
        `const base = require(${JSON.stringify(CONFIG)});\n` +
          'module.exports = { ...base, forbidden: base.forbidden.map((rule) =>\n' +
          "  rule.name === 'no-circular' ? { ...rule, to: { circular: true } } : rule) };\n",
      );
      const strict = await depcruise(ROOT, ['bench'], config);
      const cycles = strict.violations.filter(({ rule }) => rule === 'no-circular');
      assert.ok(
        cycles.some(({ from }) => from === 'bench/options.ts'),
        'bench/options.ts is no longer in a cycle: remove the exception (`via`) from no-circular in ' +
          '.dependency-cruiser.cjs',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
