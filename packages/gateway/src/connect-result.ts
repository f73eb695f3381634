import type { InvocationOutcome } from './invoke.js';

export type ConnectDecision =
  | { accept: true; protocol: string | undefined }
  | { accept: false; status: number };

/**
 * What the `$connect` outcome means for the handshake (SPEC.md §3.3): 2xx accepts, another status refuses the
 * handshake with that status, a throw, a timeout or an unusable status gives 502. A result without `statusCode`
 * (undefined, a string, an object without it) is taken as 200; what AWS does there is unverified.
 */
export function decideConnect(outcome: InvocationOutcome): ConnectDecision {
  if (!outcome.ok) return { accept: false, status: 502 };
  const result = outcome.result;
  if (typeof result !== 'object' || result === null) return { accept: true, protocol: undefined };
  const { statusCode, headers } = result as { statusCode?: unknown; headers?: unknown };
  const protocol = chosenSubprotocol(headers);
  if (statusCode === undefined || statusCode === null) return { accept: true, protocol };
  const status = Number(statusCode);
  if (!Number.isInteger(status) || status < 200 || status > 599) return { accept: false, status: 502 };
  return status < 300 ? { accept: true, protocol } : { accept: false, status };
}

/** The subprotocol the handler picked: only it is echoed in the 101, never one the client merely offered. */
function chosenSubprotocol(headers: unknown): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (
      name.toLowerCase() === 'sec-websocket-protocol' &&
      value !== undefined &&
      value !== null &&
      value !== ''
    ) {
      return String(value);
    }
  }
  return undefined;
}
