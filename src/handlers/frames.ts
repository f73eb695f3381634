import type { DirectFrame, MessageFrame } from '../protocol.ts';
import type { DirectMessage, RoomMessage, StoredMessage } from '../store/messages.ts';

/** Stored messages as the frames clients receive. */
export function messageFrame({ kind: _kind, ...message }: RoomMessage): MessageFrame {
  return { action: 'message', ...message };
}

export function directFrame({ kind: _kind, ...message }: DirectMessage): DirectFrame {
  return { action: 'direct', ...message };
}

export function storedFrame(message: StoredMessage): MessageFrame | DirectFrame {
  return message.kind === 'room' ? messageFrame(message) : directFrame(message);
}
