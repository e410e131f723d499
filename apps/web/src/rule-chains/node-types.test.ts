import { describe, expect, it } from 'vitest';
import { builtinNodes } from '@rivulet/rule-nodes';
import { createNodeRegistry, describeNodeTypes } from '@rivulet/rule-engine';
import { formSchema, fromFormData, humanize, isScriptNode, scriptSignature, toFormData, uiSchemaFor, type NodeTypeDescriptor } from './node-types';

// The real catalog, as GET /api/ruleChain/nodeTypes serves it (the test runs in node, not the browser).
const catalog = describeNodeTypes(createNodeRegistry(builtinNodes)) as NodeTypeDescriptor[];
const byType = (t: string) => catalog.find((n) => n.type === t)!;
type Props = Record<string, Record<string, unknown>>;
const propsOf = (s: Record<string, unknown>) => s.properties as Props;

/** Every construct a plain generated form would show badly: a union selector, a null type, an open map. */
function awkward(s: unknown, path = ''): string[] {
  if (typeof s !== 'object' || s === null) return [];
  const o = s as Record<string, unknown>;
  const found: string[] = [];
  if ('anyOf' in o || 'oneOf' in o) found.push(`${path}: union`);
  if (Array.isArray(o.type)) found.push(`${path}: type list`);
  if (o.type === 'null') found.push(`${path}: null`);
  if ('$schema' in o) found.push(`${path}: $schema`);
  for (const [k, v] of Object.entries(o)) if (typeof v === 'object' && v !== null && k !== 'default' && k !== 'enum') found.push(...awkward(v, `${path}/${k}`));
  return found;
}

describe('node type schema -> form', () => {
  it('turns every node type of the catalog into a form schema without unions, null types or type lists', () => {
    expect(catalog.length).toBeGreaterThanOrEqual(40);
    const problems = catalog.flatMap((n) => awkward(formSchema(n.configSchema)).map((p) => `${n.type}${p}`));
    expect(problems).toEqual([]);
  });

  it('makes ThingsBoard\'s boolean-or-"true"/"false" flags checkboxes and nullable fields plain ones', () => {
    const s = propsOf(formSchema(byType('rivulet.action.createAlarm').configSchema));
    expect(s.dynamicSeverity).toMatchObject({ type: 'boolean', title: 'Dynamic severity' });
    expect(s.relationTypes).toMatchObject({ type: 'array', items: { type: 'string' } });
    expect(s.alarmDetailsBuildTbel).toMatchObject({ type: 'string' });
    expect(s.scriptLang).toMatchObject({ type: 'string', enum: ['JS', 'TBEL', 'MVEL'], default: 'JS' });
  });

  it('turns a union of constants into a choice and drops the open additionalProperties of the root', () => {
    const root = formSchema(byType('rivulet.external.mqttPublish').configSchema);
    expect(root.additionalProperties).toBeUndefined();
    expect(propsOf(root).protocolVersion).toMatchObject({ type: 'number', enum: [3, 4, 5] });
    expect(propsOf(root).credentials).toMatchObject({ type: 'object' });
    // A map of key -> key keeps its value schema, so the form offers adding entries.
    expect(propsOf(formSchema(byType('rivulet.transformation.renameKeys').configSchema)).renameKeysMapping?.additionalProperties).toMatchObject({ type: 'string' });
  });

  it('edits a number-or-pattern field as text and gives numbers back as numbers', () => {
    const schema = byType('rivulet.filter.threshold').configSchema;
    expect(propsOf(formSchema(schema)).value).toMatchObject({ type: 'string', default: '30' });
    expect(toFormData(schema, { key: 'temperature', value: 30 })).toEqual({ key: 'temperature', value: '30' });
    expect(fromFormData(schema, { key: 'temperature', value: '30.5' })).toEqual({ key: 'temperature', value: 30.5 });
    expect(fromFormData(schema, { value: '${limit}' })).toEqual({ value: '${limit}' });
  });

  it('reads "true"/"false" flags of an imported configuration as booleans and drops nulls', () => {
    const schema = byType('rivulet.action.createAlarm').configSchema;
    expect(toFormData(schema, { propagate: 'true', useMessageAlarmData: 'false', alarmDetailsBuildTbel: null, extra: 1 })).toEqual({ propagate: true, useMessageAlarmData: false, extra: 1 });
  });
});

describe('node type -> ui', () => {
  it('gives script nodes a code editor for the chosen language only, with the signature', () => {
    const filter = byType('rivulet.filter.script');
    expect(isScriptNode(filter)).toBe(true);
    const js = uiSchemaFor(filter, { scriptLang: 'JS' });
    expect(js.jsScript).toEqual({ 'ui:widget': 'code', 'ui:options': { signature: 'function Filter(msg, metadata, msgType) {', language: 'JS' } });
    expect(js.tbelScript).toEqual({ 'ui:widget': 'hidden' });
    const tbel = uiSchemaFor(filter, { scriptLang: 'TBEL' });
    expect(tbel.jsScript).toEqual({ 'ui:widget': 'hidden' });
    expect((tbel.tbelScript as Record<string, unknown>)['ui:widget']).toBe('code');
    expect(uiSchemaFor(byType('rivulet.action.createAlarm'), {}).alarmDetailsBuildJs).toMatchObject({ 'ui:options': { signature: 'function Details(msg, metadata, msgType) {' } });
    expect(scriptSignature('rivulet.action.generator', 'jsScript')).toBe('function Generate(prevMsg, prevMetadata, prevMsgType) {');
    expect(isScriptNode(byType('rivulet.filter.threshold'))).toBe(false);
  });

  it('gives lists of keys a tags input, with suggestions for message types and relation types', () => {
    expect(uiSchemaFor(byType('rivulet.transformation.deleteKeys'), {}).keys).toEqual({ 'ui:widget': 'tags', 'ui:options': { suggestions: [] } });
    const types = uiSchemaFor(byType('rivulet.filter.msgTypeFilter'), {}).messageTypes as { 'ui:options': { suggestions: string[] } };
    expect(types['ui:options'].suggestions).toContain('POST_TELEMETRY_REQUEST');
    const rel = uiSchemaFor(byType('rivulet.action.createAlarm'), {}).relationTypes as { 'ui:options': { suggestions: string[] } };
    expect(rel['ui:options'].suggestions).toContain('Contains');
    // Nullable key lists (originator attributes) too.
    expect(uiSchemaFor(byType('rivulet.enrichment.originatorAttributes'), {}).sharedAttributeNames).toMatchObject({ 'ui:widget': 'tags' });
  });

  it("offers the usual severities for the create alarm node's severity, which also takes a pattern", () => {
    expect(uiSchemaFor(byType('rivulet.action.createAlarm'), {}).severity).toMatchObject({ 'ui:widget': 'suggest', 'ui:options': { suggestions: expect.arrayContaining(['CRITICAL', 'WARNING']) } });
  });

  it('keeps a choice with a default from being cleared (clicking the chosen option keeps it)', () => {
    expect(uiSchemaFor(byType('rivulet.filter.threshold'), {}).operator).toEqual({ 'ui:options': { allowDeselect: false } });
  });

  it('labels fields for people', () => {
    expect(humanize('alarmDetailsBuildJs')).toBe('Alarm details build JS');
    expect(humanize('defaultTTL')).toBe('Default TTL');
    expect(humanize('useServerTs')).toBe('Use server ts');
    expect(humanize('scriptLang')).toBe('Script language');
    expect(humanize('caCert')).toBe('CA cert');
  });
});
