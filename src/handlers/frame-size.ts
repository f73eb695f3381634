/** API Gateway's limit for one PostToConnection payload. */
export const MAX_FRAME_BYTES = 128 * 1024;

/**
 * Drops items from the end of `frame[listKey]` until the frame fits in one WebSocket message, and says whether
 * any were dropped. Long pages of history or members can otherwise exceed what API Gateway accepts.
 */
export function fitToFrame<F extends object, K extends keyof F>(
  frame: F,
  listKey: K,
): { frame: F; trimmed: boolean } {
  const encoder = new TextEncoder();
  const list = [...(frame[listKey] as unknown[])];
  const fitted = { ...frame, [listKey]: list };
  let trimmed = false;
  while (list.length > 0 && encoder.encode(JSON.stringify(fitted)).length > MAX_FRAME_BYTES) {
    list.pop();
    trimmed = true;
  }
  return { frame: fitted, trimmed };
}
