/**
 * The HS256 secret `npm start` and `npm run token` use when JWT_SECRET is unset. It is public (it is in this
 * file), so a server using it must never face the internet.
 */
export const DEV_JWT_SECRET = 'roomcast-local-development-secret-do-not-deploy';
