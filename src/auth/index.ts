export * from './dev-token.ts';
export * from './identity.ts';
export * from './verifier.ts';
