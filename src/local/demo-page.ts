import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { signDevToken } from '../auth/index.ts';
import { isRoomId } from '../protocol/index.ts';

const PAGE = new URL('../../web/index.html', import.meta.url);

/**
 * Serves the demo page at `/` and, only while the public development secret is in use, `/_local/token` so the page
 * can join without a token pasted in. With a real JWT_SECRET no token is ever minted over HTTP.
 */
export function demoPageHandler(options: { stage: string; devSecret?: string }) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method !== 'GET') return false;
    if (url.pathname === '/' || url.pathname === '/index.html') {
      const html = (await readFile(PAGE, 'utf8')).replace(
        '<script type="module">',
        `<script>window.ROOMCAST_STAGE_PATH = ${JSON.stringify(`/${options.stage}`)};</script>\n<script type="module">`,
      );
      send(res, 200, 'text/html; charset=utf-8', html);
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

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}
