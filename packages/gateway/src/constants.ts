/**
 * Every number and default of the gateway, each under one name: API Gateway's WebSocket quotas (SPEC.md §7.1 gives
 * the AWS source of each), the emulator's own limits, the options' defaults and the WebSocket close codes. The
 * options, the command's usage text and the code all refer to these.
 */

// API Gateway's WebSocket quotas (SPEC.md §7.1) -------------------------------------------------------------

/**
 * 128 KB: the longest message a client may send (longer closes with 1009), and the longest `PostToConnection`
 * `Data` (longer gets 413): one AWS quota, the message payload size.
 */
export const MAX_MESSAGE_BYTES = 131_072;

/**
 * 32 KB: the longest frame in either direction. A longer client frame closes with 1009; longer messages to the
 * client are cut into frames of this size.
 */
export const MAX_FRAME_BYTES = 32_768;

/** 10 minutes without a data frame in either direction, then close 1001. */
export const IDLE_TIMEOUT_MS = 600_000;

/** 2 hours: no connection lives longer, however busy. */
export const MAX_CONNECTION_MS = 7_200_000;

/** 29 seconds: an integration (handler or authorizer) still running after this has failed. */
export const INTEGRATION_TIMEOUT_MS = 29_000;

/** 8 KB: the longest authorizer result, as JSON. */
export const MAX_AUTHORIZER_RESULT_BYTES = 8_192;

/**
 * The account-level throttle per Region, shared by every API of the account and the @connections API: 10 000
 * requests per second, with a bucket of 5 000 (SPEC.md §7.7). Not enforced: the emulator is one API, not an
 * account. The command's usage text cites it, as the ceiling of realistic `--throttle-rate`/`--throttle-burst`.
 */
export const ACCOUNT_THROTTLE_RATE_LIMIT = 10_000;
export const ACCOUNT_THROTTLE_BURST_LIMIT = 5_000;

// Lambda's asynchronous invocation (SPEC.md §8.6) ------------------------------------------------------------

/**
 * The most retries of a failed asynchronous invocation (`MaximumRetryAttempts`: 0 to 2, default 2): three attempts
 * in all.
 */
export const ASYNC_MAX_RETRY_ATTEMPTS = 2;

/** Lambda's waits before the first and the second retry of a function error: one minute, then two. */
export const ASYNC_RETRY_DELAYS_MS: readonly number[] = [60_000, 120_000];

/** `MaximumEventAgeInSeconds`: default and maximum 6 hours (AWS's minimum is 60; smaller ages are allowed here). */
export const ASYNC_MAX_EVENT_AGE_SECONDS = 21_600;

/**
 * 1 MB: the longest payload of an `Event` invocation (it was 256 KB before); longer gets 413
 * `RequestEntityTooLargeException`. Counted as 1 MiB of JSON bytes: AWS does not say which megabyte.
 */
export const ASYNC_MAX_PAYLOAD_BYTES = 1_048_576;

// Lambda's synchronous invocation (`InvocationType: 'RequestResponse'`, SPEC.md §8.8) --------------------------

/**
 * 6 MB: the longest request payload of a `RequestResponse` invocation; longer gets 413
 * `RequestEntityTooLargeException`. Counted as 6 MiB of JSON bytes: the limit Lambda's own 413 message names.
 */
export const SYNC_MAX_REQUEST_BYTES = 6_291_456;

/**
 * The longest result a `RequestResponse` invocation returns; longer is a function error,
 * `Function.ResponseSizeTooLarge`. AWS documents 6 MB; its error message names 6 291 556 bytes (6 MiB and 100),
 * which is the limit applied here.
 */
export const SYNC_MAX_RESPONSE_BYTES = 6_291_556;

/**
 * `RequestResponse` invocations running at once, all functions together, before more are refused with 429
 * `TooManyRequestsException` (Lambda's answer when no concurrency is left): the emulator's own bound, so callers
 * cannot hold an unbounded number of 6 MB payloads in the process. AWS's bound is the account's concurrency.
 */
export const SYNC_MAX_CONCURRENCY = 64;

/** Lambda's default function timeout, 3 seconds… */
export const LAMBDA_DEFAULT_TIMEOUT_MS = 3_000;
/** …and its maximum, 15 minutes. */
export const LAMBDA_MAX_TIMEOUT_MS = 900_000;

/**
 * Asynchronous invocations running at once, for all functions together: the emulator's own bound (AWS's is the
 * account's concurrency, 1,000 by default). More events wait in the queue.
 */
export const ASYNC_MAX_CONCURRENCY = 32;

/**
 * Events waiting (queued for a free slot, or for a retry) before `invoke` refuses more with 429
 * `TooManyRequestsException`: the emulator's own bound, so a runaway caller cannot fill the process's memory.
 * AWS documents no limit on its queue.
 */
export const ASYNC_MAX_QUEUED_EVENTS = 1_000;

// The emulator's own limits ---------------------------------------------------------------------------------

/**
 * 1 MiB waiting to be sent to a slow client: then `PostToConnection` gets 429 and the gateway's own frames (error
 * frames, two-way route responses) are dropped (AWS publishes no threshold).
 */
export const SEND_BUFFER_LIMIT_BYTES = 1_048_576;

/**
 * Invocations one connection may have running before the gateway stops reading its socket (and reads again at
 * half): the emulator's own bound, so one client's flood of frames becomes TCP backpressure instead of tens of
 * thousands of invocations in one process. AWS documents no such limit; its account-wide throttles apply there.
 */
export const MAX_INVOCATIONS_PER_CONNECTION = 128;

/** How long a closing handshake waits for the client's close frame before the socket is destroyed. */
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 3_000;

/** Node timers cannot wait longer than 2^31-1 ms, so no timer option may be longer. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

// Signatures on the management API (SPEC.md §5.7) and Lambda's Invoke API (SPEC.md §8.9) -------------------

/** The service in the credential scope of every @connections request. */
export const MANAGEMENT_SIGNING_SERVICE = 'execute-api';

/** The service in the credential scope of every request to Lambda's Invoke API over HTTP (SPEC.md §8.9). */
export const LAMBDA_SIGNING_SERVICE = 'lambda';

/** How far `X-Amz-Date` may be from the gateway's clock, either way: AWS's 5 minutes. */
export const MAX_SIGNATURE_SKEW_MS = 300_000;

// Failure logs (SPEC.md §8.5): what one client can make the gateway log --------------------------------------

/** After the first failure of each kind, this many log lines per second per gateway at most… */
export const FAILURE_LOG_LINES_PER_SECOND = 5;
/** …with bursts of this many. */
export const FAILURE_LOG_BURST = 10;
/** How often `n more failures suppressed` is logged while failures are being suppressed. */
export const FAILURE_LOG_SUMMARY_INTERVAL_MS = 10_000;
/** Kinds (what failed + the error message) remembered as seen; once full, new kinds are only rate-limited. */
export const FAILURE_LOG_MAX_KINDS = 100;
/** Kinds are told apart by the first this many characters of the error message. */
export const FAILURE_KIND_CHARS = 256;
/** Longest stack or error message a failure log line carries; the rest is cut. */
export const MAX_LOGGED_ERROR_CHARS = 4_096;

// Defaults of the options and the command -------------------------------------------------------------------

export const DEFAULT_STAGE = 'dev';
export const DEFAULT_ROUTE_SELECTION_EXPRESSION = '$request.body.action';
export const DEFAULT_REGION = 'us-east-1';
/** A dummy account: it only appears in ARNs (the authorizer's `methodArn`, the Lambda context's function ARN). */
export const DEFAULT_ACCOUNT_ID = '000000000000';
/** Where `listen()` and the command listen: loopback, since the gateway is a development tool, not a server. */
export const DEFAULT_HOST = '127.0.0.1';
/** The command's port; `listen()` picks a free port by default. */
export const DEFAULT_CLI_PORT = 8080;
/**
 * The key pair the command gives handlers when the environment configures none (SPEC.md §8.3), and so the one it
 * verifies management requests against. The session token is sent but not checked.
 */
export const LOCAL_CREDENTIALS = {
  accessKeyId: 'ASIALOCALGATEWAY0000',
  secretAccessKey: 'local-gateway-dummy-secret',
  sessionToken: 'local-gateway-dummy-session-token',
} as const;

// WebSocket close codes (RFC 6455 §7.4.1) and the gateway's close reason ------------------------------------

export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_UNSUPPORTED_DATA = 1003;
export const CLOSE_NO_STATUS = 1005;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_INVALID_PAYLOAD = 1007;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_MESSAGE_TOO_BIG = 1009;

/** The reason of the gateway's 1001 close frame, and the `disconnectReason` AWS reports for 1001 (SPEC.md §4.3). */
export const GOING_AWAY_REASON = 'Going away';
