#!/usr/bin/env node
// A routes file (and the handlers it names) in TypeScript needs tsx, registered before anything loads: its ESM and
// CommonJS hooks, since a `.ts` file outside a `"type": "module"` package is CommonJS. JavaScript needs nothing.
const wantsTypeScript = process.argv.some((arg) => /\.(c|m)?tsx?$/.test(arg));
if (wantsTypeScript) {
  try {
    const { register: registerCommonJs } = await import('tsx/cjs/api');
    const { register } = await import('tsx/esm/api');
    registerCommonJs();
    register();
  } catch {
    process.stderr.write('roomcast-gateway: TypeScript routes need tsx: npm install --save-dev tsx\n');
    process.exit(2);
  }
}
const { main } = await import('../dist/cli.js');
await main(process.argv.slice(2));
