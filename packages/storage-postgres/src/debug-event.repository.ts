import { BadRequestError, isUuid, type JsonValue } from '@rivulet/core';
import type { DebugEventRecord, DebugEventRepository, Page } from '@rivulet/storage';
import { selectPage } from './paging';
import type { SqlClient } from './sql-client';
import { chunks, num, numOrNull } from './sql-util';

export interface DebugEventRepositoryOptions {
  client: SqlClient;
  /** Events per statement. */
  chunkSize: number;
}

interface DebugEventRow {
  id: unknown;
  tenant_id: string;
  chain_id: string;
  node_index: unknown;
  node_name: string;
  node_type: string;
  ts: unknown;
  direction: 'IN' | 'OUT';
  relation: string | null;
  msg_id: string;
  msg_type: string;
  originator_type: string;
  originator_id: string;
  data: JsonValue | null;
  metadata: Record<string, string> | null;
  error: string | null;
  duration_ms: unknown;
}

function toRecord(r: DebugEventRow): DebugEventRecord {
  return {
    id: String(r.id),
    tenantId: r.tenant_id,
    chainId: r.chain_id,
    nodeIndex: num(r.node_index),
    nodeName: r.node_name,
    nodeType: r.node_type,
    ts: num(r.ts),
    direction: r.direction,
    relation: r.relation,
    msgId: r.msg_id,
    msgType: r.msg_type,
    originatorType: r.originator_type,
    originatorId: r.originator_id,
    data: r.data ?? null,
    metadata: r.metadata ?? {},
    error: r.error,
    durationMs: numOrNull(r.duration_ms),
  };
}

function check(e: DebugEventRecord): void {
  if (!isUuid(e.tenantId)) throw new BadRequestError(`Debug event: invalid tenant id "${e.tenantId}"`);
  if (!isUuid(e.chainId)) throw new BadRequestError(`Debug event: invalid rule chain id "${e.chainId}"`);
  if (!Number.isInteger(e.nodeIndex) || e.nodeIndex < 0) throw new BadRequestError(`Debug event: invalid node index ${e.nodeIndex}`);
  if (e.direction !== 'IN' && e.direction !== 'OUT') throw new BadRequestError(`Debug event: invalid direction "${String(e.direction)}"`);
}

// The whole chunk travels as one jsonb parameter and is unpacked server side: one statement per
// chunk, the same on both drivers, without a column-per-array parameter list.
const INSERT = `
  INSERT INTO rule_node_debug_event (tenant_id, chain_id, node_index, node_name, node_type, ts, direction, relation,
                                     msg_id, msg_type, originator_type, originator_id, data, metadata, error, duration_ms)
  SELECT tenant_id, chain_id, node_index, node_name, node_type, ts, direction, relation,
         msg_id, msg_type, originator_type, originator_id, data, coalesce(metadata, '{}'::jsonb), error, duration_ms
    FROM jsonb_to_recordset($1::jsonb) AS e(tenant_id uuid, chain_id uuid, node_index integer, node_name text, node_type text,
                                            ts bigint, direction text, relation text, msg_id text, msg_type text,
                                            originator_type text, originator_id text, data jsonb, metadata jsonb,
                                            error text, duration_ms double precision)`;

// Keeps the newest `cap` events of each node the batch touched. The cap bounds what the window scans.
const TRIM = `
  DELETE FROM rule_node_debug_event d
   USING (
     SELECT id FROM (
       SELECT id, row_number() OVER (PARTITION BY chain_id, node_index ORDER BY ts DESC, id DESC) AS rn
         FROM rule_node_debug_event
        WHERE (chain_id, node_index) IN (SELECT c, n FROM unnest($1::uuid[], $2::integer[]) AS u(c, n))
     ) ranked WHERE rn > $3
   ) old
   WHERE d.id = old.id`;

const SORT_COLUMNS = { ts: 'ts', id: 'id' } as const;

export function createDebugEventRepository(opts: DebugEventRepositoryOptions): DebugEventRepository {
  const { client, chunkSize } = opts;
  return {
    async saveBatch(events, options = {}) {
      if (events.length === 0) return;
      for (const e of events) check(e);
      const cap = options.maxPerNode;
      if (cap !== undefined && (!Number.isInteger(cap) || cap < 1)) throw new BadRequestError('maxPerNode must be a positive integer');
      const rows = events.map((e) => ({
        tenant_id: e.tenantId,
        chain_id: e.chainId,
        node_index: e.nodeIndex,
        node_name: e.nodeName,
        node_type: e.nodeType,
        ts: Math.trunc(e.ts),
        direction: e.direction,
        relation: e.relation,
        msg_id: e.msgId,
        msg_type: e.msgType,
        originator_type: e.originatorType,
        originator_id: e.originatorId,
        data: e.data,
        metadata: e.metadata,
        error: e.error,
        duration_ms: e.durationMs,
      }));
      await client.transaction(async (tx) => {
        for (const part of chunks(rows, chunkSize)) await tx.query(INSERT, [JSON.stringify(part)]);
        if (cap !== undefined) {
          const nodes = new Map<string, { chainId: string; nodeIndex: number }>();
          for (const e of events) nodes.set(`${e.chainId}:${e.nodeIndex}`, { chainId: e.chainId, nodeIndex: e.nodeIndex });
          const list = [...nodes.values()];
          await tx.query(TRIM, [list.map((n) => n.chainId), list.map((n) => n.nodeIndex), cap]);
        }
      });
    },

    async list(tenantId, chainId, nodeIndex, page): Promise<Page<DebugEventRecord>> {
      if (!isUuid(tenantId) || !isUuid(chainId)) return { data: [], totalPages: 0, totalElements: 0, hasNext: false };
      const params: unknown[] = [tenantId, chainId];
      let where = 'tenant_id = $1 AND chain_id = $2';
      if (nodeIndex !== undefined) {
        params.push(nodeIndex);
        where += ' AND node_index = $3';
      }
      return selectPage<DebugEventRow, DebugEventRecord>(
        client,
        { filtered: `SELECT * FROM rule_node_debug_event WHERE ${where}`, params, sortColumns: SORT_COLUMNS, defaultSort: 'ts' },
        page,
        toRecord,
      );
    },

    async count(tenantId, chainId, nodeIndex) {
      if (!isUuid(tenantId) || !isUuid(chainId)) return 0;
      const { rows } =
        nodeIndex === undefined
          ? await client.query<{ n: unknown }>('SELECT count(*) AS n FROM rule_node_debug_event WHERE tenant_id = $1 AND chain_id = $2', [tenantId, chainId])
          : await client.query<{ n: unknown }>('SELECT count(*) AS n FROM rule_node_debug_event WHERE tenant_id = $1 AND chain_id = $2 AND node_index = $3', [
              tenantId,
              chainId,
              nodeIndex,
            ]);
      return num(rows[0]?.n ?? 0);
    },

    async deleteOlderThan(ts) {
      const res = await client.query('DELETE FROM rule_node_debug_event WHERE ts < $1', [Math.trunc(ts)]);
      return res.rowCount;
    },

    async deleteByChain(tenantId, chainId, nodeIndex) {
      if (!isUuid(tenantId) || !isUuid(chainId)) return 0;
      const res =
        nodeIndex === undefined
          ? await client.query('DELETE FROM rule_node_debug_event WHERE tenant_id = $1 AND chain_id = $2', [tenantId, chainId])
          : await client.query('DELETE FROM rule_node_debug_event WHERE tenant_id = $1 AND chain_id = $2 AND node_index = $3', [tenantId, chainId, nodeIndex]);
      return res.rowCount;
    },
  };
}
