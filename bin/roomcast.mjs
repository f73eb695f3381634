#!/usr/bin/env node
// The `roomcast` command (src/local/cli.ts), run from the TypeScript source as `npm start` runs the local stack.
import { register } from 'tsx/esm/api';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
await import('../src/local/cli.ts');
