/** A random id for `client_msg_id`: 128 bits as 32 hex digits. `crypto.randomUUID` needs a secure context. */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
