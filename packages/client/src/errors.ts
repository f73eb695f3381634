import type { ErrorCode, ErrorFrame } from './protocol.js';

/**
 * Why a request failed: a server error code, or one of the client's own. A `TIMEOUT`ed send may still have been
 * delivered (it then arrives as a `message` event); sending again with the same `clientMsgId` is safe.
 */
export type ClientErrorCode = ErrorCode | 'TIMEOUT' | 'CONNECTION_LOST' | 'CLOSED';

export class RoomcastError extends Error {
  override readonly name = 'RoomcastError';

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    /** The server's `error` frame, when the server refused the request. */
    readonly frame?: ErrorFrame,
  ) {
    super(message);
  }

  static fromFrame(frame: ErrorFrame): RoomcastError {
    return new RoomcastError(frame.code, frame.message, frame);
  }
}
