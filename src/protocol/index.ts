export * from './client-frames.ts';
export * from './error-codes.ts';
export * from './message-id.ts';
export * from './room-id.ts';
export * from './server-frames.ts';
