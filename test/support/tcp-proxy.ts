import { once } from 'node:events';
import { createConnection, createServer, type Socket as NetSocket, type Server } from 'node:net';

/**
 * A TCP proxy in front of a WebSocket server (the local stack's gateway) that can fail its current connections the
 * way networks do: `blackhole` swallows their bytes without closing anything (a lost route, a NAT that dropped the
 * flow: no FIN, no RST), `cut` resets them. Connections made later work normally. `latencyMs` delays every chunk
 * each way (in order), for a round trip of twice that.
 */
interface ProxiedConnection {
  client: NetSocket;
  upstream: NetSocket;
  swallow: 'nothing' | 'to-client' | 'both';
}

export class TcpProxy {
  /** Added to each direction; settable at any time. */
  latencyMs = 0;

  private constructor(
    readonly server: Server,
    readonly url: string,
    readonly connections: Set<ProxiedConnection>,
  ) {}

  /** Listens on 127.0.0.1; `url` is `wsUrl` through the proxy. */
  static async start(wsUrl: string): Promise<TcpProxy> {
    const target = new URL(wsUrl);
    const connections = new Set<ProxiedConnection>();
    let proxy: TcpProxy | undefined;
    const later = (send: () => void) => {
      const latency = proxy?.latencyMs ?? 0;
      if (latency > 0) setTimeout(send, latency);
      else send();
    };
    const server = createServer((client) => {
      const upstream = createConnection(Number(target.port), target.hostname);
      const connection: ProxiedConnection = { client, upstream, swallow: 'nothing' };
      connections.add(connection);
      client.on('data', (chunk) =>
        later(() => {
          if (connection.swallow !== 'both' && !upstream.destroyed) upstream.write(chunk);
        }),
      );
      upstream.on('data', (chunk) =>
        later(() => {
          if (connection.swallow === 'nothing' && !client.destroyed) client.write(chunk);
        }),
      );
      for (const socket of [client, upstream]) {
        socket.on('error', () => {});
        socket.on('close', () => {
          // A black hole carries no FIN or RST either: the other side learns nothing until `cut` or `close`.
          if (connection.swallow !== 'nothing' && !(client.destroyed && upstream.destroyed)) return;
          connections.delete(connection);
          client.destroy();
          upstream.destroy();
        });
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('the proxy has no address');
    proxy = new TcpProxy(server, `ws://127.0.0.1:${address.port}${target.pathname}`, connections);
    return proxy;
  }

  /** From now on the connections open at this moment carry nothing to the client, or nothing at all. */
  blackhole(direction: 'to-client' | 'both' = 'both'): void {
    for (const connection of this.connections) connection.swallow = direction;
  }

  /** Resets the connections open at this moment, as a dropped TCP connection would. */
  cut(): void {
    for (const { client, upstream } of this.connections) {
      client.resetAndDestroy();
      upstream.destroy();
    }
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
