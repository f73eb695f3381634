import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';

/**
 * A workspace package as users get it: `npm pack` of a clean copy (its `prepack` builds), the tarball's files, and
 * fresh projects that install it without network.
 *
 * Network-free installs: npm 11 resolves a package *name* against its full registry document, which the npm cache
 * does not hold (the repo's install stored only the abbreviated ones), so `npm install ws --offline` fails with
 * ENOTCACHED. The registry tarball URLs of the versions in the repo's lockfile resolve without any registry
 * document, and the cache holds those tarballs: `lockedTarballs` lists them.
 */

export const REPO = join(import.meta.dirname, '..', '..');
/** The repo's own TypeScript compiler, for type-checking consumer projects. */
export const TSC = join(
  dirname(createRequire(import.meta.url).resolve('typescript/package.json')),
  'bin',
  'tsc',
);
/** Deadlines for a loaded 2-core machine: packing builds with tsc and esbuild, each type-check loads @types/node. */
export const STEP_TIMEOUT_MS = 180_000;
export const TEST_TIMEOUT_MS = 300_000;

export interface Packed {
  tarball: string;
  /** Path inside the package → contents. */
  files: Map<string, Buffer>;
  manifest: Record<string, unknown>;
}

/**
 * Packs `packageDir` from a copy without its dist/: prepack must build it, and that build cannot disturb tests that
 * use the package's own dist/. The repo's node_modules provide the build tools, as in the workspace.
 */
export async function pack(packageDir: string, work: string): Promise<Packed> {
  const source = join(work, 'source');
  await cp(packageDir, source, {
    recursive: true,
    filter: (path) => ![join(packageDir, 'dist'), join(packageDir, 'node_modules')].includes(path),
  });
  await symlink(join(REPO, 'node_modules'), join(source, 'node_modules'), 'dir');
  const destination = join(work, 'pack');
  await mkdir(destination);
  await run('npm', ['pack', '--pack-destination', destination], { cwd: source });
  const [tarball, ...others] = (await readdir(destination)).map((file) => join(destination, file));
  if (tarball === undefined || others.length > 0) {
    assert.fail(`npm pack made one file: ${[tarball, ...others]}`);
  }
  assert.match(tarball, /\.tgz$/);
  const unpacked = join(work, 'unpacked');
  await mkdir(unpacked);
  await run('tar', ['-xzf', tarball, '-C', unpacked], { cwd: work });
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(join(unpacked, 'package'), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(join(unpacked, 'package'), path).split(sep).join('/'), await readFile(path));
  }
  return { tarball, files, manifest: JSON.parse(text(files, 'package.json')) as Record<string, unknown> };
}

/** A fresh project `name` under `work` holding `files` (paths → contents) and a minimal package.json. */
export async function newProject(work: string, name: string, files: Record<string, string>): Promise<string> {
  const project = join(work, name);
  await mkdir(project);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  for (const [file, contents] of Object.entries(files)) {
    await mkdir(dirname(join(project, file)), { recursive: true });
    await writeFile(join(project, file), contents);
  }
  return project;
}

/** `npm install` of these specs (tarball paths or URLs) into `project`, from the cache only. */
export async function installOffline(project: string, specs: string[]): Promise<void> {
  await run('npm', ['install', ...specs, '--offline', '--no-audit', '--no-fund'], { cwd: project });
}

/**
 * Registry tarball URLs of `names` (as `from` in the repo's lockfile requires them) and all they depend on, at the
 * versions the lockfile holds. npm installs a URL without the registry document of its package.
 */
export async function lockedTarballs(names: string[], from = ''): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; dependencies?: Record<string, string> }>;
  };
  /** npm's lookup: node_modules of the requiring package, then of each one it is nested in, then the root's. */
  const locate = (name: string, parent: string): string => {
    for (let base = parent; ; ) {
      const path = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
      if (lock.packages[path]) return path;
      assert.ok(base, `${name} (for ${parent || 'the repo'}) is in the repo's lockfile`);
      const nested = base.lastIndexOf('/node_modules/');
      base = nested === -1 ? '' : base.slice(0, nested);
    }
  };
  const versions = new Map<string, string>();
  const visit = (name: string, parent: string) => {
    const path = locate(name, parent);
    const { version, dependencies = {} } = lock.packages[path] ?? {};
    assert.ok(version && (versions.get(name) ?? version) === version, `one version of ${name}`);
    if (versions.has(name)) return;
    versions.set(name, version);
    for (const dependency of Object.keys(dependencies)) visit(dependency, path);
  };
  for (const name of names) visit(name, from);
  const registry = await npmRegistry();
  return [...versions].map(
    ([name, version]) => `${registry}${name}/-/${name.split('/').pop()}-${version}.tgz`,
  );
}

const npmRegistry = once(async () => {
  const { stdout } = await run('npm', ['config', 'get', 'registry'], { cwd: REPO });
  return stdout.trim().replace(/\/?$/, '/');
});

/**
 * The environment of every child: none of the `npm_*` variables an enclosing `npm test` sets (its prefix, its
 * workspace) except where the cache and registry are, no NODE_OPTIONS, and no AWS settings.
 */
export const CHILD_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) =>
      (!/^npm_/i.test(name) || /^npm_config_(cache|registry|userconfig|globalconfig)$/i.test(name)) &&
      !/^AWS_/.test(name) &&
      !['NODE_OPTIONS', 'NODE_TEST_CONTEXT', 'INIT_CWD'].includes(name),
  ),
);

/** Runs a command to completion with CHILD_ENV; rejects with its output when it fails. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { ...options, env: CHILD_ENV, timeout: STEP_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
        } else resolve({ stdout, stderr });
      },
    );
  });
}

export function text(files: Map<string, Buffer>, path: string): string {
  const contents = files.get(path);
  assert.ok(contents, `${path} is packed`);
  return contents.toString('utf8');
}

/** The file paths an `exports` map points to, through every condition. */
export function leaves(value: unknown): unknown[] {
  return typeof value === 'object' && value !== null ? Object.values(value).flatMap(leaves) : [value];
}

/** A value made on first use and shared after. */
export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make();
    return made;
  };
}

/** The .d.ts a consumer's compiler reads: dist/index.d.ts and what it imports, transitively. */
export function publicDeclarations(files: Map<string, Buffer>): string[] {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const specifier of specifiers(text(files, path))) {
      if (specifier.startsWith('.')) visit(join(dirname(path), specifier.replace(/\.js$/, '.d.ts')));
    }
  };
  visit('dist/index.d.ts');
  return [...seen];
}

/** The packages (not Node built-ins, not relative files) that some module imports. */
export function packagesImportedBy(modules: string[]): Set<string> {
  const packages = modules
    .flatMap(specifiers)
    .filter((specifier) => !specifier.startsWith('.') && !isBuiltin(specifier))
    .map((specifier) =>
      specifier
        .split('/')
        .slice(0, specifier.startsWith('@') ? 2 : 1)
        .join('/'),
    );
  return new Set(packages.sort());
}

/** Static imports and re-exports, `import('…')` and `import x = require('…')`, outside comments. */
function specifiers(module: string): string[] {
  const code = module.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found = code.matchAll(
    /^\s*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/gm,
  );
  return [...found].map((match) => match[1] ?? match[2] ?? match[3] ?? match[4] ?? '');
}

/** The tsconfig.json of a strict TypeScript consumer on Node (NodeNext, skipLibCheck false) of `consumer.mts`. */
export const STRICT_NODE_CONSUMER_TSCONFIG = `${JSON.stringify(
  {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2022'],
      types: ['node'],
      strict: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: false,
      noEmit: true,
    },
    files: ['consumer.mts'],
  },
  null,
  2,
)}\n`;

/**
 * A fresh project holding `files`, with the packed package installed offline, and with it the dependencies its
 * manifest declares (at the versions the lockfile has for `packageDir`) and @types/node for a TypeScript consumer.
 */
export async function installPacked(
  work: string,
  { tarball, manifest }: Packed,
  packageDir: string,
  files: Record<string, string>,
): Promise<string> {
  const project = await newProject(work, 'app', files);
  const dependencies = [
    ...(await lockedTarballs(Object.keys(manifest.dependencies ?? {}), packageDir)),
    ...(await lockedTarballs(['@types/node'])),
  ];
  await installOffline(project, [tarball, ...dependencies]);
  return project;
}

/**
 * What every published package holds to: its `name`; nothing but the files `only` matches (the manifest, docs,
 * the build: no sources, tests or build scripts); the README; .d.ts files free of `.ts` specifiers; no install
 * scripts; a `prepack` that builds (a publish never ships a stale dist/); public access (a scoped package is
 * private unless told); and every entry point (main, module, types, bin, exports) packed.
 */
export function assertPublishable({ files, manifest }: Packed, name: string, only: RegExp): void {
  const paths = [...files.keys()].sort();
  assert.equal(manifest.name, name);
  assert.deepEqual(
    paths.filter((path) => !only.test(path)),
    [],
    'only package.json, docs and the build: no sources, tests or build files',
  );
  assert.ok(files.has('README.md'), 'the README is packed');
  for (const declaration of paths.filter((path) => path.endsWith('.d.ts'))) {
    assert.doesNotMatch(text(files, declaration), /from '[^']*\.ts'/, `${declaration}: no .ts specifiers`);
  }
  const scripts = (manifest.scripts ?? {}) as Record<string, string>;
  for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) {
    assert.equal(scripts[script], undefined, `no ${script} script`);
  }
  assert.match(scripts.prepack ?? '', /build/, 'prepack builds, so a publish never ships a stale dist/');
  assert.deepEqual(manifest.publishConfig, { access: 'public' }, 'a scoped package is private unless told');
  const bin = typeof manifest.bin === 'object' && manifest.bin !== null ? Object.values(manifest.bin) : [];
  const targets = [manifest.main, manifest.module, manifest.types, ...bin, ...leaves(manifest.exports)];
  for (const target of targets.filter((target) => target !== undefined)) {
    assert.ok(typeof target === 'string' && files.has(target.replace(/^\.\//, '')), `${target} is packed`);
  }
}
