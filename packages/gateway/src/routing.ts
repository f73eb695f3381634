/**
 * Where a request goes: the stage path of the listener (SPEC.md §3.1), and for a message, its route (SPEC.md §2.1).
 * The route selection expression is compiled once into literal text and `request.body` paths; both the bare form
 * `$request.body.a.b` and the template form `${request.body.a.b}` are accepted, and `\$default` is the literal text
 * `$default`. Evaluation is single-pass.
 */

// Paths -----------------------------------------------------------------------------------------------------

export function pathnameOf(url: string | undefined): string {
  const path = url ?? '/';
  const query = path.indexOf('?');
  return query === -1 ? path : path.slice(0, query);
}

/** The WebSocket URL is `/{stage}`, with or without a trailing slash and query string. */
export function isStagePath(pathname: string, stage: string): boolean {
  return pathname === `/${stage}` || pathname === `/${stage}/`;
}

// Route selection -------------------------------------------------------------------------------------------

type Segment = { literal: string } | { path: (string | number)[] };

export type RouteSelector = (body: string) => string | undefined;

const TOKEN =
  /\\\$default|\$\{request\.body\.([^}]*)\}|\$request\.body\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+|\[\d+\])*)/g;

function compileSelectionExpression(expression: string): Segment[] {
  const segments: Segment[] = [];
  let last = 0;
  for (const match of expression.matchAll(TOKEN)) {
    if (match.index > last) segments.push({ literal: expression.slice(last, match.index) });
    const path = match[1] ?? match[2];
    segments.push(path === undefined ? { literal: '$default' } : { path: parsePath(path) });
    last = match.index + match[0].length;
  }
  if (last < expression.length) segments.push({ literal: expression.slice(last) });
  return segments;
}

/** `a.b[0].c` → `['a', 'b', 0, 'c']`. */
function parsePath(path: string): (string | number)[] {
  const steps: (string | number)[] = [];
  for (const [, name, index] of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    steps.push(index === undefined ? (name as string) : Number(index));
  }
  return steps;
}

/**
 * Returns the route key for a text frame, or `undefined` when nothing matches and there is no `$default`
 * (the caller then sends the Forbidden frame). A body that is not JSON goes to `$default`. A message can never
 * select `$connect`, `$disconnect` or any other `$`-prefixed key.
 */
export function createRouteSelector(expression: string, routeKeys: Iterable<string>): RouteSelector {
  const segments = compileSelectionExpression(expression);
  const keys = [...routeKeys];
  const selectable = new Set(keys.filter((key) => !key.startsWith('$')));
  const fallback = keys.includes('$default') ? '$default' : undefined;
  return (body) => {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return fallback;
    }
    const key = segments
      .map((s) => ('literal' in s ? s.literal : stringifyLikeAws(valueAt(json, s.path))))
      .join('');
    return selectable.has(key) ? key : fallback;
  };
}

function valueAt(json: unknown, path: (string | number)[]): unknown {
  let value = json;
  for (const step of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    if ((typeof step === 'number') !== Array.isArray(value)) return undefined;
    value = Object.hasOwn(value, step) ? (value as Record<string | number, unknown>)[step] : undefined;
  }
  return value;
}

/** Missing and null → `""`; arrays → `[a, b]`; objects → JSON. */
function stringifyLikeAws(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return `[${value.map(stringifyLikeAws).join(', ')}]`;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
