import { describe, expect, it } from 'vitest';
import { parseTokens } from './devices';

describe('token files', () => {
  it('reads bare tokens and JSON lines, skips blanks and comments, names what is wrong', () => {
    expect(parseTokens('# devices\nabc\n\n{"name":"d2","token":"def","id":"u-2"}\r\n')).toEqual([
      { name: 'device-1', token: 'abc' },
      { name: 'd2', token: 'def', id: 'u-2' },
    ]);
    expect(() => parseTokens('{"name":"x"}')).toThrow(/tokens line 1: no "token"/);
  });
});
