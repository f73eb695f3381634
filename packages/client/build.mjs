// `npm run build`: the package as it is published. dist/esm: one ES module per source file and its .d.ts (tsc),
// for bundlers to tree-shake. dist/cjs: a CommonJS bundle per entry point (esbuild) with the same .d.ts, read as
// CommonJS types there because dist/cjs/package.json says "type": "commonjs".
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const root = import.meta.dirname;
const dist = join(root, 'dist');
const ENTRY_POINTS = ['index', 'protocol'];

rmSync(dist, { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });

await build({
  entryPoints: ENTRY_POINTS.map((name) => join(root, 'src', `${name}.ts`)),
  outdir: join(dist, 'cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'neutral',
  target: 'es2020',
  logLevel: 'warning',
});
mkdirSync(join(dist, 'cjs'), { recursive: true });
cpSync(join(dist, 'esm'), join(dist, 'cjs'), { recursive: true, filter: (file) => !file.endsWith('.js') });
writeFileSync(join(dist, 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
