/** Room ids: 1–64 characters of `[A-Za-z0-9_.:-]`, safe in URLs, keys and logs. */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function isRoomId(value: unknown): value is string {
  return typeof value === 'string' && ROOM_ID_PATTERN.test(value);
}
