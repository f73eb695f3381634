import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { signDevToken } from '../auth.ts';
import { isRoomId } from '../protocol.ts';

const WEB = new URL('../../web/', import.meta.url);

/**
 * Serves the demo page at `/`, its script (web/app.ts with the client SDK, bundled on first request) at `/app.js`
 * and, only while the public development secret is in use, `/_local/token` so the page can join without a token
 * pasted in. With a real JWT_SECRET no token is ever minted over HTTP.
 */
export function demoPageHandler(options: { stage: string; devSecret?: string }) {
  let script: Promise<string> | undefined;
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method !== 'GET') return false;
    if (url.pathname === '/' || url.pathname === '/index.html') {
      const html = (await readFile(new URL('index.html', WEB), 'utf8')).replace(
        '__STAGE_PATH__',
        escapeAttribute(`/${options.stage}`),
      );
      send(res, 200, 'text/html; charset=utf-8', html);
      return true;
    }
    if (url.pathname === '/app.js') {
      script ??= buildDemoScript();
      try {
        send(res, 200, 'text/javascript; charset=utf-8', await script);
      } catch (error) {
        script = undefined;
        send(
          res,
          500,
          'text/plain; charset=utf-8',
          `the demo script did not build: ${(error as Error).message}`,
        );
      }
      return true;
    }
    if (url.pathname === '/_local/token') {
      const user = url.searchParams.get('user');
      if (!options.devSecret)
        send(res, 404, 'application/json', '{"message":"no development secret in use"}');
      else if (!isRoomId(user))
        send(res, 400, 'application/json', '{"message":"user: 1-64 of [A-Za-z0-9_.:-]"}');
      else
        send(
          res,
          200,
          'application/json',
          JSON.stringify({ token: await signDevToken(options.devSecret, user) }),
        );
      return true;
    }
    return false;
  };
}

/** The page's script for browsers. esbuild is loaded only when the page is first asked for. */
export async function buildDemoScript(): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [fileURLToPath(new URL('app.ts', WEB))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    sourcemap: 'inline',
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error('esbuild produced no output');
  return output.text;
}

function escapeAttribute(value: string): string {
  return value.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}
