export * from './fan-out.ts';
export * from './management-client.ts';
