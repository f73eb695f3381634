import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDemoScript } from '../../src/local/demo-page.ts';
import { startLocalStack } from '../../src/local/stack.ts';

describe('browser build', () => {
  // The SDK's own browser bundle (no zod, no Node built-ins, its size) is checked on the packed package, in
  // packages/client/test/package.test.ts.
  it('bundles the demo page without zod or Node built-ins', async () => {
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
