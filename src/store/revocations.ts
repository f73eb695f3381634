import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetItems, revocationsTable } from './tables.ts';

/**
 * Revoked users and tokens, which `$connect` checks with every token it verifies. A user's revocation refuses
 * every token issued (`iat`) before its time; a token's refuses that token (`jti`) whatever its time. An item is
 * kept as long as a token may live (TOKEN_MAX_LIFETIME_SECONDS, which `$connect` holds every token to): once it
 * expires, no token it refused can still be valid.
 */

const SUBJECT = revocationsTable.hashKey;
const TTL = revocationsTable.ttlAttribute;

export interface RevocationStoreOptions {
  tableName: string;
  /** How long an item is kept past its time: the longest a token may live. */
  keepSeconds: number;
  now?: () => number;
}

/** Why a token is refused: its user was revoked after it was issued, or the token itself was. */
export type Revoked = 'user' | 'token';

export interface TokenFacts {
  userId: string;
  /** `iat`, seconds since the epoch. */
  issuedAt: number;
  /** `jti`, when the token has one. */
  tokenId?: string;
}

export class RevocationStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #keepSeconds: number;
  readonly #now: () => number;

  constructor(doc: DynamoDBDocumentClient, options: RevocationStoreOptions) {
    this.#doc = doc;
    this.#tableName = options.tableName;
    this.#keepSeconds = options.keepSeconds;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Refuses the user's tokens issued before `beforeMs`. `iat` has whole seconds, so a token issued in the
   * second of the revocation is refused too (never one issued before it let through). A revocation with a later
   * time already stored stays: revoking never lets an older token back in. Returns the `iat` from which tokens
   * are accepted again: the revocation in effect, which is that later one when there is one.
   */
  async revokeUser(userId: string, beforeMs: number): Promise<{ acceptsIssuedFrom: number }> {
    const acceptsIssuedFrom = Math.floor(beforeMs / 1000) + 1;
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            [SUBJECT]: userSubject(userId),
            accepts_issued_from: acceptsIssuedFrom,
            revoked_at: new Date(this.#now()).toISOString(),
            [TTL]: acceptsIssuedFrom + this.#keepSeconds,
          },
          ConditionExpression: 'attribute_not_exists(#subject) OR accepts_issued_from < :from',
          ExpressionAttributeNames: { '#subject': SUBJECT },
          ExpressionAttributeValues: { ':from': acceptsIssuedFrom },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const { Item } = await this.#doc.send(
        new GetCommand({
          TableName: this.#tableName,
          Key: { [SUBJECT]: userSubject(userId) },
          ConsistentRead: true,
          ProjectionExpression: 'accepts_issued_from',
        }),
      );
      const stored = Item?.accepts_issued_from;
      // Gone meanwhile (its TTL passed): this one is in effect from now on, as far as anyone can tell.
      if (typeof stored === 'number') return { acceptsIssuedFrom: stored };
    }
    return { acceptsIssuedFrom };
  }

  /** Refuses one token, by its `jti`, for as long as a token may live from now. */
  async revokeToken(tokenId: string): Promise<void> {
    const nowSeconds = Math.floor(this.#now() / 1000);
    await this.#doc.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          [SUBJECT]: tokenSubject(tokenId),
          revoked_at: new Date(this.#now()).toISOString(),
          [TTL]: nowSeconds + this.#keepSeconds,
        },
      }),
    );
  }

  /**
   * Whether a verified token is revoked: one strongly consistent BatchGetItem of its user's item and its
   * token's, so a revocation written before it is always seen.
   */
  async check(token: TokenFacts): Promise<Revoked | undefined> {
    const keys = [
      { [SUBJECT]: userSubject(token.userId) },
      ...(token.tokenId === undefined ? [] : [{ [SUBJECT]: tokenSubject(token.tokenId) }]),
    ];
    const items = await batchGetItems(this.#doc, this.#tableName, keys, {
      consistent: true,
      what: 'revocations',
    });
    const nowSeconds = Math.floor(this.#now() / 1000);
    // TTL deletion lags: an item past its ttl refuses nothing.
    const live = items.filter((item) => typeof item[TTL] !== 'number' || (item[TTL] as number) > nowSeconds);
    const tokenKey = token.tokenId === undefined ? undefined : tokenSubject(token.tokenId);
    if (tokenKey && live.some((item) => item[SUBJECT] === tokenKey)) return 'token';
    const user = live.find((item) => item[SUBJECT] === userSubject(token.userId));
    if (user && token.issuedAt < (user.accepts_issued_from as number)) return 'user';
    return undefined;
  }
}

function userSubject(userId: string): string {
  return `user#${userId}`;
}

function tokenSubject(tokenId: string): string {
  return `jti#${tokenId}`;
}
