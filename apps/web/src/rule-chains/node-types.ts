import type { NodeTypeDto } from '@rivulet/api-types';

/** One entry of `GET /api/ruleChain/nodeTypes`: the editor's palette and configuration form come from it. */
export type NodeTypeDescriptor = NodeTypeDto;

/** A JSON Schema object as the server sends it (draft 2020-12, from each node's zod schema). */
export type JsonSchemaNode = Record<string, unknown>;
/** rjsf's uiSchema, kept structural so this file stays free of the form library (node tests import it). */
export type UiSchema = Record<string, unknown>;

const SCRIPT_FIELDS = {
  JS: ['jsScript', 'alarmDetailsBuildJs'],
  TBEL: ['tbelScript', 'alarmDetailsBuildTbel'],
  MVEL: ['mvelScript', 'alarmDetailsBuildMvel'],
} as const;
const ALL_SCRIPT_FIELDS: readonly string[] = Object.values(SCRIPT_FIELDS).flat();

/** Lists of relation names (ThingsBoard's entity relation types), offered from common ones. */
const RELATION_LIST_FIELDS = new Set(['relationTypes']);
/** Lists of message types, offered from ThingsBoard's. */
const MSG_TYPE_LIST_FIELDS = new Set(['messageTypes']);
export const MSG_TYPES = [
  'POST_TELEMETRY_REQUEST',
  'POST_ATTRIBUTES_REQUEST',
  'TO_SERVER_RPC_REQUEST',
  'RPC_CALL_FROM_SERVER_TO_DEVICE',
  'ACTIVITY_EVENT',
  'INACTIVITY_EVENT',
  'CONNECT_EVENT',
  'DISCONNECT_EVENT',
  'ATTRIBUTES_UPDATED',
  'ATTRIBUTES_DELETED',
  'TIMESERIES_UPDATED',
  'TIMESERIES_DELETED',
  'ALARM',
  'ALARM_ACK',
  'ALARM_CLEAR',
  'ALARM_DELETE',
  'ENTITY_CREATED',
  'ENTITY_UPDATED',
  'ENTITY_DELETED',
  'ENTITY_ASSIGNED',
  'ENTITY_UNASSIGNED',
  'PROVISION_SUCCESS',
  'PROVISION_FAILURE',
  'RPC_SENT',
  'RPC_DELIVERED',
  'RPC_SUCCESSFUL',
  'RPC_TIMEOUT',
  'RPC_FAILED',
];
/** Free-text fields with usual values (a pattern such as ${severity} is allowed too). */
const SUGGESTED_VALUES: Record<string, readonly string[]> = { severity: ['CRITICAL', 'MAJOR', 'MINOR', 'WARNING', 'INDETERMINATE'] };
export const COMMON_RELATION_TYPES = ['Contains', 'Manages', 'Uses'];

const isObj = (v: unknown): v is JsonSchemaNode => typeof v === 'object' && v !== null && !Array.isArray(v);

/** ThingsBoard stores flags as booleans or as "true"/"false": the zod schema accepts both (anyOf boolean | enum). */
function isLooseBoolean(s: JsonSchemaNode): boolean {
  const any = s.anyOf;
  if (!Array.isArray(any) || any.length !== 2) return false;
  const [a, b] = any as JsonSchemaNode[];
  return a?.type === 'boolean' && b?.type === 'string' && Array.isArray(b.enum) && b.enum.length === 2 && b.enum.includes('true') && b.enum.includes('false');
}

function isNullType(s: unknown): boolean {
  return isObj(s) && s.type === 'null';
}

/**
 * A node's JSON Schema made fit for a generated form: flags that are "boolean or 'true'/'false'"
 * become checkboxes, nullable fields become plain ones (an empty field means "not set"), a union of
 * constants becomes a choice, number-or-pattern fields become text, and the open
 * `additionalProperties: {}` of ThingsBoard-compatible configurations is dropped (extra keys are
 * kept in the data, just not offered as "add a property").
 */
export function formSchema(schema: JsonSchemaNode, root = true): JsonSchemaNode {
  if (isLooseBoolean(schema)) return { ...pick(schema, ['default', 'description', 'title']), type: 'boolean' };
  let s: JsonSchemaNode = { ...schema };
  if (root) delete s.$schema;
  if (Array.isArray(s.anyOf)) {
    const branches = (s.anyOf as unknown[]).filter((b) => !isNullType(b)).map((b) => formSchema(b as JsonSchemaNode, false));
    if (branches.length === 1) {
      const { anyOf: _drop, ...rest } = s;
      s = { ...branches[0], ...rest };
    } else {
      const flat = branches.flatMap((b) => (Array.isArray(b.anyOf) ? (b.anyOf as JsonSchemaNode[]) : [b]));
      const consts = flat.filter((b) => 'const' in b).map((b) => b.const);
      if (consts.length > 0) {
        const { anyOf: _drop, ...rest } = s;
        s = { ...rest, enum: consts, type: typeof consts[0] === 'number' ? 'number' : 'string' };
      } else {
        s.anyOf = branches;
      }
    }
  }
  if (Array.isArray(s.type)) {
    const types = (s.type as string[]).filter((t) => t !== 'null');
    // number-or-string: a value or a ${pattern}; text, turned back into a number by fromFormData.
    s.type = types.length === 1 ? types[0] : types.includes('string') ? 'string' : types[0];
  }
  if (isObj(s.properties)) {
    s.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, isObj(v) ? { title: humanize(k), ...formSchema(v, false) } : v]));
    if (isObj(s.additionalProperties) && Object.keys(s.additionalProperties).length === 0) delete s.additionalProperties;
  }
  if (isObj(s.items)) s.items = formSchema(s.items, false);
  if (isObj(s.additionalProperties) && Object.keys(s.additionalProperties).length > 0) s.additionalProperties = formSchema(s.additionalProperties, false);
  if (typeof s.default === 'number' && s.type === 'string') s.default = String(s.default);
  return s;
}

function pick(o: JsonSchemaNode, keys: string[]): JsonSchemaNode {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
}

const ACRONYMS: Record<string, string> = { ca: 'CA', js: 'JS', tbel: 'TBEL', mvel: 'MVEL', id: 'ID', url: 'URL', rpc: 'RPC', ssl: 'SSL', ttl: 'TTL', mqtt: 'MQTT' };

const LABELS: Record<string, string> = { scriptLang: 'Script language', ts: 'Timestamp' };

/** `alarmDetailsBuildJs` → "Alarm details build JS". */
export function humanize(key: string): string {
  if (LABELS[key]) return LABELS[key];
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_]+/)
    .filter(Boolean);
  return words
    .map((w, i) => {
      const acronym = ACRONYMS[w.toLowerCase()];
      if (acronym) return acronym;
      if (/^[A-Z0-9]+$/.test(w) && w.length > 1) return w;
      return i === 0 ? w[0]!.toUpperCase() + w.slice(1) : w.toLowerCase();
    })
    .join(' ');
}

/** The script language a configuration uses (ThingsBoard's default is TBEL for new nodes, JS for old ones; ours is JS). */
export function scriptLangOf(configuration: Record<string, unknown>): 'JS' | 'TBEL' | 'MVEL' {
  const l = configuration.scriptLang;
  return l === 'TBEL' || l === 'MVEL' ? l : 'JS';
}

/** Whether a node type runs user code: the config panel shows the "Test script" button for it. */
export function isScriptNode(nodeType: NodeTypeDescriptor): boolean {
  const props = isObj(nodeType.configSchema.properties) ? nodeType.configSchema.properties : {};
  return 'jsScript' in props || 'alarmDetailsBuildJs' in props;
}

/** The function a script field's body is wrapped in, shown above the editor as ThingsBoard does. */
export function scriptSignature(nodeType: string, field: string): string {
  if (field.startsWith('alarmDetailsBuild')) return 'function Details(msg, metadata, msgType) {';
  if (nodeType.endsWith('.generator')) return 'function Generate(prevMsg, prevMetadata, prevMsgType) {';
  if (nodeType.endsWith('.scriptSwitch')) return 'function Switch(msg, metadata, msgType) {';
  if (nodeType.endsWith('.filter.script')) return 'function Filter(msg, metadata, msgType) {';
  if (nodeType.endsWith('.transformation.script')) return 'function Transform(msg, metadata, msgType) {';
  return 'function (msg, metadata, msgType) {';
}

/**
 * The uiSchema for a node's form: a code editor for the scripts of the chosen language (the other
 * languages' fields hidden), a tags input for lists of keys, with suggestions for lists of relation
 * and message types, and the field order of the schema.
 */
export function uiSchemaFor(nodeType: NodeTypeDescriptor, configuration: Record<string, unknown>): UiSchema {
  const ui: UiSchema = { 'ui:submitButtonOptions': { norender: true } };
  const schema = formSchema(nodeType.configSchema);
  const props = isObj(schema.properties) ? schema.properties : {};
  const lang = scriptLangOf(configuration);
  const shown: readonly string[] = SCRIPT_FIELDS[lang];
  for (const [key, raw] of Object.entries(props)) {
    if (!isObj(raw)) continue;
    if (ALL_SCRIPT_FIELDS.includes(key)) {
      ui[key] = shown.includes(key)
        ? { 'ui:widget': 'code', 'ui:options': { signature: scriptSignature(nodeType.type, key), language: lang } }
        : { 'ui:widget': 'hidden' };
    } else if (raw.type === 'array' && isObj(raw.items) && raw.items.type === 'string' && !Array.isArray(raw.items.enum)) {
      const suggestions = RELATION_LIST_FIELDS.has(key) ? COMMON_RELATION_TYPES : MSG_TYPE_LIST_FIELDS.has(key) ? MSG_TYPES : [];
      ui[key] = { 'ui:widget': 'tags', 'ui:options': { suggestions } };
    } else if (SUGGESTED_VALUES[key] && raw.type === 'string' && !Array.isArray(raw.enum)) {
      ui[key] = { 'ui:widget': 'suggest', 'ui:options': { suggestions: [...SUGGESTED_VALUES[key]] } };
    } else if (Array.isArray(raw.enum) && raw.default !== undefined) {
      // A choice with a default is never empty: clicking the chosen option keeps it (Mantine's
      // Select would otherwise clear it, and the node would silently fall back to the default).
      ui[key] = { 'ui:options': { allowDeselect: false } };
    }
  }
  return ui;
}

/** The stored configuration as the form edits it: "true"/"false" flags as booleans, numbers in number-or-text fields as text. */
export function toFormData(schema: JsonSchemaNode, configuration: Record<string, unknown>): Record<string, unknown> {
  const props = isObj(schema.properties) ? schema.properties : {};
  const out: Record<string, unknown> = { ...configuration };
  for (const [key, raw] of Object.entries(props)) {
    if (!isObj(raw) || !(key in out)) continue;
    const v = out[key];
    if (isLooseBoolean(raw) && (v === 'true' || v === 'false')) out[key] = v === 'true';
    else if (Array.isArray(raw.type) && raw.type.includes('number') && raw.type.includes('string') && typeof v === 'number') out[key] = String(v);
    else if (v === null) delete out[key];
  }
  return out;
}

/** The form's data back as a configuration: number-or-text fields holding a number go back as numbers. */
export function fromFormData(schema: JsonSchemaNode, data: Record<string, unknown>): Record<string, unknown> {
  const props = isObj(schema.properties) ? schema.properties : {};
  const out: Record<string, unknown> = { ...data };
  for (const [key, raw] of Object.entries(props)) {
    if (!isObj(raw)) continue;
    const v = out[key];
    if (Array.isArray(raw.type) && raw.type.includes('number') && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) out[key] = Number(v);
  }
  return out;
}
