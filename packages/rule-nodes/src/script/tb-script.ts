import { createMsg, newId, withMsg, type JsonValue, type Msg } from '@rivulet/core';
import type { CompiledScript, RuleNodeServices } from '@rivulet/rule-engine';
import { z } from 'zod';
import { ScriptError, defaultScriptSandbox } from './sandbox';

/**
 * ThingsBoard's script conventions on top of the sandbox: which field holds the script
 * (`scriptLang` picks `jsScript` or `tbelScript`), the function signatures, and what each kind of
 * script must return.
 *
 * TBEL runs as JavaScript: the TBEL scripts people write (`return msg.temperature > 20;`, object and
 * array literals, `var`, if/for) are valid JavaScript too. One that is not fails its chain's load
 * with the parser's error. A few TBEL helper functions are defined for TBEL scripts.
 */

/** MVEL: ThingsBoard's older name for TBEL. */
export const ScriptLang = z.enum(['JS', 'TBEL', 'MVEL']);
export type ScriptLang = z.infer<typeof ScriptLang>;

/** The script fields of ThingsBoard's script nodes, with a default body. */
export function scriptFields(defaultBody: string) {
  return {
    scriptLang: ScriptLang.default('JS'),
    jsScript: z.string().default(defaultBody),
    tbelScript: z.string().nullish(),
    /** ThingsBoard before TBEL got its name. */
    mvelScript: z.string().nullish(),
  };
}

/** TBEL helpers that have no JavaScript built-in of the same name. */
const TBEL_PRELUDE = [
  'function toFixed(v, p) { return Number(Number(v).toFixed(p)); }',
  'function parseDouble(s) { return parseFloat(s); }',
  'function parseLong(s) { return parseInt(s, 10); }',
  'function parseBoolean(s) { return String(s).toLowerCase() === "true"; }',
].join('\n');

export const MSG_PARAMS = ['msg', 'metadata', 'msgType'] as const;

/** The body ThingsBoard would run: `tbelScript` when scriptLang is TBEL (and it is set), else `jsScript`. */
export interface ScriptConfig {
  scriptLang: ScriptLang;
  jsScript: string;
  tbelScript?: string | null | undefined;
  mvelScript?: string | null | undefined;
}

export function scriptBody(config: ScriptConfig): { body: string; tbel: boolean } {
  const tbel = config.tbelScript ?? config.mvelScript;
  if (config.scriptLang !== 'JS' && tbel && tbel.trim() !== '') return { body: tbel, tbel: true };
  return { body: config.jsScript, tbel: false };
}

/** Compiles a node's script once (create()); a syntax error throws here and names the field. */
export function compileNodeScript(
  services: RuleNodeServices,
  config: ScriptConfig,
  name: string,
  params: readonly string[] = MSG_PARAMS,
): CompiledScript {
  const { body, tbel } = scriptBody(config);
  const runner = services.scripts ?? defaultScriptSandbox();
  // The tenant's script limits as they are when the chain loads (0: the sandbox's default).
  const limits = services.limits?.();
  const tenantId = services.tenant?.tenantId;
  try {
    return runner.compile({
      body,
      params,
      name,
      ...(tbel ? { prelude: TBEL_PRELUDE } : {}),
      ...(limits && limits.maxScriptExecutionMs > 0 ? { timeoutMs: limits.maxScriptExecutionMs } : {}),
      ...(limits && limits.maxScriptMemoryMb > 0 ? { memoryLimitBytes: limits.maxScriptMemoryMb * 1024 * 1024 } : {}),
      ...(tenantId ? { labels: { tenantId } } : {}),
    });
  } catch (e) {
    if (e instanceof ScriptError && e.kind === 'syntax') {
      const field = tbel ? 'tbelScript' : 'jsScript';
      throw new ScriptError('syntax', tbel ? `${field}: TBEL runs as JavaScript here and this script is not valid JavaScript: ${e.message}` : `${field}: ${e.message}`);
    }
    throw e;
  }
}

/** Arguments of ThingsBoard's (msg, metadata, msgType) signature. */
export function msgArgs(msg: Msg): JsonValue[] {
  return [msg.data, { ...msg.metadata }, msg.type];
}

/** Call options naming the message: its retries count as one strike against the script. */
export function msgKey(msg: Msg): { key: string } {
  return { key: msg.id };
}

const typeName = (v: JsonValue) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

export function asFilterResult(v: JsonValue): boolean {
  if (typeof v !== 'boolean') throw new ScriptError('result', `Filter script must return a boolean, it returned ${typeName(v)}`);
  return v;
}

export function asSwitchRelations(v: JsonValue): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new ScriptError('result', `Switch script must return a relation name or an array of them, it returned ${typeName(v)}`);
}

/** Metadata values are strings in ThingsBoard; other values are written as JSON. */
export function toMetadata(v: JsonValue, what: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ScriptError('result', `${what} must be an object, it is ${typeName(v)}`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null || x === undefined) continue;
    out[k] = typeof x === 'string' ? x : JSON.stringify(x);
  }
  return out;
}

/**
 * A transform script's result, `{msg, metadata, msgType}` or an array of them, as messages: a missing
 * part keeps the input's. The first result keeps the input message's id; further ones get new ids.
 */
export function asTransformResults(v: JsonValue, input: Msg): Msg[] {
  const list = Array.isArray(v) ? v : [v];
  return list.map((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      throw new ScriptError('result', `Transform script must return {msg, metadata, msgType} or an array of them, it returned ${typeName(r)}`);
    }
    const changes: { data?: JsonValue; metadata?: Record<string, string>; type?: string } = {};
    if ('msg' in r && r.msg !== undefined) changes.data = r.msg;
    if ('metadata' in r && r.metadata !== undefined && r.metadata !== null) changes.metadata = toMetadata(r.metadata, 'metadata');
    if ('msgType' in r && r.msgType !== undefined && r.msgType !== null) {
      if (typeof r.msgType !== 'string' || r.msgType === '') throw new ScriptError('result', 'msgType must be a non-empty string');
      changes.type = r.msgType;
    }
    if (i === 0) return withMsg(input, changes);
    return createMsg({
      id: newId(),
      type: changes.type ?? input.type,
      originator: input.originator,
      tenantId: input.tenantId,
      metadata: changes.metadata ?? { ...input.metadata },
      data: changes.data ?? input.data,
    });
  });
}
