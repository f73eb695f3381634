import { randomBytes, randomInt, randomUUID } from 'node:crypto';

/**
 * API Gateway ids (connectionId, requestId, messageId) are 16 characters: 15 from the URL-safe base64 alphabet
 * plus a trailing `=`. The `=` matters: it forces callers to percent-encode ids in @connections URLs.
 */
export function newGatewayId(): string {
  return `${randomBytes(11).toString('base64url')}=`;
}

const GATEWAY_ID = /^[A-Za-z0-9_-]{15}=$/;

export function isWellFormedGatewayId(id: string): boolean {
  return GATEWAY_ID.test(id);
}

const API_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** 10 lowercase alphanumerics, like `nn27okk1we`. */
export function newApiId(): string {
  let id = '';
  for (let i = 0; i < 10; i++) id += API_ID_ALPHABET[randomInt(API_ID_ALPHABET.length)];
  return id;
}

/** `Root=1-{epoch seconds, 8 hex}-{24 hex}`, the X-Amzn-Trace-Id format. */
export function newTraceId(nowMs: number): string {
  const seconds = Math.floor(nowMs / 1000)
    .toString(16)
    .padStart(8, '0');
  return `Root=1-${seconds}-${randomBytes(12).toString('hex')}`;
}

/** The x-amzn-RequestId of management API responses and the Lambda awsRequestId are UUIDs. */
export function newUuid(): string {
  return randomUUID();
}
