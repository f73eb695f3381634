import {
  MESSAGE_ID_ALPHABET as DIGITS,
  MESSAGE_ID_CHARS,
  MESSAGE_ID_TIME_CHARS as TIME_DIGITS,
} from './protocol.js';

const RANDOM_DIGITS = MESSAGE_ID_CHARS - TIME_DIGITS;

/** Sorts before every message id: a cursor meaning "from the very start". */
export const FIRST_ID = '0'.repeat(TIME_DIGITS + RANDOM_DIGITS);

/** The smallest id of `ms` milliseconds before `id`; ids that are not ULIDs are returned unchanged. */
export function rewind(id: string, ms: number): string {
  if (id.length !== TIME_DIGITS + RANDOM_DIGITS) return id;
  let time = 0;
  for (const digit of id.slice(0, TIME_DIGITS)) {
    const value = DIGITS.indexOf(digit);
    if (value < 0) return id;
    time = time * 32 + value;
  }
  let rest = Math.max(0, time - ms);
  let digits = '';
  for (let i = 0; i < TIME_DIGITS; i += 1) {
    digits = DIGITS.charAt(rest % 32) + digits;
    rest = Math.floor(rest / 32);
  }
  return digits + '0'.repeat(RANDOM_DIGITS);
}

export function maxId(a: string, b: string): string {
  return a > b ? a : b;
}
