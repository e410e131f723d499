import { z } from 'zod';
import { IdSchema, JsonObjectSchema, JsonSchema, TenantIdSchema, entityIdSchema, pageSchema } from './common.schema';

export const DashboardIdSchema = entityIdSchema('DASHBOARD');

/** An id as a client sends it back: `{entityType?, id}` or the bare uuid. */
const IncomingDashboardIdSchema = z.union([
  z.object({ entityType: z.literal('DASHBOARD').optional(), id: IdSchema }),
  IdSchema.transform((id) => ({ entityType: 'DASHBOARD' as const, id })),
]);

/**
 * ThingsBoard's DashboardInfo (`GET /api/dashboard/info/{id}`, the items of
 * `GET /api/tenant/dashboards`): everything but the configuration. `name` repeats `title`, as
 * ThingsBoard serialises it.
 */
export const DashboardInfoSchema = z.object({
  id: DashboardIdSchema,
  createdTime: z.number().int(),
  tenantId: TenantIdSchema,
  title: z.string(),
  name: z.string(),
  description: z.string().nullable(),
});
export type DashboardInfoDto = z.infer<typeof DashboardInfoSchema>;

/**
 * ThingsBoard's Dashboard (`GET /api/dashboard/{id}`): the info plus the configuration, ThingsBoard's
 * dashboard JSON (`widgets`, `states`, `entityAliases`, `timewindow`, `settings`...), stored as given.
 */
export const DashboardSchema = DashboardInfoSchema.extend({
  configuration: JsonObjectSchema,
});
export type DashboardDto = z.infer<typeof DashboardSchema>;

export const DashboardInfoPageSchema = pageSchema(DashboardInfoSchema);
export type DashboardInfoPage = z.infer<typeof DashboardInfoPageSchema>;

/**
 * `POST /api/dashboard`: without `id` creates, with `id` replaces that dashboard's title and
 * configuration (ThingsBoard's save). Unknown fields (createdTime, tenantId, name, image,
 * assignedCustomers... of a dashboard read earlier or exported from ThingsBoard) are accepted and
 * ignored. A configuration left out is empty on create and kept on update; `description` left out
 * is taken from `configuration.description`, where ThingsBoard keeps it.
 */
export const DashboardSaveRequestSchema = z.looseObject({
  id: IncomingDashboardIdSchema.nullish(),
  title: z.string({ error: (iss) => (iss.input === undefined || iss.input === null ? 'Dashboard title should be specified' : 'Dashboard title must be a string') }).trim().min(1, 'Dashboard title should be specified').max(255),
  description: z.string().max(1024).nullish(),
  configuration: z.record(z.string(), JsonSchema, { error: 'Dashboard configuration must be a JSON object' }).nullish(),
});
export type DashboardSaveRequest = z.input<typeof DashboardSaveRequestSchema>;
