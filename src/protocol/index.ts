export * from './client-frames.ts';
export * from './error-codes.ts';
export * from './room-id.ts';
export * from './server-frames.ts';
