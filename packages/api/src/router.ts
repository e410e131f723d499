import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { badParam } from './api-error';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** What a handler answers: a status and a JSON body (none: an empty body). */
export interface Reply {
  readonly status: number;
  readonly body?: unknown;
}

export function ok(body?: unknown): Reply {
  return body === undefined ? { status: 200 } : { status: 200, body };
}

export interface RequestContext {
  readonly req: IncomingMessage;
  /** Decoded `{param}` segments of the path. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The JSON body, read once with the size cap (413) and parsed (400 with the parser's message). */
  body(): Promise<unknown>;
}

export type Handler = (ctx: RequestContext) => Promise<Reply>;

/**
 * What the OpenAPI document (GET /api/openapi.json) says of a route, from the zod schemas the handler
 * validates with. Every route needs at least `summary` and `response` (openapi.test.ts fails
 * otherwise); add `params` for each `{name}` of the path, `query` and `body` where it takes them:
 *
 *   { method: 'GET', path: '/api/device/{deviceId}', handler,
 *     summary: 'Get a device', tag: 'Device', params: DeviceIdParamsSchema, response: DeviceSchema }
 */
export interface RouteDoc {
  /** One line for the docs page. */
  readonly summary?: string;
  /** The group on the docs page (ThingsBoard's controller name without "Controller"). */
  readonly tag?: string;
  /** One property per `{name}` of the path. */
  readonly params?: z.ZodObject;
  /** Query parameters, each a property (strings on the wire). */
  readonly query?: z.ZodObject;
  /** The JSON request body; `null`: a POST or PUT that takes none. */
  readonly body?: z.ZodType | null;
  /** The 200 answer's body; `null`: 200 with an empty body. */
  readonly response?: z.ZodType | null;
  /** Answers besides 200 and the error statuses every route has (503 of /api/health, 504 of RPC...). */
  readonly responses?: Readonly<Record<number, { readonly description: string; readonly schema: z.ZodType | null }>>;
  /**
   * Path parameters the 200 answer's `id.id` fills in other routes (`['deviceId', 'entityId']` for
   * POST /api/device): OpenAPI links, which schemathesis follows to test on entities that exist.
   */
  readonly createsId?: readonly string[];
  /** Saves under an optimistic lock: a stale version is 409 (VERSION_CONFLICT). */
  readonly versioned?: boolean;
  /** Reached without a JWT (login, token refresh, health, the document itself). */
  readonly public?: boolean;
}

export interface RouteDef extends RouteDoc {
  readonly method: HttpMethod;
  /** `/api/device/{deviceId}`: literal segments and `{name}` parameters. */
  readonly path: string;
  readonly handler: Handler;
}

type Segment = { literal: string } | { param: string };

interface CompiledRoute {
  readonly method: HttpMethod;
  readonly segments: readonly Segment[];
  readonly literals: number;
  readonly order: number;
  readonly handler: Handler;
}

export type RouteMatch =
  | { kind: 'found'; handler: Handler; params: Record<string, string> }
  /** The path exists for other methods (405). */
  | { kind: 'method'; allowed: HttpMethod[] }
  | { kind: 'none' };

export interface Router {
  /** Matches a path (without query). Throws 400 for a path segment that is not valid percent-encoding. */
  match(method: string, path: string): RouteMatch;
}

function compile(path: string): Segment[] {
  return splitPath(path).map((s) => {
    const m = /^\{(\w+)\}$/.exec(s);
    return m ? { param: m[1] as string } : { literal: s };
  });
}

/** Non-empty segments, so a trailing slash does not make a different route. */
function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

/**
 * Method + path patterns. When several patterns match, the one with more literal segments wins
 * (`/timeseries/delete` before `/{scope}`), then the one registered first.
 */
export function createRouter(routes: readonly RouteDef[]): Router {
  const compiled: CompiledRoute[] = routes.map((r, order) => {
    const segments = compile(r.path);
    return { method: r.method, segments, literals: segments.filter((s) => 'literal' in s).length, order, handler: r.handler };
  });

  return {
    match(method, path) {
      const raw = splitPath(path);
      let decoded: string[];
      try {
        decoded = raw.map((s) => decodeURIComponent(s));
      } catch {
        throw badParam(`Malformed URL path: ${path}`);
      }
      let best: { route: CompiledRoute; params: Record<string, string> } | undefined;
      const allowed = new Set<HttpMethod>();
      for (const route of compiled) {
        const params = matchSegments(route.segments, decoded);
        if (params === null) continue;
        if (route.method !== method) {
          allowed.add(route.method);
          continue;
        }
        if (!best || route.literals > best.route.literals) best = { route, params };
      }
      if (best) return { kind: 'found', handler: best.route.handler, params: best.params };
      if (allowed.size > 0) return { kind: 'method', allowed: [...allowed] };
      return { kind: 'none' };
    },
  };
}

function matchSegments(segments: readonly Segment[], path: readonly string[]): Record<string, string> | null {
  if (segments.length !== path.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as Segment;
    const value = path[i] as string;
    if ('literal' in seg) {
      if (seg.literal !== value) return null;
    } else {
      params[seg.param] = value;
    }
  }
  return params;
}
