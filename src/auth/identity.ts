/** Who a verified connect token says the caller is. Nothing else in roomcast decides identity. */
export interface Identity {
  userId: string;
  /** Rooms the token may join; undefined means any room. */
  rooms?: string[];
}

export type AuthFailure = 'missing' | 'invalid' | 'expired';

export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    readonly reason: AuthFailure,
    detail: string,
  ) {
    super(detail);
  }
}
