import type { DeadLetterAdmin } from '@rivulet/api';
import { messageOf, type DeadLetterEntry, type DeadLetterStore } from '@rivulet/rule-engine';

type DeadLetterDto = Awaited<ReturnType<DeadLetterAdmin['list']>>[number];

/** The admin API's view of the rule engine's dead letters, over the process's dead-letter store. */
export function deadLetterAdmin(store: DeadLetterStore): DeadLetterAdmin {
  return {
    async list(o) {
      // The store filters engine dead letters by tenant; other records carry their tenant in the message, if any.
      return store.list(o).map(toDto);
    },
    replay: (ids) => store.replay(ids),
  };
}

function toDto(e: DeadLetterEntry): DeadLetterDto {
  const d = e.deadLetter;
  const raw = (typeof e.raw === 'object' && e.raw !== null ? e.raw : {}) as { reason?: unknown; deadAt?: unknown };
  const msg = messageOf(e);
  return {
    id: e.id,
    partition: e.partition,
    offset: e.offset,
    reason: d ? d.reason : typeof raw.reason === 'string' ? raw.reason : 'unknown record',
    error: d ? d.error : null,
    tenantId: msg?.tenantId ?? null,
    chainId: d?.chainId ?? null,
    attempts: d ? d.attempts : null,
    ts: d ? d.ts : typeof raw.deadAt === 'number' ? raw.deadAt : null,
    msg: msg ? { id: msg.id, type: msg.type, ts: msg.ts, originator: { entityType: msg.originator.entityType, id: msg.originator.id }, metadata: { ...msg.metadata }, data: msg.data } : null,
  };
}
