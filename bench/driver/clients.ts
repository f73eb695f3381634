import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { signDevToken } from '../../src/auth.ts';
import type { ReadyInfo, ServerKind } from '../servers/ipc.ts';

/** What the load driver does with frames a client receives. */
interface FrameSink {
  /** The `message` text of a `message` frame. */
  message(text: string): void;
  /** Any other frame, by its `action` (presence, error, …) or `message` (API Gateway's own frames). */
  other(kind: string): void;
}

export interface BenchClient {
  send(text: string): void;
  close(): Promise<void>;
}

export interface ClientFactory {
  /** Anything a user needs before connecting (roomcast: a signed token), done before the clock starts. */
  prepare(users: readonly string[]): Promise<void>;
  connect(user: string, room: string, sink: FrameSink): Promise<BenchClient>;
}

const CONNECT_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 10_000;

export function clientFactory(kind: ServerKind, info: ReadyInfo): ClientFactory {
  if (kind === 'socketio') return socketIoFactory(info.url);
  const tokens = new Map<string, string>();
  const urlFor = (user: string, room: string): string => {
    const u = encodeURIComponent(user);
    const r = encodeURIComponent(room);
    if (kind === 'ws') return `${info.url}?room=${r}&user=${u}`;
    if (kind === 'textbook') return `${info.url}?room_id=${r}&user_id=${u}`;
    return `${info.url}?token=${tokens.get(user)}&room_id=${r}`;
  };
  return {
    async prepare(users) {
      if (kind !== 'roomcast') return;
      const secret = info.jwtSecret;
      if (!secret) throw new Error('roomcast did not say which JWT secret it verifies');
      for (const user of users) if (!tokens.has(user)) tokens.set(user, await signDevToken(secret, user));
    },
    connect: (user, room, sink) => connectWebSocket(urlFor(user, room), room, sink),
  };
}

function connectWebSocket(url: string, room: string, sink: FrameSink): Promise<BenchClient> {
  const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: CONNECT_TIMEOUT_MS });
  socket.on('message', (data) => {
    let frame: { action?: string; message?: unknown };
    try {
      frame = JSON.parse(String(data));
    } catch {
      sink.other('non-JSON');
      return;
    }
    if (frame.action === 'message' && typeof frame.message === 'string') sink.message(frame.message);
    else sink.other(frame.action ?? String(frame.message));
  });
  let closing = false;
  socket.on('close', (code) => {
    if (!closing) sink.other(`closed by the server (${code})`);
  });
  const client: BenchClient = {
    send: (text) => socket.send(JSON.stringify({ action: 'sendMessage', room_id: room, message: text })),
    close: () => {
      closing = true;
      return closeWebSocket(socket);
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      socket.removeAllListeners('error');
      socket.on('error', () => {});
      resolve(client);
    });
    socket.once('unexpected-response', (_req, res) => {
      closing = true;
      reject(new Error(`handshake refused: HTTP ${res.statusCode}`));
      socket.terminate();
    });
    socket.once('error', (error) => {
      closing = true;
      reject(error);
    });
  });
}

function closeWebSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, CLOSE_TIMEOUT_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.close(1000);
  });
}

function socketIoFactory(url: string): ClientFactory {
  return {
    prepare: async () => {},
    connect(user, room, sink) {
      // forceNew: one connection per client (io() would otherwise multiplex them all over one).
      const socket: Socket = io(url, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        timeout: CONNECT_TIMEOUT_MS,
        query: { room, user },
      });
      socket.on('message', (frame: { message?: unknown }) => {
        if (typeof frame?.message === 'string') sink.message(frame.message);
        else sink.other('message?');
      });
      socket.on('disconnect', (reason) => {
        if (reason !== 'io client disconnect') sink.other(`disconnected (${reason})`);
      });
      const client: BenchClient = {
        send: (text) => socket.emit('sendMessage', { room_id: room, message: text }),
        close: async () => {
          socket.disconnect();
        },
      };
      return new Promise((resolve, reject) => {
        socket.once('connect', () => resolve(client));
        socket.once('connect_error', (error) => {
          socket.close();
          reject(error);
        });
      });
    },
  };
}
