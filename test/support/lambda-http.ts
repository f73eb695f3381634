import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalLambda } from '@roomcast/gateway';

/**
 * Lambda's Invoke API over HTTP on loopback, served by the emulator's in-process handler: what a process of its
 * own (a built bundle) reaches through `AWS_ENDPOINT_URL_LAMBDA`, as a deployed function reaches Lambda. Every
 * request is kept, so a test can see what the SDK sent.
 */
export async function serveLambdaApi(functions: LocalLambda): Promise<{
  url: string;
  requests: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}> {
  const handler = functions.requestHandler();
  const requests: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders }> = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://lambda.local');
    requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers });
    const { response } = await handler.handle({
      method: req.method ?? 'GET',
      protocol: 'http:',
      hostname: 'lambda.local',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers as Record<string, string>,
      body: Buffer.concat(chunks),
    } as Parameters<typeof handler.handle>[0]);
    res.writeHead(response.statusCode, response.headers);
    res.end(response.body as Uint8Array);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
