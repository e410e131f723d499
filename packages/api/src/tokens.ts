import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { ErrorCodes, type Authority, type TokenPair } from '@rivulet/api-types';
import { ErrorCode, RivuletError } from '@rivulet/core';
import { NULL_ENTITY_ID, type User } from '@rivulet/storage';
import { ApiError, authFailed } from './api-error';

export const TOKEN_ISSUER = 'rivulet';
/** ThingsBoard's scope of refresh tokens; an access token carries the user's authority instead. */
export const REFRESH_TOKEN_SCOPE = 'REFRESH_TOKEN';
/** An HS256 key shorter than this is guessable offline from any token (RFC 7518 §3.2 wants 256 bits). */
export const MIN_JWT_SECRET_LENGTH = 32;
const AUTHORITIES: ReadonlySet<string> = new Set<Authority>(['SYS_ADMIN', 'TENANT_ADMIN', 'CUSTOMER_USER']);

/** Who is calling, as read from a verified access token. */
export interface AuthUser {
  readonly userId: string;
  readonly tenantId: string;
  /** The customer of a CUSTOMER_USER; null for administrators. */
  readonly customerId: string | null;
  readonly email: string;
  readonly authority: Authority;
  /** The login session (refresh token family) the token belongs to; logout revokes it. */
  readonly sessionId: string;
}

/** The session a token pair is issued in, and the id of its refresh token (see sessions.ts). */
export interface TokenSession {
  readonly id: string;
  readonly refreshJti: string;
}

/** What a valid refresh token says; sessions.ts decides whether it is still the current one. */
export interface RefreshClaims {
  readonly userId: string;
  readonly sessionId: string;
  readonly jti: string;
}

export interface TokenService {
  /** Both tokens carry the session id (`sid`); the refresh token's jti is `session.refreshJti`. */
  issue(user: User, session: TokenSession): Promise<TokenPair>;
  /** The caller of a valid access token of a live session; 401 (errorCode 11 when expired) otherwise. */
  verifyAccess(token: string): Promise<AuthUser>;
  /** The claims of a validly signed, unexpired refresh token; 401 otherwise (rotation is checked by the caller). */
  verifyRefresh(token: string): Promise<RefreshClaims>;
}

export interface TokenServiceOptions {
  secret: string;
  tokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Whether a session was not revoked (logout, password change, refresh token reuse); checked on every access token. */
  isSessionActive: (sessionId: string) => Promise<boolean>;
}

export function createTokenService(options: TokenServiceOptions): TokenService {
  if (options.secret.length < MIN_JWT_SECRET_LENGTH) {
    throw new RivuletError(ErrorCode.INVALID_CONFIG, `jwtSecret must be at least ${MIN_JWT_SECRET_LENGTH} characters long`);
  }
  const key = new TextEncoder().encode(options.secret);

  async function verify(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, key, { issuer: TOKEN_ISSUER, algorithms: ['HS256'] });
      return payload;
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) {
        throw new ApiError(ErrorCode.UNAUTHORIZED, ErrorCodes.JWT_TOKEN_EXPIRED, 'Token has expired', { cause: e });
      }
      throw authFailed('Invalid JWT token');
    }
  }

  function sign(claims: JWTPayload, subject: string, ttlSeconds: number, jti: string = randomUUID()): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      // A unique id keeps two tokens issued in the same second distinct.
      .setJti(jti)
      .sign(key);
  }

  return {
    async issue(user, session) {
      const token = await sign(
        {
          userId: user.id,
          tenantId: user.tenantId,
          // ThingsBoard's claim: the null id for users without a customer.
          customerId: user.customerId ?? NULL_ENTITY_ID,
          scopes: [user.authority],
          firstName: user.firstName,
          lastName: user.lastName,
          enabled: true,
          isPublic: false,
          sid: session.id,
        },
        user.email,
        options.tokenTtlSeconds,
      );
      const refreshToken = await sign(
        { userId: user.id, scopes: [REFRESH_TOKEN_SCOPE], isPublic: false, sid: session.id },
        user.email,
        options.refreshTokenTtlSeconds,
        session.refreshJti,
      );
      return { token, refreshToken };
    },

    async verifyAccess(token) {
      const p = await verify(token);
      const scopes = Array.isArray(p.scopes) ? p.scopes : [];
      if (scopes.includes(REFRESH_TOKEN_SCOPE)) throw authFailed('A refresh token cannot be used as an access token');
      const authority = scopes.find((s): s is Authority => typeof s === 'string' && AUTHORITIES.has(s));
      if (authority === undefined || typeof p.userId !== 'string' || typeof p.tenantId !== 'string' || typeof p.sub !== 'string' || typeof p.sid !== 'string') {
        throw authFailed('Invalid JWT token');
      }
      if (!(await options.isSessionActive(p.sid))) throw authFailed('The session of this token has ended (logout or password change): log in again');
      const customerId = typeof p.customerId === 'string' && p.customerId !== NULL_ENTITY_ID ? p.customerId : null;
      return { userId: p.userId, tenantId: p.tenantId, customerId, email: p.sub, authority, sessionId: p.sid };
    },

    async verifyRefresh(token) {
      const p = await verify(token);
      const scopes = Array.isArray(p.scopes) ? p.scopes : [];
      if (!scopes.includes(REFRESH_TOKEN_SCOPE) || typeof p.userId !== 'string' || typeof p.sid !== 'string' || typeof p.jti !== 'string') {
        throw authFailed('Invalid refresh token');
      }
      return { userId: p.userId, sessionId: p.sid, jti: p.jti };
    },
  };
}
