export * from './connections.ts';
export * from './dynamo-client.ts';
export * from './tables.ts';
