import { BadRequestError, isUuid, type JsonObject } from '@rivulet/core';
import type { RuleNodeStateRepository, RuleNodeStateWrite } from '@rivulet/storage';
import type { SqlClient } from './sql-client';
import { chunks, mapDbError } from './sql-util';

/** Longest rule node id kept (the engine's ids are `<uuid>:<index>`). */
const MAX_NODE_ID_LENGTH = 200;

function checkKey(tenantId: string, ruleNodeId: string, entityId: string): void {
  if (!isUuid(tenantId)) throw new BadRequestError(`Invalid tenant id "${tenantId}"`);
  if (!isUuid(entityId)) throw new BadRequestError(`Invalid entity id "${entityId}"`);
  if (ruleNodeId.length === 0 || ruleNodeId.length > MAX_NODE_ID_LENGTH) throw new BadRequestError(`Invalid rule node id "${ruleNodeId.slice(0, 40)}": 1 to ${MAX_NODE_ID_LENGTH} characters`);
}

function checkState(state: unknown): string {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new BadRequestError('Rule node state must be a JSON object');
  return JSON.stringify(state);
}

// One statement per chunk: rows arrive as column arrays. A later save replaces the state (upsert).
const UPSERT = `
  INSERT INTO rule_node_state (tenant_id, rule_node_id, entity_id, state, updated_time)
  SELECT u.tenant_id, u.rule_node_id, u.entity_id, u.state::jsonb, $5
    FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[]) AS u(tenant_id, rule_node_id, entity_id, state)
  ON CONFLICT (tenant_id, rule_node_id, entity_id) DO UPDATE SET state = EXCLUDED.state, updated_time = EXCLUDED.updated_time`;

export function createRuleNodeStateRepository(options: { client: SqlClient; chunkSize: number; now?: () => number }): RuleNodeStateRepository {
  const { client, chunkSize } = options;
  const now = options.now ?? Date.now;
  return {
    async get(tenantId, ruleNodeId, entityId) {
      if (!isUuid(tenantId) || !isUuid(entityId)) return null;
      const { rows } = await client.query<{ state: JsonObject }>('SELECT state FROM rule_node_state WHERE tenant_id = $1 AND rule_node_id = $2 AND entity_id = $3', [tenantId, ruleNodeId, entityId]);
      return rows[0]?.state ?? null;
    },
    async save(items) {
      if (items.length === 0) return;
      // The later write of a key wins (one upsert may not touch a row twice); sorted so concurrent
      // writers lock rows in the same order.
      const byKey = new Map<string, { it: RuleNodeStateWrite; json: string }>();
      for (const it of items) {
        checkKey(it.tenantId, it.ruleNodeId, it.entityId);
        byKey.set(`${it.tenantId}\u0000${it.ruleNodeId}\u0000${it.entityId}`, { it, json: checkState(it.state) });
      }
      const rows = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
      const ts = now();
      try {
        for (const chunk of chunks(rows, chunkSize)) {
          await client.query(UPSERT, [chunk.map((r) => r.it.tenantId), chunk.map((r) => r.it.ruleNodeId), chunk.map((r) => r.it.entityId), chunk.map((r) => r.json), ts]);
        }
      } catch (e) {
        mapDbError(e, () => 'Rule node state conflicts with an existing one');
      }
    },
    async delete(tenantId, ruleNodeId, entityId) {
      if (!isUuid(tenantId) || !isUuid(entityId)) return false;
      const r = await client.query('DELETE FROM rule_node_state WHERE tenant_id = $1 AND rule_node_id = $2 AND entity_id = $3', [tenantId, ruleNodeId, entityId]);
      return r.rowCount > 0;
    },
    async deleteByEntity(tenantId, entityId) {
      if (!isUuid(tenantId) || !isUuid(entityId)) return 0;
      return (await client.query('DELETE FROM rule_node_state WHERE tenant_id = $1 AND entity_id = $2', [tenantId, entityId])).rowCount;
    },
    async deleteByNode(tenantId, ruleNodeId, opts) {
      if (!isUuid(tenantId) || ruleNodeId.length === 0) return 0;
      if (opts?.prefix) {
        // starts_with: no LIKE wildcards to escape in the id.
        return (await client.query('DELETE FROM rule_node_state WHERE tenant_id = $1 AND starts_with(rule_node_id, $2)', [tenantId, ruleNodeId])).rowCount;
      }
      return (await client.query('DELETE FROM rule_node_state WHERE tenant_id = $1 AND rule_node_id = $2', [tenantId, ruleNodeId])).rowCount;
    },
  };
}
