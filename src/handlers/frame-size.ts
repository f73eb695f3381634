/** API Gateway's limit for one PostToConnection payload. */
export const MAX_FRAME_BYTES = 128 * 1024;

/**
 * Drops items from the end of `frame[listKey]` until the frame fits in one WebSocket message, and says whether
 * any were dropped. Long pages of history or members can otherwise exceed what API Gateway accepts.
 *
 * Each item is serialized once: re-serializing the whole frame after every drop would cost O(n²) for a page of
 * long messages (a cheap getHistory must not buy a client much CPU).
 */
export function fitToFrame<F extends object, K extends keyof F>(
  frame: F,
  listKey: K,
): { frame: F; trimmed: boolean } {
  const list = [...(frame[listKey] as unknown[])];
  const fitted = { ...frame, [listKey]: list };
  let size = byteLength(fitted);
  if (size <= MAX_FRAME_BYTES) return { frame: fitted, trimmed: false };
  while (list.length > 0 && size > MAX_FRAME_BYTES) {
    // The item's own JSON, and the comma before it unless it was the only one.
    size -= byteLength(list.pop()) + (list.length > 0 ? 1 : 0);
  }
  // The arithmetic above is exact for JSON data; this only guards it.
  while (list.length > 0 && byteLength(fitted) > MAX_FRAME_BYTES) list.pop();
  return { frame: fitted, trimmed: true };
}

const encoder = new TextEncoder();

function byteLength(value: unknown): number {
  return encoder.encode(JSON.stringify(value)).length;
}
