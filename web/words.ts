import type { ClientErrorCode, StateChange } from '@roomcast/client';
import { decodeJwtPayload } from '@roomcast/client';

/**
 * The server's longest message, in characters (code points): MAX_MESSAGE_CHARS in src/config.ts, 4,000 unless a
 * deployment sets it otherwise. The SDK does not know it (a client learns it only from a TOO_LARGE answer), so
 * the page counts against the default; a server with a lower limit still answers TOO_LARGE, which the page says.
 */
export const MAX_MESSAGE_CHARS = 4000;

/** Characters as the server counts them: code points (👍 is one). */
export function charCount(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** What the status line says, in words for people (the technical reason goes to its tooltip). */
export function statusText(
  change: StateChange,
  { everOpened, online }: { everOpened: boolean; online: boolean },
): string {
  if (change.state === 'closed')
    return change.reason === 'gave-up' ? "Can't reach the server" : 'Not connected';
  // Whatever the socket says: a browser that knows it is offline is (its socket will not last).
  if (!online) return 'Offline — will reconnect when the network is back';
  if (change.state === 'open') return 'Connected';
  // A couple of quick retries are normal (a deploy, a blink); more mean the server is away.
  if (change.attempt >= 3) return "Can't reach the server";
  return everOpened ? 'Reconnecting…' : 'Connecting…';
}

/** Why the client stopped for good, when a retry cannot help: what to do instead. */
export function closedText(change: Extract<StateChange, { state: 'closed' }>): string | undefined {
  switch (change.reason) {
    case 'unauthorized':
      return 'The server did not accept your sign-in token (it may have expired). Get a new token and join again.';
    case 'forbidden':
      return 'The server refused your sign-in token. Get a new token and join again.';
    case 'bad-request':
      return 'The server refused to connect this page.';
    case 'gave-up':
      return 'The server did not answer for a while. Press Reconnect to try again.';
    case 'client':
      return undefined;
  }
}

/** Why the server refused a room for good (the room's `error`), in plain words. */
export function roomRefusedText(code: ClientErrorCode, room: string): string {
  switch (code) {
    case 'FORBIDDEN':
      return `Your token does not let you into the room “${room}”.`;
    case 'TOO_MANY_ROOMS':
      return `You are in as many rooms as the server allows: leave one to join “${room}”.`;
    default:
      return `The server refused the room “${room}”.`;
  }
}

/** Why a message was not sent, in plain words, by the error's code. */
export function sendErrorText(code: ClientErrorCode | undefined, to: string | undefined): string {
  switch (code) {
    case 'TOO_LARGE':
      return 'Not sent: the message is longer than the server allows. Shorten it and send again.';
    case 'RATE_LIMITED':
      return 'Not sent: you are sending too fast. Wait a moment, then send again.';
    case 'NOT_CONNECTED':
      return to
        ? `Not sent: ${to} is not online. Direct messages reach people only while they are connected.`
        : 'Not sent: you are not connected.';
    case 'TIMEOUT':
      return 'Not sent yet: the server did not answer in time. Press Send to try again (it will not be doubled).';
    case 'CONNECTION_LOST':
    case 'CLOSED':
      return 'Not sent: you are not connected. Send again once you are back online.';
    case 'FORBIDDEN':
      return 'Not sent: the server no longer knows this connection. Press Reconnect, then send again.';
    case 'BAD_REQUEST':
      return 'Not sent: the server refused this message.';
    case 'INTERNAL':
      return 'Not sent: the server had a problem. Try again in a moment.';
    default:
      return 'Not sent. Try again.';
  }
}

/** A server error that answers none of the page's calls. */
export function serverErrorText(code: string): string {
  if (code === 'RATE_LIMITED') return 'The server is asking this page to slow down.';
  if (code === 'INTERNAL') return 'The server had a problem. If something looks missing, reload the page.';
  return 'The server reported a problem.';
}

export function caughtUpText(count: number): string {
  if (count === 0) return 'Back online';
  return `Back online — ${formatCount(count)} ${count === 1 ? 'message' : 'messages'} caught up`;
}

/** The `sub` claim of a JWT (read, not verified: only the server can): the identity a pasted token gives. */
export function tokenSubject(token: string): string | undefined {
  const sub = decodeJwtPayload(token)?.sub;
  return typeof sub === 'string' ? sub : undefined;
}
