// The repository's boundaries, checked by `npm run check` (dependency-cruiser). Paths are relative to the
// repository root. test/boundaries proves that each rule fires; docs/architecture.md draws the graph.
//
// Layout: the root package is the server (src/) and its tooling (test/, bench/, scripts/, web/);
// packages/client (@roomcast/client), packages/gateway (@roomcast/gateway) and packages/admin (@roomcast/admin)
// are published on their own.

/** Root code: the server and everything that tests, measures, builds or demonstrates it. */
const ROOT = '^(src|test|bench|scripts|web)/';
/** The packages' public entries: what tsconfig.json `paths` maps @roomcast/client, @roomcast/client/protocol,
 * @roomcast/gateway and @roomcast/admin to, and what their package.json `exports` publish (built). */
const PACKAGE_ENTRIES = '^packages/(client/src/(index|protocol)|(gateway|admin)/src/index)\\.ts$';
/** The Node packages, which may use Node built-ins and the npm packages they declare. */
const NODE_PACKAGE_SOURCES = '^packages/(gateway|admin)/src/';
/** Every kind of npm package dependency-cruiser tells apart (by the importing file's own package.json). */
const NPM = ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    // 1. The Node packages: the gateway and the admin client -------------------------------------------------
    {
      name: 'node-package-stays-in-package',
      comment:
        '@roomcast/gateway is a generic API Gateway WebSocket emulator, published on its own: it knows ' +
        "nothing of chat. @roomcast/admin is what an operator's backend installs to call the admin function: " +
        'it holds the contract and the call, not the server. Their sources import only themselves, Node ' +
        'built-ins and npm packages: no server code (src/), no other package, no tests or tools.',
      severity: 'error',
      from: { path: NODE_PACKAGE_SOURCES },
      to: {
        pathNot: '^packages/$1/|(^|/)node_modules/',
        dependencyTypesNot: ['core'],
        couldNotResolve: false,
      },
    },
    {
      name: 'node-package-only-declared-deps',
      comment:
        "A package's users install only what its own package.json declares (the gateway: ws, " +
        '@types/aws-lambda, @smithy/types; the admin client: the Lambda client). A package only the root ' +
        'declares (zod, jose, the rest of the AWS SDK) resolves here thanks to workspace hoisting, and would be ' +
        'missing for everyone else.',
      severity: 'error',
      from: { path: NODE_PACKAGE_SOURCES },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },

    // 2. The client ----------------------------------------------------------------------------------------
    {
      name: 'client-no-node-builtins',
      comment:
        '@roomcast/client runs in browsers: no node:fs, node:crypto, node:events... The web platform ' +
        '(WebSocket, crypto.getRandomValues, TextEncoder, EventTarget) is in Node 20+ as well.',
      severity: 'error',
      from: { path: '^packages/client/src/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'client-no-npm-packages',
      comment:
        '@roomcast/client has no dependencies: it ships a few KB to browsers, and its wire protocol ' +
        '(@roomcast/client/protocol) is what both sides share. No zod, no npm package at all; the server ' +
        'adds its zod schemas on top, in src/protocol.ts.',
      severity: 'error',
      from: { path: '^packages/client/src/' },
      to: { dependencyTypes: NPM },
    },
    {
      name: 'client-stays-in-package',
      comment:
        'The client imports only its own files: no server code (src/), no gateway, no tests or tools. A ' +
        'type-only import counts: it would end up in the published .d.ts files.',
      severity: 'error',
      from: { path: '^packages/client/src/' },
      to: {
        pathNot: '^packages/client/|(^|/)node_modules/',
        dependencyTypesNot: ['core', ...NPM],
        couldNotResolve: false,
      },
    },

    // 3. Across packages: only through their public entries -----------------------------------------------
    {
      name: 'root-only-package-entries',
      comment:
        'Root code reaches a package only through what it publishes: @roomcast/client, ' +
        '@roomcast/client/protocol, @roomcast/gateway, @roomcast/admin. A deep import (packages/client/src/x.ts, ' +
        '@roomcast/client/src/x.js, a dist/ file) makes an internal file public API, and does not resolve ' +
        'for a real user of the package.',
      severity: 'error',
      from: { path: ROOT },
      // Unresolved, an import keeps its specifier: a deep @roomcast/ name (not-to-unresolvable reports it
      // too), a relative path to a build that is not there yet (../packages/gateway/dist/cli.js).
      to: { path: '^(packages/|@roomcast/|(\\.\\./)+packages/)', pathNot: PACKAGE_ENTRIES },
    },
    {
      name: 'root-package-by-name',
      comment:
        "Import a package's entry by its name (tsconfig.json `paths` maps it), not by a relative path into " +
        'packages/: the name is the public contract, and keeps working when the package is installed.',
      severity: 'error',
      from: { path: ROOT },
      to: { path: PACKAGE_ENTRIES, dependencyTypesNot: ['aliased-tsconfig-paths'] },
    },
    {
      name: 'packages-not-to-root',
      comment:
        'A package never imports the server or its tooling: the arrows go from the root to the packages, so ' +
        "each package builds, tests and publishes alone. (A package's src/ is held by the stricter rules " +
        'above; this covers its tests, bin and build script.)',
      severity: 'error',
      from: { path: '^packages/', pathNot: '^packages/[^/]+/src/' },
      to: { path: ROOT },
    },
    {
      name: 'packages-independent',
      comment:
        'The packages are independent: none imports another, by path or by name (which resolves to the ' +
        "other's sources, or its build through the workspace link).",
      severity: 'error',
      from: { path: '^packages/([^/]+)/', pathNot: '^packages/[^/]+/src/' },
      to: { path: '^packages/', pathNot: '^packages/$1/' },
    },

    // The server's own layers -----------------------------------------------------------------------------
    {
      name: 'server-not-to-tooling',
      comment:
        'The server (src/) is what the Lambda bundles are built from: it imports no tests, benchmarks, ' +
        'scripts or demo page.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts|web)/' },
    },
    {
      name: 'lambda-not-to-local',
      comment:
        'src/local is `npm start` (embedded store, gateway, demo page): local tooling that no Lambda bundle ' +
        'may contain. It imports the handlers, never the other way round. This is also what lets ' +
        'no-dev-deps-in-server leave src/local out.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/local/' },
      to: { path: '^src/local/' },
    },

    // 4. Cycles and devDependencies -----------------------------------------------------------------------
    {
      name: 'no-circular',
      comment:
        'A cycle makes modules impossible to understand, test or move one at a time, and ES module cycles ' +
        'cause TDZ errors ("cannot access X before initialization") that depend on which file loads first. ' +
        'Type-only cycles count too: they couple the modules all the same. One known exception, ' +
        'bench/options.ts -> bench/series.ts -> bench/report/types.ts -> bench/options.ts (type-only on ' +
        'the way back), is tolerated until bench/ is untangled: any other cycle fails, one through those ' +
        'files too. test/boundaries fails once the exception is no longer needed.',
      severity: 'error',
      from: {},
      to: { circular: true, via: { pathNot: '^bench/(options|series|report/types)\\.ts$' } },
    },
    {
      name: 'no-dev-deps-in-server',
      comment:
        'The Lambda bundles are built from src/ and the root package.json: a devDependency there is test or ' +
        'tooling code leaking into production. Type-only imports are erased by esbuild (and explicit under ' +
        'verbatimModuleSyntax), so @types/aws-lambda stays a devDependency. src/local is left out: it is ' +
        'local tooling that no bundle contains (lambda-not-to-local), free to use dev tools.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/local/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-dev-deps-in-packages',
      comment:
        "A published package's users do not install its devDependencies. Type-only imports count: they end " +
        "up in the package's .d.ts files (which is why @types/aws-lambda is a dependency of the gateway). " +
        "Checked against the package's own package.json; the client may import no package at all " +
        '(client-no-npm-packages).',
      severity: 'error',
      from: { path: '^packages/[^/]+/src/', pathNot: '^packages/client/' },
      to: { dependencyTypes: ['npm-dev'] },
    },

    // Resolution --------------------------------------------------------------------------------------------
    {
      name: 'not-to-unresolvable',
      comment:
        'Every import must resolve (.ts specifiers at the root, .js specifiers standing for .ts files in the ' +
        'packages, the tsconfig `paths`): an import the check cannot resolve is one no rule can judge.',
      severity: 'error',
      from: {},
      // A build is missing until `npm run build` (packages/gateway/bin imports ../dist/cli.js), and
      // `npm run check` comes before any build on a fresh clone.
      to: { couldNotResolve: true, pathNot: '(^|/)dist/' },
    },
  ],
  options: {
    // npm packages and builds (packages/*/dist, dist/: gitignored) are leaves: the rules look at what imports
    // them, not inside them. (Not `exclude`, which would hide an import of a package's dist/.)
    doNotFollow: { path: ['(^|/)node_modules/', '(^|/)dist/'] },
    // The root tsconfig's `paths` map @roomcast/* to the packages' sources, as tsc, tsx and esbuild see them.
    tsConfig: { fileName: 'tsconfig.json' },
    // Resolve npm packages as Node and TypeScript (NodeNext) do: through package.json `exports` (tsx/esm/api
    // exists only there; @roomcast/client/src/x.js is not there).
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['types', 'import', 'require', 'node', 'default'],
    },
    // Keep `import type` edges: a type crosses a boundary as much as a value does (it ends up in .d.ts
    // files, and it couples the modules).
    tsPreCompilationDeps: true,
    // Each file is checked against its own package.json (the default, stated): what makes "the gateway's
    // own declared dependencies" checkable in a workspace whose node_modules are hoisted to the root.
    combinedDependencies: false,
    skipAnalysisNotInRules: true,
    reporterOptions: {
      // The graph in docs/architecture.md (npm run graph): readable node ids, so its diffs read well.
      mermaid: { minify: false },
    },
  },
};
