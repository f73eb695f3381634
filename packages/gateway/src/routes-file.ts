import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WebSocketLambda } from './options.js';

/** `./handlers/send.ts#send`: a module path (relative to the routes file) and an optional export name. */
export interface HandlerRef {
  /** As written in the routes file. */
  label: string;
  file: string;
  /** Undefined: the `handler` export, else the default export. */
  exportName: string | undefined;
}

export interface RoutesFile {
  routes: Map<string, { ref: HandlerRef; twoWay: boolean }>;
  authorizer: { ref: HandlerRef; identitySources: string[] } | undefined;
}

/**
 * Reads a routes file: its default export maps route keys to handler paths or `{ handler, twoWay? }`, and the key
 * `authorizer` (which therefore cannot be a route key here) holds `{ handler, identitySources? }`.
 */
export async function readRoutesFile(file: string): Promise<RoutesFile> {
  const absolute = path.resolve(file);
  const module = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  return parseRoutesFile(exportsOf(module).default, path.dirname(absolute), file);
}

export function parseRoutesFile(value: unknown, baseDir: string, label = 'the routes file'): RoutesFile {
  if (!isRecord(value)) throw new Error(`${label}: the default export must be an object of routes`);
  const routes = new Map<string, { ref: HandlerRef; twoWay: boolean }>();
  let authorizer: RoutesFile['authorizer'];
  for (const [key, entry] of Object.entries(value)) {
    if (key === 'authorizer') {
      if (!isRecord(entry) || typeof entry.handler !== 'string') {
        throw new Error(`${label}: authorizer must be { handler: 'path#export', identitySources?: [...] }`);
      }
      const sources = entry.identitySources ?? [];
      if (!Array.isArray(sources) || !sources.every((s) => typeof s === 'string')) {
        throw new Error(`${label}: authorizer.identitySources must be an array of strings`);
      }
      authorizer = { ref: handlerRef(entry.handler, baseDir), identitySources: sources };
    } else if (typeof entry === 'string') {
      routes.set(key, { ref: handlerRef(entry, baseDir), twoWay: false });
    } else if (isRecord(entry) && typeof entry.handler === 'string') {
      routes.set(key, { ref: handlerRef(entry.handler, baseDir), twoWay: entry.twoWay === true });
    } else {
      throw new Error(`${label}: route ${key} must be 'path#export' or { handler: 'path#export', twoWay? }`);
    }
  }
  return { routes, authorizer };
}

function handlerRef(label: string, baseDir: string): HandlerRef {
  const hash = label.lastIndexOf('#');
  const modulePath = hash === -1 ? label : label.slice(0, hash);
  const exportName = hash === -1 ? undefined : label.slice(hash + 1);
  if (!modulePath || exportName === '') throw new Error(`Invalid handler: ${label}`);
  return { label, file: path.resolve(baseDir, modulePath), exportName };
}

/** Imports the handler's module and picks its function (CommonJS modules expose theirs under `default`). */
export async function loadHandler(ref: HandlerRef): Promise<WebSocketLambda> {
  const module = exportsOf((await import(pathToFileURL(ref.file).href)) as Record<string, unknown>);
  const names = ref.exportName === undefined ? ['handler', 'default'] : [ref.exportName];
  for (const name of names) {
    const candidate = module[name];
    if (typeof candidate === 'function') return candidate as WebSocketLambda;
  }
  throw new Error(`${ref.label}: no function exported as ${names.join(' or ')}`);
}

/**
 * The module's exports as its author wrote them. A CommonJS module (a `.ts` file outside a `"type": "module"`
 * package is one) arrives as `{ default: module.exports }`; when compiled from ESM syntax, `module.exports` is
 * marked `__esModule` and holds the named exports and `default` itself.
 */
function exportsOf(module: Record<string, unknown>): Record<string, unknown> {
  const commonJs = module.default;
  if (isRecord(commonJs) && commonJs.__esModule === true) return commonJs;
  if (isRecord(commonJs)) return { ...commonJs, ...module };
  return module;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
