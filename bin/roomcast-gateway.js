#!/usr/bin/env node
// Runs from a plain `node` invocation: tsx is registered first (ESM and CommonJS hooks, since a `.ts` file outside a
// `"type": "module"` package is CommonJS) so that the TypeScript entry point, the routes file and TypeScript
// handlers load.
import { register as registerCommonJs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

registerCommonJs();
register();
const { main } = await import('../src/gateway/cli.ts');
await main(process.argv.slice(2));
