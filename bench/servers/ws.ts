/**
 * The baseline: a bare `ws` broadcast server, rooms by query string (`?room=<room>&user=<user>`). A
 * `{"action":"sendMessage","message":…}` frame goes to every socket of the sender's room, the sender's included,
 * as a `message` frame like roomcast's. Nothing is stored: this is the machine's limit.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { serveChild } from './child.ts';

await serveChild(async () => {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 128 * 1024 });
  const rooms = new Map<string, Set<WebSocket>>();
  let sequence = 0;

  wss.on('connection', (socket, req) => {
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const roomId = query.get('room') ?? 'default';
    const userId = query.get('user') ?? 'anonymous';
    const room = rooms.get(roomId) ?? new Set<WebSocket>();
    rooms.set(roomId, room);
    room.add(socket);
    socket.on('message', (data) => {
      let frame: { action?: unknown; message?: unknown };
      try {
        frame = JSON.parse(String(data));
      } catch {
        return;
      }
      if (frame.action !== 'sendMessage' || typeof frame.message !== 'string') return;
      const out = JSON.stringify({
        action: 'message',
        room_id: roomId,
        user_id: userId,
        message: frame.message,
        message_id: `${Date.now()}-${sequence++}`,
        timestamp: new Date().toISOString(),
      });
      for (const peer of room) peer.send(out);
    });
    socket.on('close', () => {
      room.delete(socket);
      if (room.size === 0) rooms.delete(roomId);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    info: { url: `ws://127.0.0.1:${port}/` },
    registry: async () => wss.clients.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of wss.clients) socket.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
});
