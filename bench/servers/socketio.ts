/**
 * What a user would run instead: Socket.IO 4 with rooms. A socket joins the room of its handshake query
 * (`room`, `user`); `sendMessage` events go to the whole room, the sender included, as `message` events shaped
 * like roomcast's frames.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { serveChild } from './child.ts';

await serveChild(async () => {
  const server = http.createServer();
  const io = new Server(server, { serveClient: false, maxHttpBufferSize: 128 * 1024 });
  let sequence = 0;

  io.on('connection', (socket) => {
    const roomId = String(socket.handshake.query.room ?? 'default');
    const userId = String(socket.handshake.query.user ?? 'anonymous');
    void socket.join(roomId);
    socket.on('sendMessage', (frame: { message?: unknown }) => {
      if (typeof frame?.message !== 'string') return;
      io.to(roomId).emit('message', {
        action: 'message',
        room_id: roomId,
        user_id: userId,
        message: frame.message,
        message_id: `${Date.now()}-${sequence++}`,
        timestamp: new Date().toISOString(),
      });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    info: { url: `http://127.0.0.1:${port}` },
    registry: async () => io.engine.clientsCount,
    close: async () => {
      io.disconnectSockets(true);
      await io.close();
    },
  };
});
