/** Messages between the bench (parent, load driver) and a server child process. */

export type ServerKind = 'roomcast' | 'ws' | 'socketio' | 'textbook';

export const SERVER_KINDS: readonly ServerKind[] = ['roomcast', 'ws', 'socketio', 'textbook'];

/** What a child serves: where clients connect and, for the DynamoDB-backed ones, how to sign tokens. */
export interface ReadyInfo {
  /** `ws://…` for WebSocket servers, `http://…` for Socket.IO. */
  url: string;
  /** roomcast only: the HS256 secret its `$connect` verifies. */
  jwtSecret?: string;
}

/** Operation counters of the AWS SDK clients in the child (see sdk-meter.ts). */
export interface SdkCounters {
  /** DynamoDB operations by name, e.g. `GetCommand`. */
  operations: Record<string, number>;
  /** Read capacity units as DynamoDB bills them (from ConsumedCapacity). */
  rru: number;
  /** Write capacity units, including GSI write amplification computed by DynamoDB's rules. */
  wru: number;
  /** Failed conditional writes (billed 1 WRU each, included in `wru`). */
  conditionalFailures: number;
  /** PostToConnection calls made, and their 32 KB billing units. */
  posts: number;
  /** Attempts beyond the first, made by the SDK's retry strategy. */
  postRetries: number;
  postUnits: number;
  postBytes: number;
  postErrors: Record<string, number>;
  /** Lambda Invoke calls (the fan-out tier's hand-offs, and a worker's hand-on of failed posts). */
  invokes: number;
}

/** The local stack's asynchronous Lambda invocations (the fan-out workers), counted since the start. */
export interface AsyncInvocationCounters {
  /** Invocations accepted (202). */
  accepted: number;
  /** Refused because the emulator's queue was full (429). */
  refused: number;
  /** Attempts started, retries by Lambda included. */
  attempts: number;
  succeeded: number;
  /** Retries Lambda scheduled after a failed attempt (a thrown error or a timeout). */
  retries: number;
  /** Events given up on (retries exhausted, too old). */
  givenUp: number;
}

export interface ServerStats {
  /** process.cpuUsage() of the child, microseconds. */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** process.hrtime in microseconds: the clock of V8 CPU profiles, to cut a window out of one. */
  hrtimeUs: number;
  rssBytes: number;
  /** Connections the server still knows: DynamoDB registry items (roomcast, textbook) or sockets (ws, Socket.IO). */
  registry: number;
  sdk?: SdkCounters;
  /** roomcast: its fan-out workers' invocations. */
  lambda?: AsyncInvocationCounters;
}

export type ParentMessage = { type: 'stats'; id: number } | { type: 'stop' };

export type ChildMessage =
  | { type: 'ready'; info: ReadyInfo }
  | { type: 'stats'; id: number; stats: ServerStats }
  | { type: 'failed'; message: string };
