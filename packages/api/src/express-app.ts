import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import cors from 'cors';
import { MemoryStore, rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { ErrorCodes } from '@rivulet/api-types';
import { errorMessage, RivuletError, type Logger } from '@rivulet/core';
import { badParam, notFound, toErrorResponse } from './api-error';
import { docsPage } from './docs-page';
import { readJsonBody, sendJson, splitUrl } from './http';
import { createRouter, type RouteDef } from './router';

/** ThingsBoard's ThingsboardErrorCode.TOO_MANY_REQUESTS. */
export const TOO_MANY_REQUESTS_CODE = 33;

export interface RestRateLimit {
  /** Requests per window per client address; 0: no limit. */
  readonly limit: number;
  readonly windowMs: number;
}

export interface ExpressApiOptions {
  readonly routes: readonly RouteDef[];
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  /** Origins allowed to call the API from a browser (CORS); empty: none (closed); `*`: any. */
  readonly corsOrigins: readonly string[];
  readonly rateLimit: RestRateLimit;
  /** The OpenAPI document served at /api/openapi.json. */
  readonly openapi: () => unknown;
}

export interface ExpressApi {
  /** The express application: call it as a node:http request listener. */
  readonly app: express.Express;
  close(): void;
}

/** `/api/device/{deviceId}` → `/api/device/:deviceId` (path-to-regexp 8 reads braces as optional groups). */
export function toExpressPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

function literalCount(path: string): number {
  return path.split('/').filter((s) => s.length > 0 && !/^\{\w+\}$/.test(s)).length;
}

/** Security headers of JSON answers: nothing in them may load or frame anything. */
const jsonHelmet = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  },
});

/**
 * The REST API on express 5, built from the RouteDefs: helmet's headers, CORS (closed unless origins
 * are configured), a per-address rate limit, the OpenAPI document and its docs page, the routes,
 * then 404 / 405 and ThingsBoard's error shape for everything thrown. Bodies are read lazily by the
 * handler (after the JWT check) with the size cap of http.ts.
 */
export function createExpressApi(options: ExpressApiOptions): ExpressApi {
  const { logger, maxBodyBytes } = options;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('case sensitive routing', true);
  app.set('query parser', false);

  app.use(jsonHelmet);

  const origins = new Set(options.corsOrigins);
  app.use(
    cors({
      // false: no CORS headers at all, so a browser on another origin may not read the answer.
      origin: (origin, cb) => cb(null, origin !== undefined && (origins.has('*') || origins.has(origin))),
      methods: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'],
      allowedHeaders: ['Content-Type', 'X-Authorization', 'Authorization'],
      exposedHeaders: ['RateLimit', 'RateLimit-Policy', 'Retry-After'],
      maxAge: 600,
      // answered below, after the rate limit counted it
      preflightContinue: true,
    }),
  );

  let store: MemoryStore | undefined;
  if (options.rateLimit.limit > 0) {
    store = new MemoryStore();
    const limiter = rateLimit({
      store,
      windowMs: options.rateLimit.windowMs,
      limit: options.rateLimit.limit,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      // Load balancers poll it; it reads nothing.
      skip: (req) => req.path === '/api/health' || req.path === '/api/ready',
      handler: (req, res, _next, opts) => {
        logger.warn({ ip: req.ip, path: req.path }, 'REST API rate limit reached');
        const retryAfter = Math.ceil(opts.windowMs / 1000);
        sendJson(
          res,
          429,
          { status: 429, message: `Too many requests: more than ${opts.limit as number} in ${retryAfter} s from this address`, errorCode: TOO_MANY_REQUESTS_CODE, timestamp: Date.now() },
          res.getHeader('retry-after') === undefined ? { 'retry-after': String(retryAfter) } : {},
        );
      },
    });
    app.use(limiter);
  }

  // A preflight from an allowed origin (cors set its headers above) ends here; any other goes on to 204/405/404.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'OPTIONS' || res.getHeader('access-control-allow-origin') === undefined) return next();
    res.writeHead(204, { 'content-length': '0' });
    res.end();
  });

  let document: string | undefined;
  app.get('/api/openapi.json', (_req, res) => {
    document ??= JSON.stringify(options.openapi());
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(document)), 'cache-control': 'no-cache' });
    res.end(document);
  });
  app.use('/api/docs', docsPage());

  // Most literal segments first, then in declaration order: `/timeseries/delete` before `/{scope}`,
  // `/api/ruleChain/nodeTypes` before `/api/ruleChain/{ruleChainId}` (express takes the first match).
  const ordered = options.routes.map((route, order) => ({ route, order })).sort((a, b) => literalCount(b.route.path) - literalCount(a.route.path) || a.order - b.order);
  // On the app itself, not a sub-router: a sub-router would answer OPTIONS on its own before the fallback below.
  for (const { route } of ordered) {
    app[route.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete' | 'patch'](toExpressPath(route.path), handlerOf(route, maxBodyBytes));
  }

  // Unknown paths (404), known paths with another method (405 with Allow, as before the move).
  const matcher = createRouter(options.routes);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const { path } = splitUrl(req.originalUrl);
    const m = matcher.match(req.method, path);
    if (m.kind === 'method') {
      const allow = m.allowed.join(', ');
      // A preflight from an origin that is not allowed: no CORS headers, so the browser refuses.
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { allow, 'content-length': '0' });
        res.end();
        return;
      }
      sendJson(res, 405, { status: 405, message: `Request method '${req.method}' is not supported`, errorCode: ErrorCodes.GENERAL, timestamp: Date.now() }, { allow });
      return;
    }
    next(notFound(`No API endpoint ${req.method} ${path}`));
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { path } = splitUrl(req.originalUrl);
    // express's own 400 (a path parameter that is not valid percent-encoding)
    const e = !(err instanceof RivuletError) && httpStatus(err) === 400 ? badParam(`Malformed URL path: ${path}`) : err;
    const body = toErrorResponse(e);
    if (body.status >= 500) logger.error({ err: errorMessage(e), method: req.method, path }, 'API request failed');
    else logger.debug({ status: body.status, message: body.message, method: req.method, path }, 'API request refused');
    // After a 413 the rest of the body is still arriving: close the connection rather than read it.
    sendJson(res, body.status, body, body.status === 413 ? { connection: 'close' } : {});
  });

  return {
    app,
    close() {
      store?.shutdown();
    },
  };
}

function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const s = (err as { status?: unknown }).status;
  return typeof s === 'number' ? s : undefined;
}

function handlerOf(route: RouteDef, maxBodyBytes: number): RequestHandler {
  return async (req, res, next) => {
    try {
      const { query } = splitUrl(req.originalUrl);
      for (const [name, value] of [...query, ...Object.entries(req.params as Record<string, string>)]) {
        if (value.includes('\0') || name.includes('\0')) throw badParam(`Parameter '${name.replace(/\0/g, '\\u0000')}' must not contain the NUL character (\\u0000)`);
      }
      let body: Promise<unknown> | undefined;
      const reply = await route.handler({
        req,
        params: { ...(req.params as Record<string, string>) },
        query,
        body: () => (body ??= readJsonBody(req, maxBodyBytes)),
      });
      sendJson(res, reply.status, reply.body);
    } catch (e) {
      next(e);
    }
  };
}
