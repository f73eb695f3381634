/**
 * SigV4 on the @connections API (SPEC.md §5.7) and on Lambda's Invoke API over HTTP (SPEC.md §8.9): AWS serves them
 * only to requests signed by an IAM principal, and so does the gateway when `managementAuth` names key pairs. The
 * signature is recomputed with `@smithy/signature-v4`, the signer of the AWS SDK itself, from the request as it
 * arrived, and compared in constant time. Only the `Authorization` header form is accepted: a presigned URL (the
 * signature in the query string) counts as unsigned.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Hash, QueryParameterBag, SourceData } from '@smithy/types';
import { MAX_SIGNATURE_SKEW_MS } from './constants.js';
import type { GatewayClock } from './options.js';

/** A request as it reached the listener. */
export interface ReceivedRequest {
  method: string;
  /** The request target as sent: the percent-encoded path and the query string, if any. */
  url: string;
  /** Lowercase names, every value of each (Node's `req.headersDistinct`). */
  headers: Readonly<Record<string, readonly string[] | undefined>>;
  /** Hex SHA-256 of the whole body. */
  bodySha256: string;
}

/** Why AWS would refuse the request; the status is always 403. */
interface AuthRefusal {
  errorType: string;
  message: string;
}

/** Resolves `undefined` when the request is signed by a known key pair, else the refusal. */
export type SignatureVerifier = (request: ReceivedRequest) => Promise<AuthRefusal | undefined>;

interface VerifierSettings {
  /** Access key id → secret access key. */
  credentials: ReadonlyMap<string, string>;
  region: string;
  clock: GatewayClock;
  /** The service the credential scope must name: `execute-api` for @connections, `lambda` for Invoke. */
  service: string;
  /**
   * What the service answers an access key it does not know: API Gateway `AccessDeniedException`, Lambda (as most
   * services) `UnrecognizedClientException`, both with the same message.
   */
  unknownKeyErrorType: 'AccessDeniedException' | 'UnrecognizedClientException';
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SCOPE_TERMINATOR = 'aws4_request';
/** `X-Amz-Date`: ISO 8601 basic format, whole seconds, UTC. */
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const CONTENT_SHA256 = 'x-amz-content-sha256';

// The refusals, as AWS words them (SPEC.md §5.7 gives the source of each).
const refuse = (errorType: string, message: string): AuthRefusal => ({ errorType, message });
const MISSING_TOKEN = refuse('MissingAuthenticationTokenException', 'Missing Authentication Token');
const UNKNOWN_KEY_MESSAGE = 'The security token included in the request is invalid.';
const WRONG_SIGNATURE = refuse(
  'InvalidSignatureException',
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access ' +
    'Key and signing method. Consult the service documentation for details.',
);
const incomplete = (message: string) => refuse('IncompleteSignatureException', message);
const invalid = (message: string) => refuse('InvalidSignatureException', message);

export function createSignatureVerifier({
  credentials,
  region,
  clock,
  service,
  unknownKeyErrorType,
}: VerifierSettings): SignatureVerifier {
  const unknownKey = refuse(unknownKeyErrorType, UNKNOWN_KEY_MESSAGE);
  // One signer per key pair; the library caches the derived signing key per (secret, date, region, service).
  const signers = new Map<string, SignatureV4>();
  for (const [accessKeyId, secretAccessKey] of credentials) {
    signers.set(
      accessKeyId,
      new SignatureV4({
        credentials: { accessKeyId, secretAccessKey },
        region,
        service,
        sha256: NodeSha256,
        // The payload hash is given as a header (below), never added to what the client signed.
        applyChecksum: false,
      }),
    );
  }

  return async (request) => {
    const authorization = single(request.headers.authorization);
    if (!authorization) return MISSING_TOKEN;
    const parsed = parseAuthorization(authorization, single(request.headers['x-amz-date']));
    if ('errorType' in parsed) return parsed;
    const { credential, signedHeaders, signature, amzDate } = parsed;

    const signer = signers.get(credential.accessKeyId);
    if (!signer) return unknownKey;
    const signedAt = parseAmzDate(amzDate);
    if (signedAt === undefined) {
      return incomplete(`Date must be in ISO-8601 'basic format'. Got '${amzDate}'.`);
    }
    if (credential.date !== amzDate.slice(0, 8)) {
      return invalid(
        'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: ' +
          `'${credential.date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
      );
    }
    if (credential.region !== region) {
      return invalid(`Credential should be scoped to a valid region, not '${credential.region}'. `);
    }
    if (credential.service !== service) {
      return invalid(`Credential should be scoped to correct service: '${service}'. `);
    }
    const skew = checkSkew(amzDate, signedAt, clock.now());
    if (skew) return skew;
    if (!signedHeaders.includes('host')) {
      return incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    }

    // The payload hash goes in as `x-amz-content-sha256`, which the signer uses instead of hashing a body: the
    // client's own value when it signed one (and only if it is the body's), else ours, left out of the signature.
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) {
      const values = request.headers[name];
      if (values !== undefined) headers[name] = values.map((value) => value.trim()).join(',');
    }
    const contentSha256Signed = headers[CONTENT_SHA256] !== undefined;
    if (contentSha256Signed && headers[CONTENT_SHA256] !== request.bodySha256) return WRONG_SIGNATURE;
    headers[CONTENT_SHA256] = request.bodySha256;

    const { path, query } = splitTarget(request.url);
    const recomputed = await signer.sign(
      { method: request.method, protocol: 'http:', hostname: headers.host ?? '', path, query, headers },
      {
        signingDate: new Date(signedAt),
        signableHeaders: new Set(signedHeaders),
        ...(!contentSha256Signed && { unsignableHeaders: new Set([CONTENT_SHA256]) }),
      },
    );
    const expected = /Signature=([0-9a-f]+)$/.exec(String(recomputed.headers.authorization))?.[1] ?? '';
    return sameText(expected, signature) ? undefined : WRONG_SIGNATURE;
  };
}

// The Authorization header ----------------------------------------------------------------------------------

interface ParsedAuthorization {
  credential: { accessKeyId: string; date: string; region: string; service: string };
  signedHeaders: string[];
  signature: string;
  amzDate: string;
}

/** `AWS4-HMAC-SHA256 Credential=…/date/region/service/aws4_request, SignedHeaders=a;b, Signature=hex`. */
function parseAuthorization(
  authorization: string,
  amzDate: string | undefined,
): ParsedAuthorization | AuthRefusal {
  const space = authorization.indexOf(' ');
  const algorithm = space === -1 ? authorization : authorization.slice(0, space);
  const params = new Map<string, string>();
  if (space !== -1) {
    for (const part of authorization.slice(space + 1).split(',')) {
      const pair = part.trim();
      if (pair === '') continue;
      const equals = pair.indexOf('=');
      if (equals === -1) {
        return incomplete(
          `'${pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '${authorization}'.`,
        );
      }
      params.set(pair.slice(0, equals), pair.slice(equals + 1));
    }
  }
  const credential = params.get('Credential');
  const signedHeaders = params.get('SignedHeaders');
  const signature = params.get('Signature');
  const missing = [
    credential === undefined && "Authorization header requires 'Credential' parameter.",
    signature === undefined && "Authorization header requires 'Signature' parameter.",
    signedHeaders === undefined && "Authorization header requires 'SignedHeaders' parameter.",
    // Date-only signing (no X-Amz-Date) is not supported here; every AWS SDK sends X-Amz-Date.
    !amzDate && "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
  ].filter((text) => text !== false);
  if (credential === undefined || signedHeaders === undefined || signature === undefined || !amzDate) {
    return incomplete(`${missing.join(' ')} Authorization=${authorization}`);
  }
  if (algorithm !== ALGORITHM) return incomplete(`Unsupported AWS 'algorithm': '${algorithm}'.`);
  const scope = credential.split('/');
  const [accessKeyId, date, region, service, terminator] = scope;
  if (
    scope.length !== 5 ||
    accessKeyId === undefined ||
    date === undefined ||
    region === undefined ||
    service === undefined
  ) {
    return incomplete(
      'Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, ' +
        `got '${credential}'`,
    );
  }
  if (terminator !== SCOPE_TERMINATOR) {
    return invalid(
      `Credential should be scoped with a valid terminator: '${SCOPE_TERMINATOR}', not '${terminator}'.`,
    );
  }
  return {
    credential: { accessKeyId, date, region, service },
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate,
  };
}

function parseAmzDate(amzDate: string): number | undefined {
  const match = AMZ_DATE.exec(amzDate);
  if (!match) return undefined;
  const [, year, month, day, hours, minutes, seconds] = match.map(Number) as number[];
  const time = Date.UTC(year ?? 0, (month ?? 1) - 1, day, hours, minutes, seconds);
  // Date.UTC rolls 20240230 over into March; a real date formats back to itself.
  return formatAmzDate(time) === amzDate ? time : undefined;
}

/** AWS's skew messages name the signing time, the edge of the window, and the server's time. */
function checkSkew(amzDate: string, signedAt: number, now: number): AuthRefusal | undefined {
  const minutes = MAX_SIGNATURE_SKEW_MS / 60_000;
  if (signedAt < now - MAX_SIGNATURE_SKEW_MS) {
    const edge = formatAmzDate(now - MAX_SIGNATURE_SKEW_MS);
    return invalid(
      `Signature expired: ${amzDate} is now earlier than ${edge} (${formatAmzDate(now)} - ${minutes} min.)`,
    );
  }
  if (signedAt > now + MAX_SIGNATURE_SKEW_MS) {
    const edge = formatAmzDate(now + MAX_SIGNATURE_SKEW_MS);
    return invalid(
      `Signature not yet current: ${amzDate} is still later than ${edge} (${formatAmzDate(now)} + ${minutes} min.)`,
    );
  }
  return undefined;
}

function formatAmzDate(time: number): string {
  return new Date(time).toISOString().replace(/[-:]|\.\d{3}/g, '');
}

// The request -----------------------------------------------------------------------------------------------

/** The path as sent (the signer escapes it again, as the client's did) and the decoded query parameters. */
function splitTarget(url: string): { path: string; query: QueryParameterBag } {
  const question = url.indexOf('?');
  if (question === -1) return { path: url, query: {} };
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(url.slice(question + 1))) {
    const previous = query[name];
    if (previous === undefined) query[name] = value;
    else query[name] = Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return { path: url.slice(0, question), query };
}

function single(values: readonly string[] | undefined): string | undefined {
  return values?.[values.length - 1];
}

/** Compares in constant time for equal lengths; signatures of another length are simply wrong. */
function sameText(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length > 0 && a.length === b.length && timingSafeEqual(a, b);
}

/** SHA-256, or HMAC-SHA-256 when given a secret, on node:crypto: the hash `SignatureV4` needs. */
class NodeSha256 implements Hash {
  readonly #hash: { update(data: string | Uint8Array): unknown; digest(): Buffer };

  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }

  update(data: SourceData): void {
    this.#hash.update(bytesOf(data));
  }

  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

function bytesOf(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** A request body, read up to a limit. */
export interface BoundedBody {
  /** The whole body; undefined when it is longer than the limit. */
  data: Buffer | undefined;
  /** Its length in bytes. */
  size: number;
  /** Hex SHA-256 of the whole body, when it was asked for: what a signature covers. */
  sha256?: string;
}

/**
 * Reads a body to its end, keeping at most `limit` bytes: the rest is consumed and dropped so the sender is not cut
 * off, but still hashed when `hash` is set, since a signature covers the whole body, whatever its size.
 */
export async function readBoundedBody(
  stream: AsyncIterable<Uint8Array | string>,
  limit: number,
  hash = false,
): Promise<BoundedBody> {
  const hasher = hash ? bodyHasher() : undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    size += bytes.length;
    hasher?.update(bytes);
    if (size <= limit) chunks.push(bytes);
  }
  return {
    data: size <= limit ? Buffer.concat(chunks) : undefined,
    size,
    ...(hasher && { sha256: hasher.hex() }),
  };
}

/** Hex SHA-256 of a body read in chunks: the payload hash a signature covers. */
function bodyHasher(): { update(chunk: Uint8Array): void; hex(): string } {
  const hash = createHash('sha256');
  return {
    update: (chunk) => void hash.update(chunk),
    hex: () => hash.digest('hex'),
  };
}
