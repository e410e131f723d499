import type { DebugEventDto } from '@rivulet/api-types';

/** How often an open events panel asks for new events. */
export const EVENTS_REFRESH_MS = 3_000;

/** ThingsBoard sends data and metadata as JSON text: pretty-printed when it parses, as sent when not. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** One row of the events table. */
export interface EventRow {
  id: string;
  time: number;
  direction: 'IN' | 'OUT';
  relation: string | null;
  msgType: string;
  data: string;
  metadata: string;
  error: string | null;
  durationMs: number | null;
}

export function eventRow(e: DebugEventDto): EventRow {
  return {
    id: e.id.id,
    time: e.createdTime,
    direction: e.body.type,
    relation: e.body.relationType,
    msgType: e.body.msgType,
    data: prettyJson(e.body.data),
    metadata: prettyJson(e.body.metadata),
    error: e.body.error,
    durationMs: e.body.durationMs,
  };
}
