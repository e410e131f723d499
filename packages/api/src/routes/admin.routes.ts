import { ServerStatsSchema, type ServerStats } from '@rivulet/api-types';
import { z } from 'zod';
import { authed, type ApiDeps } from '../context';
import { ok, type RouteDef } from '../router';

const SYS_ADMIN_ONLY = ['SYS_ADMIN'] as const;

/** The process's health figures (memory, event-loop delay, queue lag): process-wide, so system administrator only. */
export function adminRoutes(deps: ApiDeps, serverStats: ((o: { reset: boolean }) => Promise<ServerStats>) | undefined): RouteDef[] {
  if (!serverStats) return [];
  return [
    {
      method: 'GET',
      path: '/api/admin/stats',
      summary: 'Server process figures: RSS and heap, event-loop delay since the last reset (reset=true starts a new window), rule-engine queue lag, rule-engine counters',
      tag: 'Admin',
      query: z.object({ reset: z.enum(['true', 'false']).optional() }),
      response: ServerStatsSchema,
      handler: authed(deps.tokens, async (ctx) => ok(await serverStats({ reset: ctx.query.get('reset') === 'true' })), SYS_ADMIN_ONLY),
    },
  ];
}
