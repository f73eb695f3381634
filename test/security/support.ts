import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const nowSeconds = () => Math.floor(Date.now() / 1000);

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT assembled by hand, so that every header and claim can be wrong on purpose. */
export function rawJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signature = '',
): string {
  return `${b64url(header)}.${b64url(payload)}.${signature}`;
}

/** An HS* JWT signed with any bytes as the key: the right secret, a wrong one, or a public key (confusion). */
export function hmacJwt(
  key: string | Buffer,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const alg = typeof header.alg === 'string' ? header.alg : 'HS256';
  const signingInput = `${b64url({ alg, typ: 'JWT', ...header })}.${b64url(payload)}`;
  const digest = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg] ?? 'sha256';
  return `${signingInput}.${createHmac(digest, key).update(signingInput).digest('base64url')}`;
}

/** A JSON document served over HTTP on 127.0.0.1 (a JWKS), counting the requests it gets. */
export interface JsonServer {
  url: string;
  readonly requests: number;
  close(): Promise<void>;
}

export async function serveJson(path: string, document: unknown): Promise<JsonServer> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    if (req.url !== path) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
