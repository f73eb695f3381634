/** Stable error codes carried by `error` frames. Clients branch on these, never on message text. */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'FORBIDDEN',
  'TOO_LARGE',
  'UNKNOWN_ACTION',
  'NOT_CONNECTED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
