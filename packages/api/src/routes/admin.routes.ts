import { DeadLetterListSchema, DeadLetterReplayRequestSchema, DeadLetterReplayResultSchema, ServerStatsSchema, type DeadLetterDto, type ServerStats } from '@rivulet/api-types';
import { z } from 'zod';
import { authed, type ApiDeps } from '../context';
import { intParam, optionalParam, parseBody } from '../params';
import { ok, type RouteDef } from '../router';

const SYS_ADMIN_ONLY = ['SYS_ADMIN'] as const;

/** The rule engine's dead letters as the server reads them (its dead-letter topic). */
export interface DeadLetterAdmin {
  /** Newest first. */
  list(o: { tenantId?: string; limit: number }): Promise<DeadLetterDto[]>;
  /** Puts the messages back on the rule-engine topic (`ids` absent: all listed); unknown ids and records that are not messages come back in notFound. */
  replay(ids?: readonly string[]): Promise<{ replayed: number; notFound: string[] }>;
}

/**
 * Process-wide figures and the rule engine's dead letters: system administrator only (they span
 * tenants; a tenant's data is only ever listed to the system administrator, as its stats are).
 */
export function adminRoutes(deps: ApiDeps, serverStats: ((o: { reset: boolean }) => Promise<ServerStats>) | undefined, deadLetters?: DeadLetterAdmin): RouteDef[] {
  const routes: RouteDef[] = [];
  if (serverStats) {
    routes.push({
      method: 'GET',
      path: '/api/admin/stats',
      summary: 'Server process figures: RSS and heap, event-loop delay since the last reset (reset=true starts a new window), rule-engine queue lag, rule-engine counters',
      tag: 'Admin',
      query: z.object({ reset: z.enum(['true', 'false']).optional() }),
      response: ServerStatsSchema,
      handler: authed(deps.tokens, async (ctx) => ok(await serverStats({ reset: ctx.query.get('reset') === 'true' })), SYS_ADMIN_ONLY),
    });
  }
  if (deadLetters) {
    routes.push(
      {
        method: 'GET',
        path: '/api/admin/deadLetters',
        summary: "The rule engine's newest dead letters (messages given up after their chain's retries or at the pack timeout), newest first; tenantId keeps one tenant's",
        tag: 'Admin',
        query: z.object({ tenantId: z.string().optional(), limit: z.string().optional() }),
        response: DeadLetterListSchema,
        handler: authed(
          deps.tokens,
          async (ctx) => {
            const limit = intParam(ctx.query, 'limit', { min: 1, max: 1000 }) ?? 100;
            const tenantId = optionalParam(ctx.query, 'tenantId');
            const data = await deadLetters.list({ limit, ...(tenantId ? { tenantId } : {}) });
            return ok({ data, count: data.length });
          },
          SYS_ADMIN_ONLY,
        ),
      },
      {
        method: 'POST',
        path: '/api/admin/deadLetters/replay',
        summary: 'Puts dead letters (by id; all listed when ids is absent) back on the rule-engine topic, to run through their root chains again',
        tag: 'Admin',
        body: DeadLetterReplayRequestSchema,
        response: DeadLetterReplayResultSchema,
        handler: authed(
          deps.tokens,
          async (ctx) => {
            const { ids } = parseBody(DeadLetterReplayRequestSchema, await ctx.body());
            return ok(await deadLetters.replay(ids));
          },
          SYS_ADMIN_ONLY,
        ),
      },
    );
  }
  return routes;
}
