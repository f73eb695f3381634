export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_UNSUPPORTED_DATA = 1003;
export const CLOSE_NO_STATUS = 1005;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_INVALID_PAYLOAD = 1007;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_MESSAGE_TOO_BIG = 1009;

/**
 * `disconnectReason` when the close frame carried no reason. 1000, 1001 and 1005 are texts seen from AWS
 * (SPEC.md §4.3); the others are unverified and chosen to read alike.
 */
const REASONS: Record<number, string> = {
  [CLOSE_NORMAL]: 'Connection Closed Normally',
  [CLOSE_GOING_AWAY]: 'Going away',
  [CLOSE_PROTOCOL_ERROR]: 'Protocol error',
  [CLOSE_UNSUPPORTED_DATA]: 'Unsupported data',
  [CLOSE_NO_STATUS]: 'Client-side close frame status not set',
  [CLOSE_ABNORMAL]: 'Connection closed abnormally',
  [CLOSE_INVALID_PAYLOAD]: 'Invalid frame payload data',
  [CLOSE_POLICY_VIOLATION]: 'Policy violation',
  [CLOSE_MESSAGE_TOO_BIG]: 'Message too big',
};

export function disconnectReasonFor(code: number, reason: string): string {
  return reason || (REASONS[code] ?? '');
}

/** The close code `ws` sent when it failed the connection over this receiver error; undefined for I/O errors. */
export function closeCodeForSocketError(error: Error & { code?: unknown }): number | undefined {
  if (typeof error.code !== 'string' || !error.code.startsWith('WS_ERR_')) return undefined;
  switch (error.code) {
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
    case 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH':
      return CLOSE_MESSAGE_TOO_BIG;
    case 'WS_ERR_INVALID_UTF8':
      return CLOSE_INVALID_PAYLOAD;
    case 'WS_ERR_TOO_MANY_BUFFERED_PARTS':
      return CLOSE_POLICY_VIOLATION;
    default:
      return CLOSE_PROTOCOL_ERROR;
  }
}
