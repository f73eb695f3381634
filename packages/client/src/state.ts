export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * Why the client stopped: `client` (close() was called), `unauthorized` (401, or an expired token), `forbidden`
 * (403, or a room outside the token's `rooms`), `bad-request` (400: a malformed room id), `gave-up` (the attempt
 * limits of ReconnectOptions). Only `client` and `gave-up` are not about the token or room.
 */
export type CloseReason = 'client' | 'unauthorized' | 'forbidden' | 'bad-request' | 'gave-up';

export type StateChange =
  /** A handshake starts; attempt 1 is the first after the last open connection (or ever). */
  | { state: 'connecting'; attempt: number }
  | { state: 'open' }
  /** No connection; attempt number `attempt` starts in `delayMs`. */
  | { state: 'reconnecting'; attempt: number; delayMs: number; reason: string }
  /** Final: the client will not connect again. `status` is the refused handshake's, when known. */
  | { state: 'closed'; reason: CloseReason; detail: string; status?: number };

/** Handshake statuses that no retry can fix. */
export function refusal(status: number | undefined): CloseReason | undefined {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 400) return 'bad-request';
  return undefined;
}
