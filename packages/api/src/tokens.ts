import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { ErrorCodes, type Authority, type TokenPair } from '@rivulet/api-types';
import { ErrorCode, RivuletError } from '@rivulet/core';
import { NULL_ENTITY_ID, type User } from '@rivulet/storage';
import { ApiError, authFailed } from './api-error';

export const TOKEN_ISSUER = 'rivulet';
/** ThingsBoard's scope of refresh tokens; an access token carries the user's authority instead. */
export const REFRESH_TOKEN_SCOPE = 'REFRESH_TOKEN';
const AUTHORITIES: ReadonlySet<string> = new Set<Authority>(['SYS_ADMIN', 'TENANT_ADMIN', 'CUSTOMER_USER']);

/** Who is calling, as read from a verified access token. */
export interface AuthUser {
  readonly userId: string;
  readonly tenantId: string;
  /** The customer of a CUSTOMER_USER; null for administrators. */
  readonly customerId: string | null;
  readonly email: string;
  readonly authority: Authority;
}

export interface TokenService {
  issue(user: User): Promise<TokenPair>;
  /** The caller of a valid access token; 401 (errorCode 11 when expired) otherwise. */
  verifyAccess(token: string): Promise<AuthUser>;
  /** The user id of a valid refresh token; 401 otherwise. */
  verifyRefresh(token: string): Promise<string>;
}

export interface TokenServiceOptions {
  secret: string;
  tokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

export function createTokenService(options: TokenServiceOptions): TokenService {
  if (options.secret.length === 0) throw new RivuletError(ErrorCode.INVALID_CONFIG, 'jwtSecret must not be empty');
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

  function sign(claims: JWTPayload, subject: string, ttlSeconds: number): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      // A unique id keeps two tokens issued in the same second distinct.
      .setJti(randomUUID())
      .sign(key);
  }

  return {
    async issue(user) {
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
        },
        user.email,
        options.tokenTtlSeconds,
      );
      const refreshToken = await sign({ userId: user.id, scopes: [REFRESH_TOKEN_SCOPE], isPublic: false }, user.email, options.refreshTokenTtlSeconds);
      return { token, refreshToken };
    },

    async verifyAccess(token) {
      const p = await verify(token);
      const scopes = Array.isArray(p.scopes) ? p.scopes : [];
      if (scopes.includes(REFRESH_TOKEN_SCOPE)) throw authFailed('A refresh token cannot be used as an access token');
      const authority = scopes.find((s): s is Authority => typeof s === 'string' && AUTHORITIES.has(s));
      if (authority === undefined || typeof p.userId !== 'string' || typeof p.tenantId !== 'string' || typeof p.sub !== 'string') {
        throw authFailed('Invalid JWT token');
      }
      const customerId = typeof p.customerId === 'string' && p.customerId !== NULL_ENTITY_ID ? p.customerId : null;
      return { userId: p.userId, tenantId: p.tenantId, customerId, email: p.sub, authority };
    },

    async verifyRefresh(token) {
      const p = await verify(token);
      const scopes = Array.isArray(p.scopes) ? p.scopes : [];
      if (!scopes.includes(REFRESH_TOKEN_SCOPE) || typeof p.userId !== 'string') throw authFailed('Invalid refresh token');
      return p.userId;
    },
  };
}
