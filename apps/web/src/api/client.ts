import type { ErrorResponse, TokenPair } from '@rivulet/api-types';

/**
 * The REST client: JSON in and out, the access token on every call, one refresh (shared by every
 * call waiting on it) when the server answers 401, and a "session ended" signal when the refresh
 * fails, which sends the app back to sign-in with the page remembered.
 */

const TOKEN_KEY = 'rivulet.token';
const REFRESH_KEY = 'rivulet.refreshToken';

/** An answer other than 2xx, in ThingsBoard's error shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errorCode: number | undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Listener = () => void;
const sessionEndedListeners = new Set<Listener>();
/** Called when the session can no longer be refreshed (expired, revoked, signed out elsewhere). */
export function onSessionEnded(l: Listener): () => void {
  sessionEndedListeners.add(l);
  return () => sessionEndedListeners.delete(l);
}

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}
export function hasSession(): boolean {
  return getToken() !== null;
}
export function storeTokens(pair: TokenPair): void {
  localStorage.setItem(TOKEN_KEY, pair.token);
  localStorage.setItem(REFRESH_KEY, pair.refreshToken);
}
export function clearTokens(): void {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(REFRESH_KEY);
}

/** Seconds since the epoch at which the access token expires (its `exp` claim), or 0. */
function tokenExpiry(token: string): number {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: number };
    return payload.exp ?? 0;
  } catch {
    return 0;
  }
}

let refreshing: Promise<boolean> | null = null;

/** Trades the refresh token for a new pair; one at a time, shared by every caller. */
export function refreshTokens(): Promise<boolean> {
  refreshing ??= (async () => {
    const refreshToken = localStorage.getItem(REFRESH_KEY);
    if (!refreshToken) return false;
    try {
      const res = await fetch('/api/auth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken }),
      });
      if (!res.ok) return false;
      storeTokens((await res.json()) as TokenPair);
      return true;
    } catch {
      return false;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function endSession(): void {
  if (!hasSession()) return;
  clearTokens();
  for (const l of sessionEndedListeners) l();
}

/** A token that is valid for at least 30 s more (refreshed first when needed), or null. */
export async function freshToken(): Promise<string | null> {
  const token = getToken();
  if (!token) return null;
  if (tokenExpiry(token) * 1000 - Date.now() > 30_000) return token;
  if (await refreshTokens()) return getToken();
  endSession();
  return null;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  signal?: AbortSignal;
}

function buildUrl(path: string, query: RequestOptions['query']): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

async function send(path: string, opts: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = {};
  const token = getToken();
  if (token) headers['x-authorization'] = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  return fetch(buildUrl(path, opts.query), {
    method: opts.method ?? 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
  });
}

async function toError(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const e = JSON.parse(text) as Partial<ErrorResponse>;
    if (typeof e.message === 'string') return new ApiError(res.status, e.message, e.errorCode);
  } catch {
    /* not JSON: fall through */
  }
  return new ApiError(res.status, text.trim() || `${res.status} ${res.statusText}`, undefined);
}

/** Calls the REST API; resolves with the parsed JSON body (undefined for an empty one). */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  let res = await send(path, opts);
  if (res.status === 401 && hasSession() && !path.startsWith('/api/auth/login')) {
    if (await refreshTokens()) res = await send(path, opts);
    else {
      endSession();
      throw await toError(res);
    }
    if (res.status === 401) endSession();
  }
  if (!res.ok) throw await toError(res);
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A message for a notification from anything thrown. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
