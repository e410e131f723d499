import { createMsg } from '@rivulet/core';
import { describe, expect, it } from 'vitest';
import { keyMatcher } from './data';
import { compileExpression } from './expression';
import { processPattern } from './patterns';

describe('expression compiler (math node)', () => {
  const ev = (e: string, vars: Record<string, number> = {}) => compileExpression(e, Object.keys(vars))(Object.values(vars));
  it('follows precedence and associativity', () => {
    expect(ev('1 + 2 * 3')).toBe(7);
    expect(ev('(1 + 2) * 3')).toBe(9);
    expect(ev('2 ^ 3 ^ 2')).toBe(512);
    expect(ev('-2 ^ 2')).toBe(-4);
    expect(ev('10 % 4 - 1')).toBe(1);
    expect(ev('1.5e2 / .5')).toBe(300);
  });
  it('uses variables, constants and functions', () => {
    expect(ev('(x - 32) / 1.8', { x: 212 })).toBe(100);
    expect(ev('sqrt(a^2 + b^2)', { a: 3, b: 4 })).toBe(5);
    expect(ev('max(a, b, 7)', { a: 3, b: 4 })).toBe(7);
    expect(ev('round(pi * 100)')).toBe(314);
    expect(ev('log10(1000) + abs(-1)')).toBe(4);
  });
  it('rejects what is not arithmetic, at compile time', () => {
    expect(() => compileExpression('x + y', ['x'])).toThrow(/Unknown variable 'y'/);
    expect(() => compileExpression('constructor.constructor("return process")()', [])).toThrow(/Unknown|Unexpected/);
    expect(() => compileExpression('x.y', ['x'])).toThrow(/Unexpected character '\.'|Unexpected/);
    expect(() => compileExpression('sin(1, 2)', [])).toThrow(/takes 1/);
    expect(() => compileExpression('(1 + 2', [])).toThrow(/Expected '\)'/);
    expect(() => compileExpression('1 +', [])).toThrow(/end/);
    expect(() => compileExpression('('.repeat(100) + '1' + ')'.repeat(100), [])).toThrow(/nested too deeply/);
    expect(() => compileExpression('', [])).toThrow(/empty/);
  });
});

describe('patterns', () => {
  const msg = createMsg({ type: 'X', originator: { entityType: 'DEVICE', id: 'd' }, tenantId: 't', metadata: { deviceName: 'pump-1' }, data: { a: { b: 5 }, s: 'str' } });
  it('replaces ${metadata} and $[data] and leaves unknown keys', () => {
    expect(processPattern('alarm ${deviceName} $[a.b] $[s] ${nope} $[nope]', msg)).toBe('alarm pump-1 5 str ${nope} $[nope]');
    expect(processPattern('plain', msg)).toBe('plain');
  });
});

describe('key patterns', () => {
  it('match whole keys as regular expressions, or literally when invalid', () => {
    const m = keyMatcher(['temp.*', 'a+b', '[bad']);
    expect(['temperature', 'temp', 'atemp', 'aab', '[bad', 'bad'].filter(m)).toEqual(['temperature', 'temp', 'aab', '[bad']);
  });
});
