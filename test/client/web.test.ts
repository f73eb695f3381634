import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { buildDemoScript } from '../../src/local/demo-page.ts';
import { startLocalStack } from '../../src/local/stack.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe('browser build', () => {
  it('bundles the client SDK for browsers without zod or Node built-ins, small', async (t) => {
    const result = await build({
      entryPoints: [join(ROOT, 'packages', 'client', 'src', 'index.ts')],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]?.contents ?? new Uint8Array();
    const text = new TextDecoder().decode(code);
    assert.doesNotMatch(text, /zod|ZodError/);
    assert.doesNotMatch(text, /\bnode:|require\(/);
    const gzipped = gzipSync(code).length;
    t.diagnostic(`SDK bundle: ${code.length} bytes minified, ${gzipped} gzipped`);
    assert.ok(gzipped < 8 * 1024, `the SDK stays small (${gzipped} bytes gzipped)`);

    const page = await buildDemoScript();
    assert.doesNotMatch(page.replace(/\/\/# sourceMappingURL=.*$/m, ''), /zod|\bnode:/);
  });

  it('serves the page with its stage path and the bundled script', async () => {
    const stack = await startLocalStack({ port: 0, stage: 'beta', env: { LOG_LEVEL: 'SILENT' } });
    try {
      const html = await (await fetch(stack.httpUrl)).text();
      assert.match(html, /<meta name="roomcast-stage-path" content="\/beta">/);
      assert.match(html, /<script type="module" src="\/app.js"><\/script>/);
      const script = await fetch(`${stack.httpUrl}app.js`);
      assert.equal(script.status, 200);
      assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.match(await script.text(), /function connect\(/);
    } finally {
      await stack.close();
    }
  });
});
