import { describe, expect, it } from 'vitest';
import { attributesResponseText, deviceAnswerText, deviceAttributeValue, sharedAttributesUpdate } from './device-answer';
import { JsonDouble } from './json-text';
import { AttributeScope } from './kv';

describe('answers to devices', () => {
  it('a DOUBLE of integral value is a JsonDouble; a LONG, a non-number or an unmarked value stays as it is', () => {
    expect(deviceAttributeValue({ value: 1, double: true })).toEqual(new JsonDouble(1));
    expect(deviceAttributeValue({ value: 1 })).toBe(1);
    expect(deviceAttributeValue({ value: 2.5, double: true })).toEqual(new JsonDouble(2.5));
    expect(deviceAttributeValue({ value: 'x', double: true })).toBe('x');
  });

  it('an attribute answer prints 1.0 when it holds doubles, leaves `doubles` out, and is JSON.stringify text without them', () => {
    expect(attributesResponseText({ client: { a: new JsonDouble(1), b: 2 }, shared: { c: new JsonDouble(-3) }, doubles: true })).toBe('{"client":{"a":1.0,"b":2},"shared":{"c":-3.0}}');
    expect(attributesResponseText({ shared: { c: 3, s: 'x"y' } })).toBe(JSON.stringify({ shared: { c: 3, s: 'x"y' } }));
    expect(attributesResponseText({})).toBe('{}');
    // a JsonDouble without the mark still gives valid JSON (the plain number)
    expect(attributesResponseText({ client: { a: new JsonDouble(1) } })).toBe('{"client":{"a":1}}');
    expect(deviceAnswerText({ id: 1, value: new JsonDouble(4) }, true)).toBe('{"id":1,"value":4.0}');
  });

  it('a shared-attribute update: values by key (doubles marked), deletions under "deleted", nothing: undefined', () => {
    const ev = (values: Array<{ key: string; value: number | string; double?: boolean }>, deleted?: string[]) => ({
      entityId: 'd',
      scope: AttributeScope.SHARED_SCOPE,
      values: values.map((v) => ({ ...v, lastUpdateTs: 1 })),
      ...(deleted ? { deleted } : {}),
    });
    const withDouble = sharedAttributesUpdate(ev([{ key: 'mode', value: 1, double: true }, { key: 'level', value: 2 }]));
    expect(withDouble?.doubles).toBe(true);
    expect(deviceAnswerText(withDouble?.body, withDouble?.doubles)).toBe('{"mode":1.0,"level":2}');
    const plain = sharedAttributesUpdate(ev([{ key: 'level', value: 2 }, { key: 's', value: '1.0' }]));
    expect(plain?.doubles).toBe(false);
    expect(deviceAnswerText(plain?.body, plain?.doubles)).toBe('{"level":2,"s":"1.0"}');
    const deleted = sharedAttributesUpdate(ev([], ['a', 'b']));
    expect(deviceAnswerText(deleted?.body, deleted?.doubles)).toBe('{"deleted":["a","b"]}');
    expect(sharedAttributesUpdate(ev([]))).toBeUndefined();
    expect(sharedAttributesUpdate(ev([], []))).toBeUndefined();
    // a key named __proto__ is a key like any other, in both serializers
    const proto = sharedAttributesUpdate(ev([{ key: '__proto__', value: 1, double: true }]));
    expect(deviceAnswerText(proto?.body, true)).toBe('{"__proto__":1.0}');
    expect(deviceAnswerText(proto?.body, false)).toBe('{"__proto__":1}');
  });
});
